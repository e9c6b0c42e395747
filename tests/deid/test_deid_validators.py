"""Checksums and structural checks."""
import pytest

from portal.deid import validators as v


def test_id_card_from_the_standard_validates():
    assert v.is_id_card("11010519491231002X")


@pytest.mark.parametrize("value", [
    "110105194912310021",  # wrong check character
    "110105194902310027",  # 31 February
    "990105194912310021",  # no such province
    "11010518991231002X",  # born before 1900
])
def test_id_card_rejects(value):
    assert not v.is_id_card(value)


def test_id_check_char_matches_the_standard_example():
    assert v.id_check_char("11010519491231002") == "X"


def test_legacy_id_needs_a_real_date():
    assert v.is_legacy_id_card("110105491231002")
    assert not v.is_legacy_id_card("110105490231002")


def test_uscc_from_the_standard_validates():
    assert v.is_uscc("91110000600037341L")
    assert not v.is_uscc("91110000600037341M")
    assert not v.is_uscc("9111000060003734IL")  # I is not in the alphabet


@pytest.mark.parametrize("number", ["4111111111111111", "6222021234567890128", "5500005555555559"])
def test_luhn_accepts_valid_numbers(number):
    assert v.luhn_ok(number)


def test_luhn_rejects_a_changed_digit_and_non_digits():
    assert not v.luhn_ok("4111111111111112")
    assert not v.luhn_ok("41111111111x1111")
    assert not v.luhn_ok("")


def test_luhn_check_digit_completes_a_payload():
    payload = "622202123456789012"
    assert v.luhn_ok(payload + v.luhn_check_digit(payload))


def test_mobile_prefixes():
    assert v.is_mobile("13812345678")
    assert not v.is_mobile("12812345678")
    assert not v.is_mobile("1381234567")
