"""Classify one run of digits found by the scanner: phones, IDs, cards, credit codes...

The scanner hands over a maximal digit run ``text[a:b]`` (so nothing is ever cut out of a
longer number). Here it grows into the token around it (letters, ``+86``, ``(010)``, groups
separated by single spaces or dashes) and each reading is checked by its validator; the
first reading that validates wins, otherwise the run is left alone.
"""
import re

from portal.deid import validators as v
from portal.deid.entities import (
    BANK_CARD, ID_CARD, LANDLINE, PASSPORT, PHONE, POSTCODE, UNCUED, USCC, Span,
)

_ALNUM = re.compile(r"[0-9A-Za-z]*")
_DATE = re.compile(r"(?:19|20)[0-9]{2}-[01]?[0-9]-[0-3]?[0-9](?![0-9])(?:[ T][0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9])?)?")
_CHAIN = re.compile(r"[0-9]+(?:(?:[ \-]|\)[ \-]?)[0-9]+){1,5}[Xx]?")
_GROUP = re.compile(r"[0-9]+[Xx]?")
_PASSPORT = re.compile(r"(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E[0-9]{7})")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SEPARATORS = frozenset(" -)")

# Context is read in a short window before the candidate.
_WINDOW = 16


def _cues(*words: str):
    """A search for any of *words* (lower case) in a lower-cased window: with IGNORECASE the
    regex engine would try each word at each position, at five times the cost."""
    assert all(word == word.lower() for word in words)
    return re.compile("|".join(map(re.escape, words))).search


# numbers that pass Luhn by chance one time in ten: what they are is said just before them
_NOT_A_CARD = _cues(
    "订单", "流水", "单号", "运单", "交易号", "编号", "发票", "工单", "票号", "车票", "机票", "快递", "物流", "包裹",
    "批次", "凭证", "合同", "序列号", "order", "serial", "tracking", "txn", "invoice", "ticket", "waybill",
    "receipt", "shipment", "parcel", "booking", "reservation", "reference", "confirmation",
)
_CARD_CUES = _cues("卡号", "银行卡", "信用卡", "储蓄卡", "借记卡", "账号", "card", "account")
_ID_CUES = _cues("身份证", "证件", "身份", "id")
_PASSPORT_CUES = _cues("护照", "passport", "证件")
_POSTCODE_CUES = _cues("邮编", "邮政编码", "postcode", "postal", "zip")


def _cue(text: str, start: int, cues) -> bool:
    return cues(text[max(0, start - _WINDOW):start].lower()) is not None


def _card_prefix_known(digits: str) -> bool:
    """UnionPay 62/60/81, Visa 4, Mastercard 51-55/2221-2720, JCB 35, Discover 6011/644-65,
    and the old domestic debit BINs 9558/9559."""
    head = digits[:4]  # four digits compare as text as they would as numbers
    return (
        digits[0] == "4"
        or digits[:2] in ("62", "60", "81", "35", "65")
        or "5100" <= head <= "5599"
        or "2221" <= head <= "2720"
        or "6440" <= head <= "6499"
        or head in ("9558", "9559")
    )


def _card(text: str, start: int, digits: str) -> bool:
    # Order and serial numbers pass Luhn one time in ten, hence the context rules.
    if not 16 <= len(digits) <= 19 or not v.luhn_ok(digits) or _cue(text, start, _NOT_A_CARD):
        return False
    return _card_prefix_known(digits) or _cue(text, start, _CARD_CUES)


def _area_code(part: str) -> bool:
    """010, 02x, or 0xxx (03xx-09xx)."""
    if len(part) == 3:
        return part == "010" or part[:2] == "02"
    return len(part) == 4 and part[0] == "0" and part[1] in "3456789"


def _eighteen(text: str, start: int, value: str, enabled) -> str | None:
    """The kind of an 18-character value: resident ID, card, or credit code."""
    if v.id_shaped(value):
        # A mistyped ID (bad check character, impossible date) is no card and no credit code.
        return ID_CARD if ID_CARD in enabled and v.id_checks_out(value) else None
    if BANK_CARD in enabled and value.isdigit() and _card(text, start, value):
        return BANK_CARD
    if USCC in enabled and v.is_uscc(value):
        return USCC
    return None


def classify(text: str, a: int, b: int, after: str, enabled) -> tuple[Span | None, int]:
    """Classify the digit run ``text[a:b]``, *after* being ``text[b]`` ("" at the end);
    return the span found (or None) and where scanning should resume."""
    if after in _SEPARATORS and b + 1 < len(text) and "0" <= text[b + 1] <= "9":
        if b - a == 4 and after == "-":
            date = _DATE.match(text, a)
            if date is not None:
                return None, date.end()  # a date (and time) is never an identifier
        span = _chain(text, a, enabled)
        if span is not None:
            return span, span.end
    if after in _LETTERS or (a and text[a - 1] in _LETTERS):
        return _lettered(text, a, b, enabled)
    return bare_run(text, a, b, enabled), b


def _lettered(text: str, a: int, b: int, enabled) -> tuple[Span | None, int]:
    """Digits with ASCII letters around them: an ID ending in X, a credit code, a passport,
    or a number glued to a word (tel13812345678)."""
    start = a
    while start > 0 and text[start - 1] in _LETTERS and a - start < 3:
        start -= 1
    if start > 0 and text[start - 1] in _LETTERS:
        start = a  # glued to a longer word: only the digits can be an entity
    end = _ALNUM.match(text, b).end()
    span = _alnum(text, start, end, enabled)
    # Digits glued to letters on both sides (hashes, codes) or an ID-shaped value that
    # failed its checksum are not re-read as a bare number.
    if span is not None or (start < a and end > b) or (end == b + 1 and text[b] in "Xx"):
        return span, end
    return bare_run(text, a, b, enabled), end


