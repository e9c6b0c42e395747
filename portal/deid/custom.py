"""User-defined entities: regexes (optionally checksummed) and keyword lists.

All keyword lists of a policy go into one Aho-Corasick automaton (two when some lists ignore
case), so thousands of customer or project names cost one pass over the text.
"""
import re

import ahocorasick

from portal.deid.entities import Span
from portal.deid.validators import CHECKSUMS

_SEPARATORS = re.compile(r"[\s-]")
_ASCII_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
# Folding only ASCII keeps every offset valid (str.lower may change a string's length).
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


class CustomDetector:
    """Finds the custom entities of a policy (``{name: CustomEntity}``)."""

    def __init__(self, custom: dict):
        self._regexes = []
        exact, folded = {}, {}
        for name, entity in custom.items():
            if entity.regex is not None:
                flags = re.IGNORECASE if entity.ignore_case else 0
                check = CHECKSUMS[entity.checksum] if entity.checksum else None
                self._regexes.append((name, re.compile(entity.regex, flags), check))
            for word in entity.keywords:
                if entity.ignore_case:
                    folded[word.translate(_ASCII_LOWER)] = name
                else:
                    exact[word] = name
        self._exact = _automaton(exact)
        self._folded = _automaton(folded)

    def find(self, text: str) -> list[Span]:
        spans = []
        for name, pattern, check in self._regexes:
            for match in pattern.finditer(text):
                value = match.group()
                if not value:
                    continue
                # The checksum reads the first group when there is one (EMP-(\d{16})).
                checked = match.group(1) if pattern.groups else value
                if check is not None and not (checked and check(_SEPARATORS.sub("", checked).upper())):
                    continue
                spans.append(Span(match.start(), match.end(), name, value))
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
