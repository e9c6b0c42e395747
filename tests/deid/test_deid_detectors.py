"""Each detector finds its valid samples, and the look-alike traps survive untouched."""
import pytest

from portal.deid.detectors import Scanner
from portal.deid.entities import BUILTIN, PERSON

ALL = Scanner([kind for kind in BUILTIN if kind != PERSON])


def found(text):
    return [(span.type, text[span.start:span.end]) for span in ALL.scan(text)]


@pytest.mark.parametrize("text, kind, value", [
    ("客户手机号 13812345678", "PHONE", "13812345678"),
    ("call 138 1234 5678 now", "PHONE", "138 1234 5678"),
    ("电话138-1234-5678。", "PHONE", "138-1234-5678"),
    ("phone +86 13812345678", "PHONE", "+86 13812345678"),
    ("phone +8613812345678", "PHONE", "+8613812345678"),
    ("phone 0086-138-1234-5678", "PHONE", "0086-138-1234-5678"),
    ("tel13912345678", "PHONE", "13912345678"),
    ("座机010-12345678", "LANDLINE", "010-12345678"),
    ("座机(021)87654321", "LANDLINE", "(021)87654321"),
    ("座机 0755 2345678", "LANDLINE", "0755 2345678"),
    ("身份证11010519491231002X。", "ID_CARD", "11010519491231002X"),
    ("id 11010519491231002x", "ID_CARD", "11010519491231002x"),
    ("身份证 110105 19491231 002X", "ID_CARD", "110105 19491231 002X"),
    ("旧身份证号 110105491231002", "ID_CARD", "110105491231002"),
    ("卡号6222021234567890128", "BANK_CARD", "6222021234567890128"),
    ("Visa 4111 1111 1111 1111 ok", "BANK_CARD", "4111 1111 1111 1111"),
    ("mastercard 5500005555555559", "BANK_CARD", "5500005555555559"),
    ("代码91110000600037341L", "USCC", "91110000600037341L"),
    ("护照号码E12345678", "PASSPORT", "E12345678"),
    ("护照 EA1234567", "PASSPORT", "EA1234567"),
    ("passport G12345678", "PASSPORT", "G12345678"),
    ("护照DE1234567", "PASSPORT", "DE1234567"),
    ("邮编：100080", "POSTCODE", "100080"),
    ("车牌京A12345违停", "PLATE", "京A12345"),
    ("新能源沪AD12345", "PLATE", "沪AD12345"),
    ("大车粤B12345D", "PLATE", "粤B12345D"),
    ("邮箱abc@example.com谢谢", "EMAIL", "abc@example.com"),
    ("mail 13812345678@163.com", "EMAIL", "13812345678@163.com"),
    ("服务器 10.0.0.1 宕机", "IP", "10.0.0.1"),
    ("v6 2001:db8::1 up", "IP", "2001:db8::1"),
    ("link-local fe80::1%", "IP", "fe80::1"),
    ("访问https://example.com/a?b=1，谢谢", "URL", "https://example.com/a?b=1"),
    ("see www.example.com.", "URL", "www.example.com"),
])
def test_detects_valid_sample(text, kind, value):
    assert found(text) == [(kind, value)]


@pytest.mark.parametrize("text", [
    "订单号 6222021234567890128",             # Luhn-valid 19 digits, but an order number
    "流水号：4111111111111111",
    "order no. 5500005555555559",
    "时间戳 1712900000000",                   # millisecond timestamp
    "证件 110105194912310021",                # bad check character
    "号码 110105194902310027",                # 31 February, right check character
    "编码 2013812345678901",                  # phone inside a longer number
    "批次 98613812345678777777",
    "already 613812345678",
    "v1.2.3.4",
    "版本 1.2.3.4",
    "version 10.0.0.1",
    "12:34:56",
    "2024-04-12 08:50:31",
    "pi 3.1415926535",
    "验证码 384756",                           # six digits without a postcode cue
    "E12345678",                              # passport shape without a cue
    "1.13812345678",
    "hash a3f13812345678bc",
    "新A轮融资",
    "ABC13812345678DEF",
])
def test_trap_survives(text):
    assert found(text) == []


def test_full_width_digits_are_detected_with_original_offsets():
    text = "手机１３８１２３４５６７８。"
    (span,) = ALL.scan(text)
    assert (span.type, text[span.start:span.end], span.value) == ("PHONE", "１３８１２３４５６７８", "13812345678")


def test_full_width_email():
    text = "邮箱ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ谢谢"
    assert found(text) == [("EMAIL", "ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ")]


def test_chinese_glued_to_numbers_stays_out():
    assert found("手机13812345678谢谢") == [("PHONE", "13812345678")]


def test_url_wins_over_digits_inside_it():
    assert found("http://x.cn/u/13812345678") == [("URL", "http://x.cn/u/13812345678")]


def test_a_date_before_a_phone_does_not_hide_it():
    assert found("2024-04-12 13812345678") == [("PHONE", "13812345678")]


def test_disabled_kinds_are_not_reported():
    scanner = Scanner(["EMAIL"])
    assert [span.type for span in scanner.scan("13812345678 a@b.cn")] == ["EMAIL"]


def test_canonical_value_drops_separators_and_country_code():
    (span,) = ALL.scan("+86 138-1234-5678")
    assert span.value == "13812345678"


def test_text_without_candidates_has_no_spans():
    assert ALL.scan("今天天气很好，我们去公园散步。Nothing to see here.") == []
