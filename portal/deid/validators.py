"""Checksums and structural checks that turn a pattern match into a confident detection.

Each ``is_*`` function takes a canonical value (separators removed, ASCII, upper case) and
answers whether it is a well-formed identifier of its kind. The ``*_check`` helpers compute
check characters so that pseudonyms (see ``fakes``) validate too.
"""
import datetime
import re

ID_CHECK_CHARS = "10X98765432"

#: first two digits of a resident ID: provinces of GB/T 2260, plus 71/81/82/83 (Taiwan,
#: Hong Kong, Macao, and the residence permits of their residents)
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Alphabet throughout, digits in the division code (characters 3-8).
_USCC_SHAPE = re.compile("[{0}]{{2}}[0-9]{{6}}[{0}]{{10}}".format(USCC_ALPHABET))
# Each character as the base-34 digit of its value (A is 10 ... Y is 30).
_USCC_VALUES = str.maketrans(USCC_ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTU")

_DIGITS = frozenset("0123456789")


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) checksum of a digit string."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    return luhn_sum(digits) % 10 == 0


# Luhn doubles every second digit from the right and adds the digits of the product: the
# table writes each digit as that digit sum (2*7 = 14 -> 5), so that the digits are summed
# as bytes in C instead of one int() call each.
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_sum(digits: str) -> int:
    """Luhn sum of *digits* (ASCII), the last one being the check digit."""
    raw = digits.encode()
    return sum(raw[::-2] + raw[-2::-2].translate(_DOUBLED)) - len(raw) * ord("0")


def luhn_check_digit(payload: str) -> str:
    """The digit to append to *payload* so that it passes Luhn."""
    return str((10 - luhn_sum(payload + "0") % 10) % 10)


# Birth dates after the current year are impossible; the year is enough (and is read once).
_THIS_YEAR = datetime.date.today().year
_THIS_YEAR_TEXT = str(_THIS_YEAR)


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
    """GB 11643-1999 check character for the first 17 digits (ASCII) of a resident ID."""
    # The standard's weights (7, 9, 10, 5, ... 4, 2) are 2**17 ... 2**1 mod 11, and 13 = 2
    # (mod 11): read in base 13, the digits carry 2**16 ... 2**0, so one int() call does the
    # weighted sum.
    return ID_CHECK_CHARS[2 * int(first17, 13) % 11]


# Province, county, year 19xx/20xx, month 01-12, day 01-31, sequence, any check character.
_ID_SHAPE = re.compile(
    r"(?:%s)[0-9]{4}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}."
    % "|".join(sorted(PROVINCES)),
    re.DOTALL,
)


def id_shaped(value: str) -> bool:
    """18 characters laid out like an ID (province, 19xx/20xx date fields), valid or not.

    Such a value with a bad check character or an impossible date is a mistyped ID:
    callers must not read it as a card or a credit code either.
    """
    return _ID_SHAPE.fullmatch(value) is not None


def is_id_card(value: str) -> bool:
    """18-character resident ID: province, real birth date, check character."""
    return id_shaped(value) and id_checks_out(value)


def id_checks_out(value: str) -> bool:
    """The check character and the birth date of an ``id_shaped`` value are right."""
    # The check character first: it is cheaper than the date and rejects more.
    if id_check_char(value[:17]) != value[17]:
        return False
    # The shape has bounded the month and the day, and every month has a 28th: up to that
    # day only the year can be wrong (four digits compare as text as they do as numbers).
    if value[12:14] <= "28":
        return value[6:10] <= _THIS_YEAR_TEXT
    return real_date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def is_legacy_id_card(value: str) -> bool:
    """15-digit first-generation ID (born 19yy): province and real birth date, no checksum."""
    if len(value) != 15 or not _DIGITS.issuperset(value) or value[:2] not in PROVINCES:
        return False
    return real_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a credit code."""
    # The weights are 3**0 ... 3**16 mod 31, and 34 = 3 (mod 31): the values read backwards
    # as a base-34 number carry them, as with ``id_check_char``.
    total = int(first17.translate(_USCC_VALUES)[::-1], 34)
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(value: str) -> bool:
    """Unified Social Credit Code: alphabet, numeric division code, check character."""
    return _USCC_SHAPE.fullmatch(value) is not None and uscc_check_char(value[:17]) == value[17]


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
