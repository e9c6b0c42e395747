"""What happens to a detected value: tag, mask, redact, hash, pseudonymize or keep.

``PARAMETERS`` describes each operator's parameters for policy validation; ``Replacer`` turns
spans into replacements for one request (or one streamed file), so that the same value gets
the same tag, hash and pseudonym everywhere in it.
"""
import hashlib
import hmac
import random

from portal.deid import fakes
from portal.deid.entities import EMAIL, Span

#: operator → {parameter: (kind, default)}; kinds are checked by ``policies``
PARAMETERS = {
    "tag": {},
    "mask": {"keep_first": ("count", 0), "keep_last": ("count", 0), "char": ("char", "*")},
    "redact": {"text": ("text", "")},
    "hash": {"length": ("hash_length", 16)},
    "pseudonymize": {},
    "keep": {},
}
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

    def __init__(self, rules: dict, custom_checksums: dict, secret: bytes, seed: int | None):
        self._rules = rules
        self._checksums = custom_checksums
        self._secret = secret
        self._seed = "" if seed is None else str(seed)
        # (type, value) -> replacement, for the operators whose output depends on nothing
        # else (tag, hash, redact): a value seen again costs one dict lookup.
        self._fixed: dict[tuple[str, str], str] = {}
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[tuple[str, str]] = set()
        self.mapping: dict[str, str] = {}

    def replace(self, span: Span, original: str) -> str:
        key = span[2:]  # (type, value)
        known = self._fixed.get(key)
        if known is not None:
            return known
        rule = self._rules[span.type]
        operator = rule.operator
        if operator == "tag":
            number = self._counters.get(span.type, 0) + 1
            self._counters[span.type] = number
            replacement = self._fixed[key] = f"<{span.type}_{number}>"
        elif operator == "mask":
            return mask(original, span.value, kind=span.type, **rule.params)
        elif operator == "redact":
            replacement = self._fixed[key] = rule.params.get("text", "")
            return replacement
        elif operator == "hash":
            digest = self._digest(f"{span.type}:{span.value}").hex()
            replacement = self._fixed[key] = f"<{span.type}:{digest[:rule.params.get('length', 16)]}>"
            return replacement
        elif operator == "pseudonymize":
            replacement = fakes.reshape(original, span.value, self._pseudonym(span))
        else:
            return original
        self.mapping.setdefault(replacement, original)
        return replacement

    def _digest(self, message: str) -> bytes:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).digest()

    def _pseudonym(self, span: Span) -> str:
        """The canonical fake for a value; every spelling of the value is then reshaped."""
        key = span[2:]  # (type, value)
        known = self._pseudonyms.get(key)
        if known is not None:
            return known
        # A fresh draw on collision keeps the mapping one-to-one (so re-identification is
        # unambiguous) and never hands back the original itself.
        for attempt in range(100):
            seed = self._digest(f"{self._seed}|{span.type}|{span.value}|{attempt}")
            rng = random.Random(int.from_bytes(seed[:8], "big"))
            value = fakes.fake(span.type, span.value, rng)
            checksum = self._checksums.get(span.type)
            if checksum:
                value = fakes.with_checksum(checksum, value, rng)
            if value != span.value and (span.type, value) not in self._taken:
                self._taken.add((span.type, value))
                self._pseudonyms[key] = value
                return value
        raise RuntimeError(f"no free pseudonym for a {span.type} value")
