"""Pieces of an original text and of its de-identified result, for showing entities in colour."""
from collections import Counter
from typing import NamedTuple


class Piece(NamedTuple):
    text: str
    type: str | None  # None for plain text


class Highlighted(NamedTuple):
    original: list[Piece]
    result: list[Piece]
    counts: list[tuple[str, int]]  # entity type → count, most frequent first


def highlight(text: str, entities: list[dict]) -> Highlighted:
    """Split `text` at the entities' offsets (code points, as the engine gives them); the
    result is rebuilt from the same walk, so each replacement lines up with its original."""
    original, result, last = [], [], 0
    for entity in entities:
        start, end, kind = entity["start"], entity["end"], entity["type"]
        if start > last:
            plain = Piece(text[last:start], None)
            original.append(plain)
            result.append(plain)
        original.append(Piece(text[start:end], kind))
        result.append(Piece(entity["replacement"], kind))
        last = end
    if last < len(text):
        original.append(Piece(text[last:], None))
        result.append(Piece(text[last:], None))
    counts = Counter(entity["type"] for entity in entities).most_common()
    return Highlighted(original, result, counts)