def _chain(text: str, a: int, enabled) -> Span | None:
    """Groups of digits separated by single spaces or dashes: 138 1234 5678, 010-12345678,
    (010)12345678, +86 138-1234-5678, 6222 0212 3456 7890, 110105 19491231 002X.

    When the whole chain fits no layout, its leading groups are tried (a phone followed by
    a space and another number).
    """
    match = _CHAIN.match(text, a)
    if match is None:
        return None
    end = match.end()
    parts = _GROUP.findall(text, a, end)
    span = _layout(text, a, end, parts, enabled)
    if span is None and len(parts) > 2:
        ends = [group.end() for group in _GROUP.finditer(text, a, end)]
        for count in range(len(parts) - 1, 1, -1):
            span = _layout(text, a, ends[count - 1], parts[:count], enabled)
            if span is not None:
                break
    return span


def _layout(text: str, a: int, end: int, parts: list[str], enabled) -> Span | None:
    """The chain of *parts* from *a* to *end* read as a phone, landline, ID or card."""
    lengths = tuple(map(len, parts))
    before = text[a - 1] if a else ""
    joined = "".join(parts)
    if (parts[0] == "86" and before == "+") or parts[0] == "0086":
        rest = joined[len(parts[0]):]
        if PHONE in enabled and lengths[1:] in ((11,), (3, 4, 4)) and v.is_mobile(rest):
            return Span(a - (before == "+"), end, PHONE, rest)
        return None
    if lengths == (3, 4, 4):
        if PHONE in enabled and v.is_mobile(joined):
            return Span(a, end, PHONE, joined)
    if LANDLINE in enabled and _area_code(parts[0]) and len(parts) <= 3:
        number = joined[len(parts[0]):]
        if 7 <= len(number) <= 8 and number[0] != "0" and number.isdigit():
            paren = before == "(" and text[a + len(parts[0])] == ")"
            return Span(a - paren, end, LANDLINE, joined)
    if lengths == (6, 8, 4):
        value = joined.upper()
        if ID_CARD in enabled and v.is_id_card(value):
            return Span(a, end, ID_CARD, value)
    if (
        BANK_CARD in enabled and len(parts) >= 4 and set(lengths[:-1]) == {4}
        and lengths[-1] <= 4 and joined.isdigit() and _card(text, a, joined)
    ):
        return Span(a, end, BANK_CARD, joined)
    return None


def _alnum(text: str, start: int, end: int, enabled) -> Span | None:
    """A token of digits and ASCII letters: ID ending in X, credit code, passport."""
    token = text[start:end]
    if len(token) == 18:
        kind = _eighteen(text, start, token.upper() if token[-1] == "x" else token, enabled)
        if kind is not None and kind != BANK_CARD:
            return Span(start, end, kind, token.upper())
    elif (
        PASSPORT in enabled and 8 <= len(token) <= 9 and _PASSPORT.fullmatch(token)
        and (UNCUED[PASSPORT] in enabled or _cue(text, start, _PASSPORT_CUES))
    ):
        return Span(start, end, PASSPORT, token)
    return None


def bare_run(text: str, a: int, b: int, enabled) -> Span | None:
    """A bare run of digits, bounded by non-digits on both sides."""
    length = b - a
    if length < 6:
        return None
    digits = text[a:b]
    if length == 11:
        # A run is ASCII digits already: of ``v.is_mobile`` only the prefix is left to check.
        if digits[0] == "1" and digits[1] in "3456789" and PHONE in enabled:
            return Span(a, b, PHONE, digits)
        if digits[0] == "0" and LANDLINE in enabled and _contiguous_landline(digits):
            return Span(a, b, LANDLINE, digits)
    elif 16 <= length <= 19:
        kind = _eighteen(text, a, digits, enabled) if length == 18 else (
            BANK_CARD if BANK_CARD in enabled and _card(text, a, digits) else None
        )
        if kind is not None:
            return Span(a, b, kind, digits)
    elif length == 6:
        if POSTCODE in enabled and digits[0] != "9" and (
                UNCUED[POSTCODE] in enabled or _cue(text, a, _POSTCODE_CUES)):
            return Span(a, b, POSTCODE, digits)
    elif length == 12:
        if digits[0] == "0" and LANDLINE in enabled and _contiguous_landline(digits):
            return Span(a, b, LANDLINE, digits)
    elif length == 13:
        if a and text[a - 1] == "+" and digits[:2] == "86" and PHONE in enabled and v.is_mobile(digits[2:]):
            return Span(a - 1, b, PHONE, digits[2:])
    elif length == 15:
        if digits[:4] == "0086" and PHONE in enabled and v.is_mobile(digits[4:]):
            return Span(a, b, PHONE, digits[4:])
        if ID_CARD in enabled and v.is_legacy_id_card(digits) and _cue(text, a, _ID_CUES):
            return Span(a, b, ID_CARD, digits)
    return None


def _contiguous_landline(digits: str) -> bool:
    """0 + area code + 7-8 digit number written without a separator."""
    for size in (3, 4):
        number = digits[size:]
        if _area_code(digits[:size]) and 7 <= len(number) <= 8 and number[0] != "0":
            return True
    return False
