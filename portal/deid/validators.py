"""Checksums and structural checks that turn a pattern match into a confident detection.

Each ``is_*`` function takes a canonical value (separators removed, ASCII, upper case) and
answers whether it is a well-formed identifier of its kind. The ``*_check`` helpers compute
check characters so that pseudonyms (see ``fakes``) validate too.
"""
import datetime

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"

#: first two digits of a resident ID: provinces of GB/T 2260, plus 71/81/82/83 (Taiwan,
#: Hong Kong, Macao, and the residence permits of their residents)
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUES = {char: index for index, char in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

_DIGITS = frozenset("0123456789")


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) checksum of a digit string."""
    if not digits or not _DIGITS.issuperset(digits):
        return False
    return luhn_sum(digits) % 10 == 0


def luhn_sum(digits: str) -> int:
    """Luhn sum of *digits*, the last one being the check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position & 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def luhn_check_digit(payload: str) -> str:
    """The digit to append to *payload* so that it passes Luhn."""
    return str((10 - luhn_sum(payload + "0") % 10) % 10)


def real_date(year: int, month: int, day: int) -> bool:
    """True for a calendar date between 1900 and today (no 31 February, no unborn people)."""
    if year < 1900:
        return False
    try:
        return datetime.date(year, month, day) <= datetime.date.today()
    except ValueError:
        return False


def id_check_char(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits of a resident ID."""
    total = sum((ord(char) - 48) * weight for char, weight in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def is_id_card(value: str) -> bool:
    """18-character resident ID: province, real birth date, check character."""
    if len(value) != 18 or not _DIGITS.issuperset(value[:17]):
        return False
    if value[:2] not in PROVINCES:
        return False
    if not real_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    return id_check_char(value[:17]) == value[17]


def is_legacy_id_card(value: str) -> bool:
    """15-digit first-generation ID (born 19yy): province and real birth date, no checksum."""
    if len(value) != 15 or not _DIGITS.issuperset(value) or value[:2] not in PROVINCES:
        return False
    return real_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(USCC_VALUES[char] * weight for char, weight in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(value: str) -> bool:
    """Unified Social Credit Code: alphabet, numeric division code, check character."""
    if len(value) != 18 or not _DIGITS.issuperset(value[2:8]):
        return False
    if any(char not in USCC_VALUES for char in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def is_mobile(value: str) -> bool:
    """Mainland mobile number: 11 digits starting 13–19."""
    return len(value) == 11 and value[0] == "1" and value[1] in "3456789" and value.isdigit()


#: checksums a user policy may attach to a custom regex entity
CHECKSUMS = {
    "luhn": luhn_ok,
    "id_card": is_id_card,
    "uscc": is_uscc,
    "mobile": is_mobile,
}
