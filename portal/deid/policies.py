"""Policies: which entities to find and what to do with each, built in or written in YAML.

A user policy looks like::

    extends: default                # optional: start from a built-in policy
    entities:
      PHONE: {operator: mask, keep_first: 3, keep_last: 4}
      EMAIL: hash
      IP: {enabled: false}
      EMPLOYEE_NO: {regex: 'EMP-(\\d{16})', checksum: luhn, operator: tag}  # checks group 1
      CUSTOMER: {keywords: [星河科技, Acme Corp], ignore_case: true, operator: pseudonymize}
    allow: ["10086", "support@example.com"]

Passports and postcodes are found when a cue word stands just before them (护照号：, 邮编：);
``PASSPORT: {operator: tag, context: optional}`` finds them without one too, as ``strict`` does.

``parse_policy`` reports every problem at once, each with its location, in ``PolicyError``.
"""
from dataclasses import dataclass, field

import yaml

from portal.deid.entities import BUILTIN, CONTEXTUAL, PASSPORT, POSTCODE, UNCUED, VALIDATED
from portal.deid.schema import CustomEntity, Rule, check_custom, check_rule
from portal.i18n import gettext, marked


class PolicyError(ValueError):
    """A policy that cannot be used; ``errors`` lists each problem with its location."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class Policy:
    """Enabled entity types with their rules, custom entity definitions, and the allow-list."""

    name: str
    rules: dict[str, Rule]
    custom: dict[str, CustomEntity] = field(default_factory=dict)
    allow: tuple[str, ...] = ()
    description: str = ""
    uncued: frozenset = frozenset()  # of UNCUED's kinds, those found without their cue word too

    def to_yaml(self) -> str:
        """The policy in the YAML form ``parse_policy`` reads (fully spelled out)."""
        entities = {}
        for kind, rule in self.rules.items():
            entry = {}
            custom = self.custom.get(kind)
            if custom is not None:
                entry.update({key: value for key, value in (
                    ("regex", custom.regex), ("checksum", custom.checksum),
                    ("keywords", list(custom.keywords) or None),
                    ("ignore_case", custom.ignore_case or None),
                ) if value is not None})
            entry["operator"] = rule.operator
            entry.update(rule.params)
            if kind in self.uncued:
                entry["context"] = "optional"
            entities[kind] = entry
        document = {"name": self.name}
        if self.description:
            document["description"] = self.description
        document["entities"] = entities
        if self.allow:
            document["allow"] = list(self.allow)
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


_MASKS = {
    "PHONE": (3, 4), "LANDLINE": (4, 2), "ID_CARD": (4, 4), "BANK_CARD": (6, 4), "USCC": (2, 4),
    "PLATE": (2, 0), "EMAIL": (1, 0), "IP": (0, 0), "URL": (0, 0), "PASSPORT": (1, 2), "POSTCODE": (0, 0),
}
# what the built-ins find: validated kinds, and passports and postcodes a cue word confirms
_CONFIRMED = VALIDATED + (PASSPORT, POSTCODE)


def builtin_policies() -> dict[str, Policy]:
    """``default`` tags every validator-backed kind and the passports and postcodes a cue word
    confirms; ``mask`` and ``pseudonymize`` treat the same kinds their way; ``strict`` also tags
    person names, and passports and postcodes without a cue word."""
    return {
        "default": Policy("default", {kind: Rule("tag") for kind in _CONFIRMED},
                          description=marked("tag every validator-backed entity")),
        "mask": Policy("mask", {
            kind: Rule("mask", {"keep_first": first, "keep_last": last, "char": "*"})
            for kind, (first, last) in _MASKS.items()
        }, description=marked("mask every validator-backed entity, keeping a few characters")),
        "pseudonymize": Policy("pseudonymize", {kind: Rule("pseudonymize") for kind in _CONFIRMED},
                               description=marked("replace every validator-backed entity by a valid fake")),
        "strict": Policy("strict", {kind: Rule("tag") for kind in VALIDATED + CONTEXTUAL},
                         description=marked("tag everything, including context-only kinds and names"),
                         uncued=frozenset(UNCUED)),
    }


_TOP_KEYS = ("name", "description", "extends", "entities", "allow")


def parse_policy(yaml_text: str) -> Policy:
    """Parse and validate a YAML policy; raise ``PolicyError`` listing every problem."""
    try:
        document = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = gettext("line %(line)s, column %(column)s: ", line=mark.line + 1, column=mark.column + 1) if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([where + gettext("YAML syntax error: %(problem)s", problem=problem)]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PolicyError([gettext("policy: expected a mapping, got %(type)s", type=type(document).__name__)])
    errors = [
        gettext("%(key)s: unknown key (expected one of: %(keys)s)", key=key, keys=", ".join(_TOP_KEYS))
        for key in document if key not in _TOP_KEYS
    ]
    base = _base(document.get("extends"), errors)
    rules, custom, uncued = dict(base.rules), dict(base.custom), set(base.uncued)
    entities = document.get("entities") or {}
    if not isinstance(entities, dict):
        errors.append(gettext("entities: expected a mapping of entity type to operator"))
        entities = {}
    for kind, spec in entities.items():
        _entity(str(kind), spec, rules, custom, uncued, errors)
    allow = _allow(document.get("allow"), errors)
    name = document.get("name", "custom")
    if not isinstance(name, str) or not name:
        errors.append(gettext("name: expected a non-empty string"))
    if errors:
        raise PolicyError(errors)
    return Policy(name, rules, custom, tuple(base.allow) + allow, str(document.get("description", "")),
                  frozenset(uncued & set(rules)))


def _base(extends, errors: list[str]) -> Policy:
    if extends is None:
        return Policy("custom", {})
    builtins = builtin_policies()
    if extends not in builtins:
        errors.append(gettext("extends: unknown built-in policy %(name)s (choose from %(names)s)", name=repr(extends),
                              names=", ".join(builtins)))
        return Policy("custom", {})
    return builtins[extends]


def _entity(kind: str, spec, rules: dict, custom: dict, uncued: set, errors: list[str]) -> None:
    where = f"entities.{kind}"
    if isinstance(spec, str):
        spec = {"operator": spec}
    elif spec is None:
        spec = {}
    if not isinstance(spec, dict):
        errors.append(gettext("%(where)s: expected an operator name or a mapping", where=where))
        return
    spec = dict(spec)
    enabled = spec.pop("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(gettext("%(where)s.enabled: expected true or false", where=where))
    context = spec.pop("context", None)
    if context is not None:
        if kind not in UNCUED:
            errors.append(gettext("%(where)s.context: only %(kinds)s have a context setting", where=where,
                                  kinds=", ".join(UNCUED)))
        elif context not in ("required", "optional"):
            errors.append(gettext("%(where)s.context: expected required or optional, got %(value)s", where=where,
                                  value=repr(context)))
        elif context == "optional":
            uncued.add(kind)
        else:
            uncued.discard(kind)
    is_custom = "regex" in spec or "keywords" in spec
    definition = None
    if is_custom:
        definition = check_custom(where, kind, spec, errors)
    elif kind not in BUILTIN:
        errors.append(gettext("%(where)s: unknown entity type %(kind)s (built-in: %(kinds)s; a custom entity needs "
                              "'regex' or 'keywords')", where=where, kind=repr(kind), kinds=", ".join(BUILTIN)))
        return
    rule = check_rule(where, spec, rules.get(kind), errors)
    if enabled is False:
        rules.pop(kind, None)
        custom.pop(kind, None)
        return
    if rule is not None:
        rules[kind] = rule
        if definition is not None:
            custom[kind] = definition


def _allow(values, errors: list[str]) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        errors.append(gettext("allow: expected a list of values that are never touched"))
        return ()
    allowed = []
    for index, value in enumerate(values):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            allowed.append(str(value))
        else:
            errors.append(gettext("allow[%(index)s]: expected a string, got %(value)s", index=index, value=repr(value)))
    return tuple(allowed)
