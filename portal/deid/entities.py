"""Entity type names and the span record that detectors hand to the engine."""
from typing import NamedTuple

PHONE = "PHONE"
LANDLINE = "LANDLINE"
ID_CARD = "ID_CARD"
BANK_CARD = "BANK_CARD"
USCC = "USCC"
PASSPORT = "PASSPORT"
POSTCODE = "POSTCODE"
PLATE = "PLATE"
EMAIL = "EMAIL"
IP = "IP"
URL = "URL"
PERSON = "PERSON"

#: kinds confirmed by a checksum or a strict structure: safe to detect by default
VALIDATED = (PHONE, LANDLINE, ID_CARD, BANK_CARD, USCC, PLATE, EMAIL, IP, URL)
#: kinds too ambiguous without a cue word next to them (or, for PERSON, a tagger)
CONTEXTUAL = (PASSPORT, POSTCODE, PERSON)
BUILTIN = VALIDATED + CONTEXTUAL
#: kinds a policy may also want found without their cue word (`context: optional`), and the
#: flag that asks the scanner for that
UNCUED = {PASSPORT: "PASSPORT?", POSTCODE: "POSTCODE?"}


class Span(NamedTuple):
    """A detected entity: offsets into the original text, and its canonical value.

    The canonical value (separators and country code dropped, upper case) is what makes two
    spellings of one phone number get one tag, one hash and one pseudonym.
    """

    start: int
    end: int
    type: str
    value: str
