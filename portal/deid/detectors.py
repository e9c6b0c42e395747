"""Find every built-in entity in one pass over the text.

One regex, opening with a single character class so that the regex engine skips to the next
candidate at C speed, stops only where an entity can start: a digit run that is long enough
or continues (see ``_DIGIT_RUN``), a province character before a capital (plates), ``@``,
``://``, ``www.``, and full-width letters or digits (the text is then folded and scanned
again). Each stop is classified once (digit runs in ``numbers``), so a text with none of those
characters costs one C-level scan, and no per-kind regex ever runs over the whole text.
"""
import ipaddress
import re

from portal.deid import numbers
from portal.deid.entities import EMAIL, IP, PLATE, UNCUED, URL, Span
from portal.deid.normalize import fold

PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_FULL_WIDTH = "\uff10-\uff19\uff20-\uff3a\uff41-\uff5a"
# A digit run is a candidate when it is long enough to be an identifier (6+), when something
# that may continue it follows (separator, letter, dot, colon), or after a colon (IPv6);
# a year, a count or an amount is skipped inside the regex engine. (Choosing a narrower
# pattern per text after testing for "://" and "www." measured slower than this one.)
_TRIGGER = re.compile(
    r"[0-9@:w%s%s]" % (PROVINCE_CHARS, _FULL_WIDTH)
    + r"(?:(?<=[0-9])(?:[0-9]{5}|[0-9]{0,4}(?=[ \-).:A-Za-z])|(?<=:[0-9]))[0-9]*"
    + r"|(?<=[%s])(?=[A-HJ-NP-Z])" % PROVINCE_CHARS
    + r"|(?<=@)|(?<=:)(?=//|[0-9A-Fa-f]{1,4}:)|(?<=w)(?=ww\.)"
    + r"|(?<=[%s]))" % _FULL_WIDTH
)
_PLATE = re.compile(
    r"[A-HJ-NP-Z][·• ]?"
    r"(?:[DF][A-HJ-NP-Z0-9][0-9]{4}|[0-9]{5}[DF]|[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警])"
    r"(?![0-9A-Za-z])"
)
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")
# What ``ipaddress.IPv4Address`` accepts (0-255, no leading zero), at a fraction of its cost;
# such an address is already in its canonical spelling.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"(?:%s\.){3}%s" % (_OCTET, _OCTET))
# An IPv6 address in its canonical short form already (lower case, no leading zero, no zero
# group outside the "::", which stands for two groups or more when six or fewer are written):
# ipaddress would give it back unchanged, at ten times the cost.
_HEXTET = "[1-9a-f][0-9a-f]{0,3}"
_IPV6_CANONICAL = re.compile("(?:{0}(?::{0})*)?::(?:{0}(?::{0})*)?".format(_HEXTET))
_HEX_COLON = re.compile(r"[0-9A-Fa-f:]+(?:\.[0-9]+){0,3}")
_CLOCK = re.compile(r"[0-9]{1,2}(?::[0-9]{2}){1,2}(?:\.[0-9]+)?")
_URL_BODY = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![0-9-])")

_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789ABCDEFabcdef:")
_EMAIL_LOCAL = _ALNUM | frozenset("._%+-")
_EMAIL_NEXT = _EMAIL_LOCAL | {"@"}
# Characters that join a digit run to what is around it (a token, a chain of groups, a dotted
# or colon-separated number, an e-mail address). A run with none on either side goes to
# ``bare_run`` at once, which is where the branches below would send it.
_JOINS_AFTER = _EMAIL_NEXT | frozenset(" ):")
_JOINS_BEFORE = _ALNUM | {":"}
_SCHEMES = frozenset(("http", "https", "ftp", "ftps", "ws", "wss"))
_URL_TRAILER = ".,;:!?)'\"]"
_VERSION_CUE = re.compile("版本|version")  # searched in the lower-cased text before it


