"""Built-in policies, YAML user policies and their error messages."""
import pytest

from portal.deid.engine import Deidentifier
from portal.deid.entities import VALIDATED
from portal.deid.policies import PolicyError, builtin_policies, parse_policy


def errors_of(yaml_text):
    with pytest.raises(PolicyError) as info:
        parse_policy(yaml_text)
    return info.value.errors


def test_builtins_exist_and_default_tags_validated_kinds():
    policies = builtin_policies()
    assert set(policies) == {"default", "mask", "pseudonymize", "strict"}
    assert set(policies["default"].rules) == set(VALIDATED) | {"PASSPORT", "POSTCODE"}  # cue-confirmed ones
    assert {"PERSON", "PASSPORT", "POSTCODE"} <= set(policies["strict"].rules)
    assert "PERSON" not in policies["default"].rules


@pytest.mark.parametrize("name", ["default", "mask", "pseudonymize", "strict"])
def test_builtin_round_trips_through_yaml(name):
    policy = builtin_policies()[name]
    again = parse_policy(policy.to_yaml())
    assert (again.name, again.rules, again.custom, again.allow, again.uncued) == (
        policy.name, policy.rules, policy.custom, policy.allow, policy.uncued)


def test_unknown_operator_error_has_a_location():
    assert errors_of("entities:\n  PHONE:\n    operator: maskk\n") == [
        "entities.PHONE.operator: unknown operator 'maskk' (choose from tag, mask, redact, hash, pseudonymize, keep)"
    ]


def test_yaml_syntax_error_has_line_and_column():
    (error,) = errors_of("entities:\n  PHONE: [tag\n  EMAIL: tag\n")
    assert error.startswith("line 3, column ")
    assert "YAML syntax error" in error


def test_all_problems_are_reported_at_once():
    errors = errors_of(
        "entitys: {}\nextends: lax\nentities:\n"
        "  PHONE: {operator: mask, keep_frist: 2, char: '**'}\n"
        "  FOO: tag\n"
        "  BAD_RE: {regex: '(', operator: tag}\n"
        "  SUM: {regex: '\\d+', checksum: crc}\n"
        "allow: [[1]]\n"
    )
    assert any(e.startswith("entitys: unknown key") for e in errors)
    assert any(e.startswith("extends: unknown built-in policy 'lax'") for e in errors)
    assert any(e.startswith("entities.PHONE.keep_frist: unknown parameter for operator 'mask'") for e in errors)
    assert "entities.PHONE.char: expected a single character, got '**'" in errors
    assert any(e.startswith("entities.FOO: unknown entity type 'FOO'") for e in errors)
    assert any(e.startswith("entities.BAD_RE.regex: invalid regular expression") for e in errors)
    assert any(e.startswith("entities.SUM.checksum: unknown checksum 'crc'") for e in errors)
    assert "allow[0]: expected a string, got [1]" in errors


def test_policy_must_be_a_mapping():
    assert errors_of("- PHONE") == ["policy: expected a mapping, got list"]


def test_extends_and_disables():
    policy = parse_policy("extends: default\nentities:\n  IP: {enabled: false}\n  PHONE: mask\n")
    assert "IP" not in policy.rules
    assert policy.rules["PHONE"].operator == "mask"
    assert policy.rules["EMAIL"].operator == "tag"


def test_parameters_alone_refine_an_inherited_operator():
    policy = parse_policy("extends: mask\nentities:\n  PHONE: {keep_last: 2}\n")
    assert policy.rules["PHONE"].params == {"keep_first": 3, "keep_last": 2, "char": "*"}


def test_custom_regex_entity_with_checksum():
    policy = parse_policy("entities:\n  EMPLOYEE_NO: {regex: 'EMP-(\\d{16})', checksum: luhn}\n")
    deid = Deidentifier(policy, b"k")
    out = deid.run(["EMP-4111111111111111 EMP-4111111111111112"]).results[0]["text"]
    assert out == "<EMPLOYEE_NO_1> EMP-4111111111111112"


def test_custom_keywords_with_aho_corasick_and_ignore_case():
    policy = parse_policy(
        "entities:\n  CUSTOMER: {keywords: [星河科技, Acme Corp], ignore_case: true, operator: tag}\n"
    )
    result = Deidentifier(policy, b"k").run(["星河科技和ACME corp合作，Acme Corp说 Acme Corporation"])
    assert result.results[0]["text"] == "<CUSTOMER_1>和<CUSTOMER_2>合作，<CUSTOMER_2>说 Acme Corporation"


def test_custom_entity_cannot_take_a_builtin_name_or_mix_sources():
    errors = errors_of("entities:\n  PHONE: {regex: 'x'}\n  MIX: {regex: 'y', keywords: [z]}\n")
    assert any("built-in entity type" in e for e in errors)
    assert "entities.MIX: give either 'regex' or 'keywords', not both" in errors


def test_regex_matching_empty_string_is_refused():
    assert errors_of("entities:\n  EMPTY: {regex: 'a*'}\n") == [
        "entities.EMPTY.regex: the expression matches the empty string"
    ]


def test_allow_list_values_are_never_touched():
    policy = parse_policy("extends: default\nallow: ['13800138000', 10086]\n")
    out = Deidentifier(policy, b"k").run(["13800138000 13812345678"]).results[0]["text"]
    assert out == "13800138000 <PHONE_1>"


def test_to_yaml_keeps_custom_entities_and_allow_list():
    text = "name: mine\nentities:\n  CUSTOMER: {keywords: [甲公司], operator: redact, text: X}\nallow: [a]\n"
    policy = parse_policy(text)
    assert parse_policy(policy.to_yaml()) == policy
