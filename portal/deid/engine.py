"""The public entry point: ``Deidentifier(policy, secret).run(texts)``.

Example::

    >>> deid = Deidentifier(builtin_policies()["default"], secret=b"k")
    >>> result = deid.run(["客户手机号 13812345678"], return_mapping=True)
    >>> result.results[0]["text"], result.mapping
    ('客户手机号 <PHONE_1>', {'<PHONE_1>': '13812345678'})
"""
from dataclasses import dataclass

import ahocorasick

from portal.deid import streams
from portal.deid.custom import CustomDetector
from portal.deid.detectors import Scanner
from portal.deid.entities import BUILTIN, PERSON, Span
from portal.deid.operators import Replacer
from portal.deid.policies import Policy


@dataclass
class DeidResult:
    """``results[i]`` is ``{"text", "entities"}`` for ``texts[i]``; ``mapping`` maps each
    reversible replacement (tag, pseudonym) to its original, when it was asked for."""

    results: list[dict]
    mapping: dict[str, str] | None = None


class Session:
    """One request (or one streamed file): tags and pseudonyms are shared across its texts."""

    def __init__(self, deidentifier: "Deidentifier", seed: int | None, replacer: type = Replacer,
                 mapping: bool = True):
        self._detect = deidentifier._detector()
        self.replacer = replacer(deidentifier.policy.rules, deidentifier.checksums, deidentifier.secret, seed,
                                 keep_mapping=mapping)

    @property
    def mapping(self) -> dict[str, str]:
        return self.replacer.mapping

    def apply(self, text: str) -> dict:
        """``{"text": de-identified text, "entities": [...]}`` with offsets into *text*."""
        spans, replacements, result = self.rewrite(text)
        return {"text": result, "entities": [
            {"type": kind, "start": start, "end": end, "replacement": replacement}
            for (start, end, kind, _), replacement in zip(spans, replacements)
        ]}

    def rewrite(self, text: str) -> tuple[list[Span], list[str], str]:
        """The spans of *text*, their replacements and the de-identified text: ``apply``
        without the entity records, which the file path does not need."""
        spans = self._detect(text)
        if not spans:
            return spans, [], text
        fixed, fresh = self.replacer.fixed, self.replacer.fresh
        pieces, replacements, last = [], [], 0
        for start, end, kind, value in spans:
            replacement = fixed[kind].get(value)
            if replacement is None:  # a value seen before costs two dict lookups
                replacement = fresh(kind, value, text[start:end])
            pieces.append(text[last:start])
            pieces.append(replacement)
            replacements.append(replacement)
            last = end
        pieces.append(text[last:])
        return spans, replacements, "".join(pieces)


class Deidentifier:
    """Applies a policy; *secret* keys the ``hash`` operator and the pseudonym generator."""

    def __init__(self, policy: Policy, secret: bytes):
        if not isinstance(secret, bytes) or not secret:
            raise ValueError("secret must be non-empty bytes")
        self.policy = policy
        self.secret = secret
        builtin = [kind for kind in policy.rules if kind in BUILTIN and kind != PERSON]
        self._scanner = Scanner(builtin, policy.uncued)
        self._person = None
        if PERSON in policy.rules:
            from portal.deid.person import PersonDetector  # jieba only for policies that need it

            self._person = PersonDetector()
        custom = {name: entity for name, entity in policy.custom.items() if name in policy.rules}
        self._custom = CustomDetector(custom) if custom else None
        self.checksums = {name: entity.checksum for name, entity in custom.items() if entity.checksum}
        self._allow = frozenset(policy.allow)

    def _detector(self):
        """``detect``, or the scanner's own ``scan`` when the policy has nothing to add to it
        (no names, custom entities or allow-list): one call less per text."""
        if self._person is None and self._custom is None and not self._allow:
            return self._scanner.scan
        return self.detect

    def detect(self, text: str) -> list[Span]:
        """Sorted, non-overlapping spans of *text* that the policy will replace."""
        spans = self._scanner.scan(text)
        if self._person is not None or self._custom is not None:
            extra = []
            if self._custom is not None:
                extra.extend(self._custom.find(text))
            if self._person is not None:
                extra.extend(self._person.find(text))
            if extra:
                spans = _without_overlaps(extra + spans)
        if self._allow:
            spans = [s for s in spans if s.value not in self._allow and text[s.start:s.end] not in self._allow]
        return spans

    def session(self, seed: int | None = None, replacer: type = Replacer, mapping: bool = True) -> Session:
        """A session; *replacer* is ``Replacer`` or a subclass (the file workers' holes);
        *mapping* False leaves ``Session.mapping`` empty."""
        return Session(self, seed, replacer, mapping)

    def run(self, texts: list[str], seed: int | None = None, return_mapping: bool = False) -> DeidResult:
        """De-identify *texts* as one request; same texts, policy, secret and seed → same result."""
        if isinstance(texts, str) or any(not isinstance(text, str) for text in texts):
            raise TypeError("texts must be a list of strings")
        session = self.session(seed, mapping=return_mapping)
        results = list(map(session.apply, texts))
        return DeidResult(results, dict(session.mapping) if return_mapping else None)

    def deidentify_lines(self, in_stream, out_stream, seed: int | None = None) -> dict:
        """De-identify a text file line by line; see ``streams.deidentify_lines``."""
        return streams.deidentify_lines(self.session(seed), in_stream, out_stream)

    def deidentify_jsonl(self, in_stream, out_stream, fields=None, seed: int | None = None) -> dict:
        """De-identify the string fields of a JSONL file; see ``streams.deidentify_jsonl``."""
        return streams.deidentify_jsonl(self.session(seed), in_stream, out_stream, fields)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Earliest first, longest first at one start; a span overlapping a kept one is dropped."""
    kept = []
    end = 0
    for span in sorted(spans, key=lambda s: (s.start, s.start - s.end)):
        if span.start >= end:
            kept.append(span)
            end = span.end
    return kept


def reidentify(texts: list[str], mapping: dict[str, str]) -> list[str]:
    """Put the originals back in place of tags and pseudonyms (longest match first)."""
    mapping = {replacement: original for replacement, original in mapping.items() if replacement}
    if not mapping:  # an empty replacement stands for nothing in the text
        return list(texts)
    automaton = ahocorasick.Automaton()
    for replacement, original in mapping.items():
        automaton.add_word(replacement, (len(replacement), original))
    automaton.make_automaton()
    restored = []
    for text in texts:
        pieces, last = [], 0
        for end, (length, original) in automaton.iter_long(text):
            pieces.append(text[last:end + 1 - length])
            pieces.append(original)
            last = end + 1
        pieces.append(text[last:])
        restored.append("".join(pieces))
    return restored