class Scanner:
    """Detects the enabled built-in kinds; ``scan`` returns sorted, non-overlapping spans."""

    def __init__(self, enabled, uncued=()):
        """*uncued*: of PASSPORT and POSTCODE, those to find without their cue word too."""
        self.enabled = frozenset(enabled)
        self._digit_kinds = (self.enabled - {EMAIL, URL, PLATE, IP}) | {
            UNCUED[kind] for kind in uncued if kind in self.enabled}

    def scan(self, text: str, folded: bool = False) -> list[Span]:
        """Spans of *text*; offsets index the text as given (folding keeps every offset)."""
        spans = []
        pos = floor = 0  # resume scanning at pos; spans may not start before floor
        enabled, digit_kinds = self.enabled, self._digit_kinds
        classify = numbers.classify
        n = len(text)
        for match in _TRIGGER.finditer(text):
            a, b = match.span()
            if a < pos:
                continue
            char = text[a]
            if char <= "9":  # of the trigger characters, only the digits sort this low
                after = text[b] if b < n else ""
                if after not in _JOINS_AFTER and (not a or text[a - 1] not in _JOINS_BEFORE):
                    # Most runs stand alone, and this check is the cheapest.
                    span, pos = numbers.bare_run(text, a, b, digit_kinds), b
                elif after == "." and b + 1 < n and "0" <= text[b + 1] <= "9":
                    span, pos = self._dotted(text, a)
                elif after == ":" or (a and text[a - 1] == ":"):
                    span, pos = self._colon(text, a, b, floor)
                    if span is None and pos == b:
                        span, pos = classify(text, a, b, after, digit_kinds)
                else:
                    span, pos = classify(text, a, b, after, digit_kinds)
                if span is not None and span.end < n and text[span.end] in _EMAIL_NEXT:
                    email = _email_after(text, span.end, floor) if EMAIL in enabled else None
                    if email is not None and email.start <= span.start:
                        span, pos = email, email.end  # 13812345678@163.com is an address
            elif char == "@":
                span = _email_at(text, a, floor) if EMAIL in enabled else None
            elif char == ":" and not text.startswith("//", b):
                # a colon inside hex groups: an IPv6 address that may hold few digits (febf:ffff:…)
                span, pos = self._colon(text, a, b, floor) if IP in enabled else (None, b)
            elif char == ":" or char == "w":
                span = _url_at(text, a, floor, scheme=char == ":") if URL in enabled else None
            elif char in PROVINCE_CHARS:
                span = self._plate(text, a) if PLATE in enabled else None
            elif not folded:
                return self.scan(fold(text), folded=True)
            else:
                continue
            if span is not None:
                spans.append(span)
                pos = floor = max(pos, span.end)
        return spans

    def _plate(self, text: str, at: int) -> Span | None:
        match = _PLATE.match(text, at + 1)
        if match is None:
            return None
        body = match.group()
        if body[1] in "·• ":
            body = body[0] + body[2:]  # the only place a separator may stand
        if len(body) == 6 and sum(map(str.isdigit, body)) < 3:
            return None  # a letter and five capitals is an acronym, not a plate
        return Span(at, match.end(), PLATE, text[at] + body)

    def _dotted(self, text: str, a: int) -> tuple[Span | None, int]:
        """Dotted numbers: an IPv4 address, or a version/decimal left whole and untouched."""
        match = _DOTTED.match(text, a)
        end = match.end()
        address = match.group()
        if IP not in self.enabled or _IPV4.fullmatch(address) is None or (a and text[a - 1] in "vV"):
            return None, end
        if _VERSION_CUE.search(text[max(0, a - 12):a].lower()) is not None:
            return None, end
        return Span(a, end, IP, address), end

    def _colon(self, text: str, a: int, b: int, pos: int) -> tuple[Span | None, int]:
        """An IPv6 address, or a clock time left untouched; ``(None, b)`` when neither."""
        start = a
        while start > pos and text[start - 1] in _HEX and a - start < 40:
            start -= 1
        while start and text[start - 1] in _ALNUM:
            # Glued to a word: "IPv6:17ed:…" (ASCII, or "IPv6：" folded to a colon). The address
            # may begin after one of the colons walked over; without one there is none here.
            colon = text.find(":", start, a + 1)
            if colon < 0:
                return None, b
            start = colon + 1
        if text[start] == ":" and text[start + 1] != ":":
            start += 1  # one colon before an address separates it from a label ("地址:2001::1")
        match = _HEX_COLON.match(text, start)
        candidate = match.group()
        if IP in self.enabled and ("::" in candidate or candidate.count(":") == 7):
            groups = len(candidate.replace(":", " ").split())
            if groups <= 6 and _IPV6_CANONICAL.fullmatch(candidate) is not None:
                return Span(start, match.end(), IP, candidate), match.end()
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


def _url_at(text: str, at: int, floor: int, scheme: bool) -> Span | None:
    """The URL whose ``://`` (or ``www.``) is at *at*."""
    start = at
    if scheme:
        while start > floor and text[start - 1] in _ALNUM:
            start -= 1
        if text[start:at].lower() not in _SCHEMES:
            return None
        body_start = at + 3
    else:
        if start and (text[start - 1] in _ALNUM or text[start - 1] in "/.@"):
            return None
        body_start = at + 4
    body = _URL_BODY.match(text, body_start)
    if body is None:
        return None
    end = body.end()
    while text[end - 1] in _URL_TRAILER:
        end -= 1
    if end <= body_start:
        return None
    return Span(start, end, URL, text[start:end])


def _email_at(text: str, at: int, floor: int) -> Span | None:
    """The e-mail address whose ``@`` is at *at*; its local part is ASCII, so Chinese
    written right before it (邮箱abc@example.com) stays out."""
    start, limit = at, max(floor, at - 64)  # a local part has 64 characters at most
    while start > limit and text[start - 1] in _EMAIL_LOCAL:
        start -= 1
    while start < at and text[start] == ".":
        start += 1
    if start == at:
        return None
    domain = _DOMAIN.match(text, at + 1)
    if domain is None:
        return None
    return Span(start, domain.end(), EMAIL, text[start:domain.end()].lower())


def _email_after(text: str, end: int, floor: int) -> Span | None:
    """The e-mail address that a run of digits ending at *end* opens, if any."""
    at = end
    while at < len(text) and text[at] in _EMAIL_LOCAL and at - end < 64:
        at += 1
    if at < len(text) and text[at] == "@":
        return _email_at(text, at, floor)
    return None
