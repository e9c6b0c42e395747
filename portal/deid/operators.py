"""What happens to a detected value: tag, mask, redact, hash, pseudonymize or keep.

``PARAMETERS`` describes each operator's parameters for policy validation; ``Replacer`` turns
spans into replacements for one request (or one streamed file), so that the same value gets
the same tag, hash and pseudonym everywhere in it.
"""
import hashlib
import hmac
import random

from portal.deid import fakes
from portal.deid.entities import EMAIL

#: operator → {parameter: (kind, default)}; kinds are checked by ``policies``
PARAMETERS = {
    "tag": {},
    "mask": {"keep_first": ("count", 0), "keep_last": ("count", 0), "char": ("char", "*")},
    "redact": {"text": ("text", "")},
    "hash": {"length": ("hash_length", 16)},
    "pseudonymize": {},
    "keep": {},
}
#: operators whose replacement depends on what came before in the document: the tag's number,
#: the pseudonym (a collision draws again) and the mapping's first spelling
ORDERED = frozenset(("tag", "pseudonymize"))


def tag(kind: str, number: int) -> str:
    """The *number*-th tag of *kind*: ``<PHONE_1>``."""
    return f"<{kind}_{number}>"


def mask(original: str, value: str, keep_first: int = 0, keep_last: int = 0, char: str = "*",
         kind: str = "") -> str:
    """Hide the value's letters and digits but the first/last few; separators stay.

    An e-mail keeps its domain (the counts apply to the local part); a ``+86`` prefix is not
    counted, so ``keep_first: 3`` shows the operator prefix of a mobile number.
    """
    if kind == EMAIL and "@" in original:
        local, at, domain = original.rpartition("@")
        return mask(local, local, keep_first, keep_last, char) + at + domain
    slots = [i for i, c in enumerate(original) if c.isalnum()]
    if len(slots) > len(value):
        slots = slots[len(slots) - len(value):]
    hidden = slots[keep_first:max(keep_first, len(slots) - keep_last)]
    chars = list(original)
    for slot in hidden:
        chars[slot] = char
    return "".join(chars)


class Replacer:
    """Replacements for one request: consistent per value, deterministic per seed."""

    def __init__(self, rules: dict, custom_checksums: dict, secret: bytes, seed: int | None,
                 keep_mapping: bool = True):
        self._rules = rules
        self._checksums = custom_checksums
        self._secret = secret
        self._seed = "" if seed is None else str(seed)
        # type -> value -> replacement, for the operators whose output depends on nothing
        # else (tag, hash, redact): a value seen again costs two dict lookups. (Nested, not
        # keyed by (type, value): a tuple per value would be for the garbage collector to
        # walk, again and again, as a big file's values pile up.)
        self.fixed: dict[str, dict[str, str]] = {kind: {} for kind in rules}
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[tuple[str, str]] = set()
        self.mapping: dict[str, str] = {}
        self.keeps_mapping = keep_mapping  # off where nobody reads it (the CLI): a dict insert less per value

    def replace(self, kind: str, value: str, original: str) -> str:
        """The replacement of one occurrence of *value* (canonical) spelled *original*."""
        known = self.fixed[kind].get(value)
        if known is not None:
            return known
        return self.fresh(kind, value, original)

    def fresh(self, kind: str, value: str, original: str, drawn: tuple[str, str] | None = None) -> str:
        """``replace`` for a value that ``fixed`` does not hold (callers look there first).

        *drawn*, for ``pseudonymize``: ``(draw(kind, value, 0), original reshaped to it)``,
        worked out ahead (by a file worker); used when that first draw is the pseudonym.
        """
        rule = self._rules[kind]
        operator = rule.operator
        if operator == "tag":
            number = self._counters[kind] = self._counters.get(kind, 0) + 1
            replacement = self.fixed[kind][value] = tag(kind, number)
        elif operator == "mask":
            return mask(original, value, kind=kind, **rule.params)
        elif operator == "redact":
            replacement = self.fixed[kind][value] = rule.params.get("text", "")
            return replacement
        elif operator == "hash":
            digest = self._digest(f"{kind}:{value}").hex()
            replacement = self.fixed[kind][value] = f"<{kind}:{digest[:rule.params.get('length', 16)]}>"
            return replacement
        elif operator == "pseudonymize":
            fake = self._pseudonym(kind, value, None if drawn is None else drawn[0])
            replacement = drawn[1] if drawn is not None and fake == drawn[0] else fakes.reshape(original, value, fake)
        else:
            return original
        self.note(replacement, original)
        return replacement

    def tags(self, kind: str, values: list[str]) -> tuple[list[str], list[int]]:
        """The tags of *values* (distinct, in document order) of a ``tag`` kind, numbering the
        ones not seen before as ``fresh`` would; and the positions of those in *values*.

        ``fresh`` for a file worker's whole chunk at once: a few C-level passes instead of
        a call per value. The mapping is the caller's (it knows the order across kinds).
        """
        known = self.fixed[kind]
        new = [i for i, value in enumerate(values) if value not in known]
        if new:
            count = self._counters.get(kind, 0)
            self._counters[kind] = count + len(new)
            numbers = range(count + 1, count + 1 + len(new))
            known.update(zip(map(values.__getitem__, new), [tag(kind, number) for number in numbers]))
        return list(map(known.__getitem__, values)), new

    def note(self, replacement: str, original: str) -> None:
        """Record *original* as what *replacement* stands for, unless it stands for one already."""
        if self.keeps_mapping:
            self.mapping.setdefault(replacement, original)

    def _digest(self, message: str) -> bytes:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).digest()

    def draw(self, kind: str, value: str, attempt: int) -> str:
        """The fake for *value* at its *attempt*-th draw: a function of the seed and secret only."""
        seed = self._digest(f"{self._seed}|{kind}|{value}|{attempt}")
        rng = random.Random(int.from_bytes(seed[:8], "big"))
        fake = fakes.fake(kind, value, rng)
        checksum = self._checksums.get(kind)
        return fakes.with_checksum(checksum, fake, rng) if checksum else fake

    def _pseudonym(self, kind: str, value: str, first: str | None = None) -> str:
        """The canonical fake for a value (*first*: its first draw, if known); every spelling
        of the value is then reshaped."""
        key = (kind, value)
        known = self._pseudonyms.get(key)
        if known is not None:
            return known
        # A fresh draw on collision keeps the mapping one-to-one (so re-identification is
        # unambiguous) and never hands back the original itself.
        for attempt in range(100):
            fake = first if attempt == 0 and first is not None else self.draw(kind, value, attempt)
            if fake != value and (kind, fake) not in self._taken:
                self._taken.add((kind, fake))
                self._pseudonyms[key] = fake
                return fake
        raise RuntimeError(f"no free pseudonym for a {kind} value")
