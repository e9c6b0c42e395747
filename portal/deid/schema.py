"""The parts of a policy (``Rule``, ``CustomEntity``) and the checks that build them from YAML.

Every check appends a message that starts with the location of the problem
(``entities.PHONE.operator: unknown operator 'maskk' ...``) and goes on, so that a user sees
all mistakes of a policy at once.
"""
import re
from dataclasses import dataclass, field

from portal.deid.custom import RegexError, compile_regex
from portal.deid.entities import BUILTIN
from portal.deid.operators import PARAMETERS
from portal.deid.validators import CHECKSUMS
from portal.i18n import gettext

_CUSTOM_KEYS = ("regex", "checksum", "keywords", "ignore_case")
_CUSTOM_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


@dataclass(frozen=True)
class Rule:
    """The operator applied to one entity type, with its parameters."""

    operator: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CustomEntity:
    """A user-defined entity: a regex (optionally checksummed) or a keyword list."""

    regex: str | None = None
    checksum: str | None = None
    keywords: tuple[str, ...] = ()
    ignore_case: bool = False


def _param_error(kind: str, value) -> str | None:
    if kind == "count":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else gettext("expected a non-negative integer, got %(value)s", value=repr(value))
    if kind == "char":
        ok = isinstance(value, str) and len(value) == 1
        return None if ok else gettext("expected a single character, got %(value)s", value=repr(value))
    if kind == "hash_length":
        ok = isinstance(value, int) and not isinstance(value, bool) and 4 <= value <= 64
        return None if ok else gettext("expected an integer from 4 to 64, got %(value)s", value=repr(value))
    return None if isinstance(value, str) else gettext("expected a string, got %(value)s", value=repr(value))


def check_rule(where: str, spec: dict, previous: Rule | None, errors: list[str]) -> Rule | None:
    """The rule of an ``entities`` entry; parameters alone refine the inherited operator."""
    operator = spec.get("operator", previous.operator if previous else "tag")
    if operator not in PARAMETERS:
        errors.append(gettext("%(where)s.operator: unknown operator %(name)s (choose from %(names)s)", where=where,
                              name=repr(operator), names=", ".join(PARAMETERS)))
        return None
    allowed = PARAMETERS[operator]
    params = dict(previous.params) if previous and previous.operator == operator else {}
    ok = True
    for key, value in spec.items():
        if key == "operator" or key in _CUSTOM_KEYS:
            continue
        if key not in allowed:
            expected = ", ".join(allowed) or gettext("none")
            errors.append(gettext("%(where)s.%(key)s: unknown parameter for operator '%(operator)s' (expected: "
                                  "%(expected)s)", where=where, key=key, operator=operator, expected=expected))
            ok = False
            continue
        problem = _param_error(allowed[key][0], value)
        if problem:
            errors.append(f"{where}.{key}: {problem}")
            ok = False
        else:
            params[key] = value
    return Rule(operator, params) if ok else None


def check_custom(where: str, kind: str, spec: dict, errors: list[str]) -> CustomEntity | None:
    """The definition of a custom entity (``regex`` or ``keywords``)."""
    count = len(errors)
    if kind in BUILTIN:
        errors.append(gettext("%(where)s: '%(kind)s' is a built-in entity type; give a custom one its own name",
                              where=where, kind=kind))
    elif not _CUSTOM_NAME.fullmatch(kind):
        errors.append(gettext("%(where)s: custom entity names are upper case, like CUSTOMER_NAME", where=where))
    if "regex" in spec and "keywords" in spec:
        errors.append(gettext("%(where)s: give either 'regex' or 'keywords', not both", where=where))
    ignore_case = spec.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        errors.append(gettext("%(where)s.ignore_case: expected true or false", where=where))
    checksum = spec.get("checksum")
    if checksum is not None and checksum not in CHECKSUMS:
        errors.append(gettext("%(where)s.checksum: unknown checksum %(name)s (choose from %(names)s)", where=where,
                              name=repr(checksum), names=", ".join(CHECKSUMS)))
    regex = spec.get("regex")
    keywords = spec.get("keywords")
    if regex is not None:
        _check_regex(f"{where}.regex", regex, errors)
    if keywords is not None:
        if checksum is not None:
            errors.append(gettext("%(where)s.checksum: only a regex entity can have a checksum", where=where))
        if not isinstance(keywords, list) or not keywords:
            errors.append(gettext("%(where)s.keywords: expected a non-empty list of strings", where=where))
        else:
            for index, word in enumerate(keywords):
                if not isinstance(word, str) or not word.strip():
                    errors.append(gettext("%(where)s.keywords[%(index)s]: expected a non-empty string, got %(value)s",
                                          where=where, index=index, value=repr(word)))
    if len(errors) > count:
        return None
    return CustomEntity(regex, checksum, tuple(keywords or ()), ignore_case)


def _check_regex(where: str, regex, errors: list[str]) -> None:
    if not isinstance(regex, str) or not regex:
        errors.append(gettext("%(where)s: expected a regular expression string", where=where))
        return
    try:
        compiled = compile_regex(regex)
    except RegexError as exc:
        errors.append(gettext("%(where)s: invalid regular expression (RE2 syntax: no back-references or "
                              "look-arounds): %(error)s", where=where, error=exc))
        return
    if compiled.fullmatch(""):
        errors.append(gettext("%(where)s: the expression matches the empty string", where=where))
