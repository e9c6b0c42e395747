"""Context words decide what a number is (issue 15.34, 15.35)."""
import pytest

from portal.deid.engine import Deidentifier
from portal.deid.policies import PolicyError, builtin_policies, parse_policy

POLICIES = builtin_policies()
DEFAULT = Deidentifier(POLICIES["default"], b"k")
STRICT = Deidentifier(POLICIES["strict"], b"k")
LUHN_16 = "4111111111111111"  # passes Luhn and has a Visa prefix


def kinds(deidentifier, text):
    return [e["type"] for e in deidentifier.run([text]).results[0]["entities"]]


@pytest.mark.parametrize("text", [
    f"Invoice no. {LUHN_16}", f"Ticket {LUHN_16}", f"waybill: {LUHN_16}", f"Tracking number {LUHN_16}",
    f"receipt #{LUHN_16}", f"发票号码：{LUHN_16}", f"运单号 {LUHN_16}", f"工单{LUHN_16}", f"编号：{LUHN_16}",
    f"车票 {LUHN_16}", f"快递单 {LUHN_16}",
])
def test_numbers_that_say_what_they_are_are_no_bank_cards(text):
    assert kinds(DEFAULT, text) == []


@pytest.mark.parametrize("text", [f"card {LUHN_16}", f"银行卡号：{LUHN_16}", f"pay with {LUHN_16}"])
def test_cards_are_still_cards(text):
    assert kinds(DEFAULT, text) == ["BANK_CARD"]


@pytest.mark.parametrize("text, kind", [("护照号：E85798114", "PASSPORT"), ("passport no. G12345678", "PASSPORT"),
                                        ("邮编：100080", "POSTCODE"), ("postcode 200030", "POSTCODE")])
def test_default_tags_passports_and_postcodes_their_cue_word_confirms(text, kind):
    assert kinds(DEFAULT, text) == [kind]


def test_without_a_cue_only_strict_takes_them():
    text = "编号 E85798114，共 100080 件"
    assert kinds(DEFAULT, text) == []
    assert kinds(STRICT, text) == ["PASSPORT", "POSTCODE"]


def test_a_policy_chooses_whether_the_cue_is_needed():
    policy = parse_policy("extends: default\nentities:\n  POSTCODE: {operator: tag, context: optional}\n")
    assert kinds(Deidentifier(policy, b"k"), "共 100080 件") == ["POSTCODE"]
    back = parse_policy("extends: strict\nentities:\n  POSTCODE: {context: required}\n")
    assert kinds(Deidentifier(back, b"k"), "共 100080 件") == []
    with pytest.raises(PolicyError) as info:
        parse_policy("entities:\n  PHONE: {context: optional}\n  PASSPORT: {context: maybe}\n")
    assert info.value.errors == ["entities.PHONE.context: only PASSPORT, POSTCODE have a context setting",
                                 "entities.PASSPORT.context: expected required or optional, got 'maybe'"]
