"""User-defined entities: regexes (optionally checksummed) and keyword lists.

All keyword lists of a policy go into one Aho-Corasick automaton (two when some lists ignore
case), so thousands of customer or project names cost one pass over the text. Regexes are compiled
with RE2, whose matching time is linear in the text: a policy cannot stall a worker with
catastrophic backtracking (`(a+)+$`). What RE2 cannot express (back-references, look-arounds)
is refused when the policy is saved.
"""
import re

import ahocorasick
import re2

from portal.deid.entities import Span
from portal.deid.normalize import fold
from portal.deid.validators import CHECKSUMS
from portal.i18n import gettext

_SEPARATORS = re.compile(r"[\s-]")
_ASCII_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
# Folding only ASCII keeps every offset valid (str.lower may change a string's length).
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
# RE2 refuses a program larger than this instead of building it (`(x{1000}){1000}`).
_REGEX_MEMORY = 8 << 20
# RE2 reads a repetition count too large to parse as literal text; refuse it like {1001}.
_REPEAT = re.compile(r"(?<!\\)\{([0-9]+)(?:,([0-9]*))?\}")
_MAX_REPEAT = 1000


class RegexError(ValueError):
    """A custom pattern that RE2 cannot compile; the message says why."""


def compile_regex(pattern: str, ignore_case: bool = False):
    """*pattern* compiled with RE2 (linear time), or RegexError."""
    for match in _REPEAT.finditer(pattern):
        if any(count and (len(count) > 4 or int(count) > _MAX_REPEAT) for count in match.groups()):
            raise RegexError(gettext("repetition count %(count)s is above %(max)s", count=match.group(),
                                     max=_MAX_REPEAT))
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.max_mem = _REGEX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "cannot be compiled"
        raise RegexError(reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)) from None


class CustomDetector:
    """Finds the custom entities of a policy (``{name: CustomEntity}``)."""

    def __init__(self, custom: dict):
        self._regexes = []
        exact, folded = {}, {}
        for name, entity in custom.items():
            if entity.regex is not None:
                check = CHECKSUMS[entity.checksum] if entity.checksum else None
                self._regexes.append((name, compile_regex(entity.regex, entity.ignore_case), check))
            for word in entity.keywords:
                if entity.ignore_case:
                    folded[word.translate(_ASCII_LOWER)] = name
                else:
                    exact[word] = name
        self._exact = _automaton(exact)
        self._folded = _automaton(folded)

    def find(self, text: str) -> list[Span]:
        spans = []
        # RE2's \d and \w are ASCII: the folded text (same length) lets them see full-width digits.
        folded = fold(text) if self._regexes else text
        for name, pattern, check in self._regexes:
            for match in pattern.finditer(folded):
                start, end = match.start(), match.end()
                if start == end:
                    continue
                value = text[start:end]
                # The checksum reads the first group when there is one (EMP-(\d{16})).
                checked = match.group(1) if pattern.groups else value
                if check is not None and not (checked and check(_SEPARATORS.sub("", checked).upper())):
                    continue
                spans.append(Span(start, end, name, value))
        if self._exact is not None:
            spans.extend(_keywords(self._exact, text, text))
        if self._folded is not None:
            spans.extend(_keywords(self._folded, text.translate(_ASCII_LOWER), text))
        return spans


def _automaton(words: dict):
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, name in words.items():
        automaton.add_word(word, (name, len(word)))
    automaton.make_automaton()
    return automaton


def _keywords(automaton, haystack: str, text: str) -> list[Span]:
    spans = []
    for last, (name, length) in automaton.iter_long(haystack):
        start, end = last + 1 - length, last + 1
        # An ASCII keyword must not be cut out of a longer word ("Acme" in "Acmes").
        if text[start] in _ASCII_WORD and start and text[start - 1] in _ASCII_WORD:
            continue
        if text[end - 1] in _ASCII_WORD and end < len(text) and text[end] in _ASCII_WORD:
            continue
        spans.append(Span(start, end, name, haystack[start:end]))
    return spans
