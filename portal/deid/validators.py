"""Checksums and structural checks that turn a pattern match into a confident detection.

Each ``is_*`` function takes a canonical value (separators removed, ASCII, upper case) and
answers whether it is a well-formed identifier of its kind. The ``*_check`` helpers compute
check characters so that pseudonyms (see ``fakes``) validate too.
"""
import datetime
import operator

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
_USCC_CHARS = frozenset(USCC_ALPHABET)

_DIGITS = frozenset("0123456789")


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) checksum of a digit string."""
    if not digits or not _DIGITS.issuperset(digits):
        return False
    return luhn_sum(digits) % 10 == 0


# Luhn doubles every second digit from the right; the table holds the digit sum of 2*d.
_DOUBLED = {str(d): (2 * d) % 10 + (2 * d) // 10 for d in range(10)}


def luhn_sum(digits: str) -> int:
    """Luhn sum of *digits*, the last one being the check digit."""
    return sum(map(int, digits[::-2])) + sum(map(_DOUBLED.__getitem__, digits[-2::-2]))


def luhn_check_digit(payload: str) -> str:
    """The digit to append to *payload* so that it passes Luhn."""
    return str((10 - luhn_sum(payload + "0") % 10) % 10)


# Birth dates after the current year are impossible; the year is enough (and is read once).
_THIS_YEAR = datetime.date.today().year


def real_date(year: int, month: int, day: int) -> bool:
    """True for a calendar date from 1900 to this year (no 31 February)."""
    if not 1900 <= year <= _THIS_YEAR:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def id_check_char(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits of a resident ID."""
    return ID_CHECK_CHARS[sum(map(operator.mul, map(int, first17), ID_WEIGHTS)) % 11]


def id_shaped(value: str) -> bool:
    """18 characters laid out like an ID (province, 19xx/20xx date fields), valid or not.

    Such a value with a bad check character or an impossible date is a mistyped ID:
    callers must not read it as a card or a credit code either.
    """
    return (
        len(value) == 18 and _DIGITS.issuperset(value[:17]) and value[:2] in PROVINCES
        and value[6:8] in ("19", "20") and "01" <= value[10:12] <= "12" and "01" <= value[12:14] <= "31"
    )


def is_id_card(value: str) -> bool:
    """18-character resident ID: province, real birth date, check character."""
    return (
        id_shaped(value)
        and real_date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        and id_check_char(value[:17]) == value[17]
    )


def is_legacy_id_card(value: str) -> bool:
    """15-digit first-generation ID (born 19yy): province and real birth date, no checksum."""
    if len(value) != 15 or not _DIGITS.issuperset(value) or value[:2] not in PROVINCES:
        return False
    return real_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(map(operator.mul, map(USCC_VALUES.__getitem__, first17), USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(value: str) -> bool:
    """Unified Social Credit Code: alphabet, numeric division code, check character."""
    if len(value) != 18 or not _DIGITS.issuperset(value[2:8]):
        return False
    if not _USCC_CHARS.issuperset(value):
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
