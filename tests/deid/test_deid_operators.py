"""Each operator, through a one-entity policy."""
import re

from portal.deid import validators as v
from portal.deid.engine import Deidentifier
from portal.deid.operators import mask
from portal.deid.policies import parse_policy

SECRET = b"test-secret"


def deid(yaml_text):
    return Deidentifier(parse_policy(yaml_text), SECRET)


def test_tag_numbers_values_per_type_and_reuses_tags():
    result = deid("entities: {PHONE: tag, EMAIL: tag}").run(
        ["13812345678 a@b.cn 13912345678", "again 138 1234 5678"], return_mapping=True
    )
    assert result.results[0]["text"] == "<PHONE_1> <EMAIL_1> <PHONE_2>"
    assert result.results[1]["text"] == "again <PHONE_1>"
    assert result.mapping == {"<PHONE_1>": "13812345678", "<EMAIL_1>": "a@b.cn", "<PHONE_2>": "13912345678"}


def test_mask_keeps_first_and_last():
    text = deid("entities: {PHONE: {operator: mask, keep_first: 3, keep_last: 4}}").run(["13812345678"])
    assert text.results[0]["text"] == "138****5678"


def test_mask_char_and_separators():
    assert mask("138-1234-5678", "13812345678", 3, 4, "#") == "138-####-5678"


def test_mask_skips_the_country_code_and_keeps_an_email_domain():
    assert mask("+86 13812345678", "13812345678", 3, 4) == "+86 138****5678"
    assert mask("alice@example.com", "alice@example.com", 1, 0, kind="EMAIL") == "a****@example.com"


def test_redact_removes_or_writes_the_given_text():
    assert deid("entities: {PHONE: redact}").run(["call 13812345678"]).results[0]["text"] == "call "
    policy = "entities: {PHONE: {operator: redact, text: '[removed]'}}"
    assert deid(policy).run(["call 13812345678"]).results[0]["text"] == "call [removed]"


def test_hash_is_stable_keyed_and_not_in_the_mapping():
    policy = "entities: {PHONE: {operator: hash, length: 12}}"
    first = deid(policy).run(["13812345678"], return_mapping=True)
    second = deid(policy).run(["13812345678"])
    other_key = Deidentifier(parse_policy(policy), b"other").run(["13812345678"])
    assert re.fullmatch(r"<PHONE:[0-9a-f]{12}>", first.results[0]["text"])
    assert first.results[0]["text"] == second.results[0]["text"] != other_key.results[0]["text"]
    assert first.mapping == {}


def test_keep_reports_but_does_not_change():
    result = deid("entities: {PHONE: keep}").run(["13812345678"])
    assert result.results[0]["text"] == "13812345678"
    assert result.results[0]["entities"][0]["replacement"] == "13812345678"


def test_pseudonyms_validate_and_keep_the_layout():
    policy = "entities: {PHONE: pseudonymize, ID_CARD: pseudonymize, BANK_CARD: pseudonymize, USCC: pseudonymize}"
    text = "138-1234-5678 11010519491231002X 6222021234567890128 91110000600037341L"
    out = deid(policy).run([text], seed=3).results[0]["text"]
    phone, id_card, card, uscc = out.split()
    assert re.fullmatch(r"1[3-9]\d-\d{4}-\d{4}", phone) and phone != "138-1234-5678"
    assert v.is_id_card(id_card) and id_card != "11010519491231002X"
    assert v.luhn_ok(card) and card.startswith("622202") and len(card) == 19
    assert v.is_uscc(uscc)


def test_pseudonyms_are_deterministic_per_seed():
    policy = deid("entities: {PHONE: pseudonymize}")
    one = policy.run(["13812345678"], seed=1).results[0]["text"]
    assert policy.run(["13812345678"], seed=1).results[0]["text"] == one
    assert policy.run(["13812345678"], seed=2).results[0]["text"] != one


def test_pseudonym_is_shared_by_spellings_of_one_value():
    result = deid("entities: {PHONE: pseudonymize}").run(["13812345678 / 138 1234 5678"], seed=1)
    first, second = result.results[0]["text"].split(" / ")
    assert first == second.replace(" ", "")
