"""Pseudonyms: fake values of the same kind that still pass the kind's validator.

``fake(kind, value, rng)`` returns a canonical fake (a fake ID has a real birth date and a
correct check character, a fake card passes Luhn); ``reshape`` then lays it into the
original's spelling, so ``138-1234-5678`` becomes ``159-8765-4321``.
"""
import datetime
import random

from portal.deid import validators as v
from portal.deid.entities import (
    BANK_CARD, EMAIL, ID_CARD, IP, LANDLINE, PERSON, PHONE, PLATE, POSTCODE, URL, USCC,
)

_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 170 171 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 198 199"
).split()
#: real county-level division codes, so a fake ID looks like one from a real place
_DIVISIONS = (
    "110101 110105 120101 130102 310101 310115 320102 330106 370102 420102 "
    "440103 440305 500103 510104 610102 210102 350102 430102 450102 530102"
).split()
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉斌宇浩凯健俊帆帅旭宁晨欣怡思雨子轩博文"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(_DIGITS) for _ in range(count))


def fake_mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + _digits(rng, 8)


def fake_id_card(rng: random.Random, legacy: bool = False) -> str:
    start = datetime.date(1950, 1, 1).toordinal()
    born = datetime.date.fromordinal(rng.randrange(start, start + 55 * 365))
    if legacy:
        return rng.choice(_DIVISIONS) + born.strftime("%y%m%d") + _digits(rng, 3)
    first17 = rng.choice(_DIVISIONS) + born.strftime("%Y%m%d") + _digits(rng, 3)
    return first17 + v.id_check_char(first17)


def fake_card(rng: random.Random, value: str) -> str:
    # The first six digits (the issuer) are kept: a card from a real bank stays plausible.
    payload = value[:6] + _digits(rng, len(value) - 7)
    return payload + v.luhn_check_digit(payload)


def fake_uscc(rng: random.Random) -> str:
    body = rng.choice(("91", "92", "93", "12", "52")) + rng.choice(_DIVISIONS)
    body += "".join(rng.choice(v.USCC_ALPHABET) for _ in range(9))
    return body + v.uscc_check_char(body)


def fake_person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def same_shape(rng: random.Random, value: str, keep: int = 0) -> str:
    """Digits to random digits, letters to random letters; the first *keep* chars kept."""
    out = []
    for char in value[keep:]:
        if char.isdigit():
            out.append(rng.choice(_DIGITS))
        elif "A" <= char <= "Z":
            out.append(rng.choice(_PLATE_LETTERS))
        elif "a" <= char <= "z":
            out.append(rng.choice(_LOWER))
        elif "\u4e00" <= char <= "\u9fff":
            out.append(rng.choice(_GIVEN))
        else:
            out.append(char)
    return value[:keep] + "".join(out)


def fake(kind: str, value: str, rng: random.Random) -> str:
    """A canonical fake for the canonical *value* of *kind* (custom kinds keep the shape)."""
    if kind == PHONE:
        return fake_mobile(rng)
    if kind == LANDLINE:
        area = 3 if value[:3] == "010" or value[:2] == "02" else 4
        return value[:area] + rng.choice("2345678") + _digits(rng, len(value) - area - 1)
    if kind == ID_CARD:
        return fake_id_card(rng, legacy=len(value) == 15)
    if kind == BANK_CARD:
        return fake_card(rng, value)
    if kind == USCC:
        return fake_uscc(rng)
    if kind == POSTCODE:
        return value[:2] + _digits(rng, 4)
    if kind == PLATE:
        return same_shape(rng, value, keep=2)
    if kind == EMAIL:
        return "".join(rng.choice(_LOWER) for _ in range(8)) + "@example.com"
    if kind == IP:
        if ":" in value:
            return "2001:db8::%x:%x" % (rng.randrange(1, 65536), rng.randrange(1, 65536))
        return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    if kind == URL:
        return "https://example.com/" + "".join(rng.choice(_LOWER) for _ in range(8))
    if kind == PERSON:
        return fake_person(rng)
    return same_shape(rng, value, keep=1 if kind == "PASSPORT" else 0)


def with_checksum(name: str, value: str, rng: random.Random) -> str:
    """Make a shape-preserving fake of a custom entity pass its declared checksum."""
    if name == "luhn" and value.isdigit() and len(value) > 1:
        return value[:-1] + v.luhn_check_digit(value[:-1])
    if name == "id_card":
        return fake_id_card(rng)
    if name == "uscc":
        return fake_uscc(rng)
    if name == "mobile":
        return fake_mobile(rng)
    return value


def reshape(original: str, value: str, fake_value: str) -> str:
    """Put *fake_value* where *value*'s characters sit in *original* (separators, prefix)."""
    if len(fake_value) != len(value):
        return fake_value
    slots = [i for i, char in enumerate(original) if char.isalnum()]
    if len(slots) < len(value):
        return fake_value
    chars = list(original)
    for slot, char in zip(slots[len(slots) - len(value):], fake_value):
        chars[slot] = char
    return "".join(chars)
