"""Find every built-in entity in one pass over the text.

One character-class regex visits only the places where an entity can start (digit runs and
the province characters of plates); ``@``, ``://`` and ``www.`` are located with
``str.find``. Each candidate is then classified once (see ``numbers``), so a text with none of
those characters costs a few C-level scans, and there is no per-kind regex over the text.
"""
import ipaddress
import re

from portal.deid import numbers
from portal.deid.entities import EMAIL, IP, PLATE, URL, Span
from portal.deid.normalize import fold

PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_DIGIT_TRIGGER = re.compile(r"[0-9]+")
_PLATE_TRIGGER = re.compile(r"[0-9%s][0-9]*" % PROVINCE_CHARS)
_PLATE = re.compile(
    r"[A-HJ-NP-Z][·• ]?"
    r"(?:[DF][A-HJ-NP-Z0-9][0-9]{4}|[0-9]{5}[DF]|[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警])"
    r"(?![0-9A-Za-z])"
)
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_HEX_COLON = re.compile(r"[0-9A-Fa-f:]+(?:\.[0-9]+){0,3}")
_CLOCK = re.compile(r"[0-9]{1,2}(?::[0-9]{2}){1,2}(?:\.[0-9]+)?")
_URL_BODY = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![0-9-])")

_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789ABCDEFabcdef:")
_EMAIL_LOCAL = _ALNUM | frozenset("._%+-")
_SCHEMES = frozenset(("http", "https", "ftp", "ftps", "ws", "wss"))
_URL_TRAILER = ".,;:!?)'\"]"
# A short run followed by none of these can be nothing but a count, a year, an amount.
_CONTINUES = _ALNUM | frozenset(" -).:")
_VERSION_CUES = ("版本", "version")


class Scanner:
    """Detects the enabled built-in kinds; ``scan`` returns sorted, non-overlapping spans."""

    def __init__(self, enabled):
        self.enabled = frozenset(enabled)
        self._trigger = _PLATE_TRIGGER if PLATE in self.enabled else _DIGIT_TRIGGER
        self._digit_kinds = self.enabled - {EMAIL, URL, PLATE, IP}

    def scan(self, original: str) -> list[Span]:
        text = fold(original)
        wide = self._wide(text)
        spans = []
        pos = 0
        next_wide = 0
        classify = numbers.classify
        n = len(text)
        for match in self._trigger.finditer(text):
            a = match.start()
            if a < pos:
                continue
            while next_wide < len(wide) and wide[next_wide].start <= a:
                if wide[next_wide].start >= pos:
                    spans.append(wide[next_wide])
                    pos = wide[next_wide].end
                next_wide += 1
            if a < pos:
                continue
            b = match.end()
            if a == b - 1 and text[a] in PROVINCE_CHARS:
                span, resume = self._plate(text, a), a + 1
            else:
                after = text[b] if b < n else ""
                if after == "." and b + 1 < n and text[b + 1].isdigit():
                    span, resume = self._dotted(text, a)
                elif after == ":" or (a and text[a - 1] == ":"):
                    span, resume = self._colon(text, a, b, pos)
                    if span is None and resume == b:
                        span, resume = classify(text, a, b, self._digit_kinds)
                elif b - a < 6 and after not in _CONTINUES:
                    continue
                else:
                    span, resume = classify(text, a, b, self._digit_kinds)
            if span is not None:
                if next_wide < len(wide) and span.end > wide[next_wide].start:
                    continue  # an e-mail or URL around these digits wins
                spans.append(span)
            pos = resume
        spans.extend(span for span in wide[next_wide:] if span.start >= pos)
        return spans

    def _plate(self, text: str, at: int) -> Span | None:
        match = _PLATE.match(text, at + 1)
        if match is None:
            return None
        body = match.group().replace("·", "").replace("•", "").replace(" ", "")
        if len(body) == 6 and sum(char.isdigit() for char in body) < 3:
            return None  # a letter and five capitals is an acronym, not a plate
        return Span(at, match.end(), PLATE, text[at] + body)

    def _dotted(self, text: str, a: int) -> tuple[Span | None, int]:
        """Dotted numbers: an IPv4 address, or a version/decimal left whole and untouched."""
        match = _DOTTED.match(text, a)
        end = match.end()
        if IP not in self.enabled or match.group().count(".") != 3:
            return None, end
        if a and text[a - 1] in "vV":
            return None, end
        window = text[max(0, a - 12):a].lower()
        if any(cue in window for cue in _VERSION_CUES):
            return None, end
        try:
            address = ipaddress.IPv4Address(match.group())
        except ValueError:
            return None, end
        return Span(a, end, IP, str(address)), end

    def _colon(self, text: str, a: int, b: int, pos: int) -> tuple[Span | None, int]:
        """An IPv6 address, or a clock time left untouched; ``(None, b)`` when neither."""
        start = a
        while start > pos and text[start - 1] in _HEX and a - start < 40:
            start -= 1
        if start and text[start - 1] in _ALNUM:
            return None, b
        match = _HEX_COLON.match(text, start)
        candidate = match.group()
        if IP in self.enabled and ("::" in candidate or candidate.count(":") == 7):
            try:
                address = ipaddress.IPv6Address(candidate)
            except ValueError:
                pass
            else:
                return Span(start, match.end(), IP, address.compressed), match.end()
        clock = _CLOCK.match(text, a)
        if clock is not None and a == start:
            return None, clock.end()
        return None, b

    def _wide(self, text: str) -> list[Span]:
        """URLs, then e-mails outside them: the spans that may contain digit runs."""
        spans = []
        if URL in self.enabled:
            spans.extend(_urls(text))
        if EMAIL in self.enabled and "@" in text:
            covered = list(spans)
            spans.extend(
                span for span in _emails(text)
                if not any(url.start <= span.start < url.end for url in covered)
            )
            spans.sort()
        return spans


def _urls(text: str) -> list[Span]:
    spans = []
    for marker, scheme in (("://", True), ("www.", False)):
        at = text.find(marker)
        while at >= 0:
            start = at
            if scheme:
                while start and text[start - 1] in _ALNUM:
                    start -= 1
                ok = text[start:at].lower() in _SCHEMES
            else:
                ok = not (start and text[start - 1] in _ALNUM or text[start - 1:start] in ("/", "."))
            body = _URL_BODY.match(text, at + len(marker)) if ok else None
            if body is not None:
                end = body.end()
                while text[end - 1] in _URL_TRAILER:
                    end -= 1
                if end > at + len(marker):
                    spans.append(Span(start, end, URL, text[start:end]))
            at = text.find(marker, max(at + 1, spans[-1].end if spans else 0))
    spans.sort()
    return [span for i, span in enumerate(spans) if i == 0 or span.start >= spans[i - 1].end]


def _emails(text: str) -> list[Span]:
    spans = []
    at = text.find("@")
    while at >= 0:
        start = at
        while start and text[start - 1] in _EMAIL_LOCAL and at - start < 64:
            start -= 1
        while start < at and text[start] == ".":
            start += 1
        domain = _DOMAIN.match(text, at + 1) if start < at else None
        if domain is not None:
            spans.append(Span(start, domain.end(), EMAIL, text[start:domain.end()].lower()))
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)
    return spans
