"""Records out of dataset files, streamed: JSON lines, top-level JSON arrays, CSV, plain text.

Each reader yields records with the line they start on and the byte offset after them, so
the validator can report line numbers and the preview can page by byte offset without
rereading a multi-gigabyte file from its start.
"""
import csv
import io
import re
from pathlib import Path

from portal.i18n import N_, english

BLOCK = 8 << 20
MAX_RECORD = 64 << 20  # one record larger than this is a broken file, not a record
BOM = b"\xef\xbb\xbf"
_TOKENS = re.compile(rb'\\.|["\[\]{},]', re.S)


class BrokenFile(Exception):
    """The file cannot be read further; `line` is where it broke."""

    def __init__(self, line: int, message: dict):
        super().__init__(english(message))
        self.line, self.message = line, message  # an N_() message


def kind_of(path: Path) -> str:
    """jsonl | array | csv | txt | parquet: by suffix, and for .json by its first byte."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".parquet"):
        return suffix[1:]
    with open(path, "rb") as handle:
        head = handle.read(4096).removeprefix(BOM).lstrip()
    return "array" if head.startswith(b"[") else "jsonl"


def line_blocks(handle, offset: int = 0):
    """(lines, first line's byte offset) per block; a line never spans two blocks."""
    handle.seek(offset)
    rest = b""
    while True:
        block = handle.read(BLOCK)
        if not block:
            break
        if offset == 0 and not rest and block.startswith(BOM):
            block, offset = block[len(BOM):], len(BOM)
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if not cut:
            if len(data) > MAX_RECORD:
                raise BrokenFile(0, N_("a line longer than %(mib)s MiB", mib=MAX_RECORD >> 20))
            rest = data
            continue
        rest = data[cut:]
        yield data[:cut - 1].split(b"\n"), offset
        offset += cut
    if rest:
        yield [rest], offset


def array_elements(handle, offset: int = 0, line: int = 1, inside: bool = False):
    """(line, end offset, bytes) per element of a top-level JSON array, `[` to `]`.

    A regex finds only the bytes that change the nesting (quotes, escapes, brackets,
    commas); orjson then parses each element on its own, so a bad element is reported
    and the next one is still read. `inside`: `offset` is just after an element.
    """
    handle.seek(offset)
    buf, base, scan = b"", offset, 0  # buf[0] is at file offset `base`, on line `line`
    depth, in_str, start, ended = (1 if inside else 0), False, (0 if inside else None), False
    counted = 0  # `line` is the line of buf[counted]
    while not ended:
        block = handle.read(BLOCK)
        if base == 0 and not buf and block.startswith(BOM):
            block, base = block[len(BOM):], len(BOM)
        if not block:
            break
        buf += block
        for match in _TOKENS.finditer(buf, scan):
            scan = match.end()
            char = buf[match.start()]
            if in_str:
                in_str = char != 0x22 or scan - match.start() == 2  # an escape stays in the string
            elif char == 0x22:
                in_str = True
            elif char in (0x5B, 0x7B):  # [ {
                depth += 1
                if depth == 1:
                    start = scan
            elif char in (0x5D, 0x7D) or (char == 0x2C and depth == 1):  # ] } ,
                if depth == 1:
                    piece = buf[start:match.start()]
                    if piece.strip() or char == 0x2C:
                        first = start + len(piece) - len(piece.lstrip())
                        line += buf.count(b"\n", counted, first)
                        counted = first
                        yield line, base + match.start(), piece
                    start = scan
                depth -= char != 0x2C
                if depth == 0:
                    ended = True
                    break
        keep = start if start is not None and not ended else scan
        line += buf.count(b"\n", counted, keep)
        buf, base, scan, counted = buf[keep:], base + keep, scan - keep, 0
        start = 0 if start is not None else None
        if len(buf) > MAX_RECORD:
            raise BrokenFile(line, N_("a record longer than %(mib)s MiB", mib=MAX_RECORD >> 20))
    if not ended:
        raise BrokenFile(line, N_("the file ends inside the JSON array (a missing ] or an unclosed string)"))
    trailing = buf[scan:].strip() + handle.read(1024).strip()
    if trailing:
        raise BrokenFile(line, N_("data after the closing ] of the JSON array"))


def csv_rows(path: Path, skip: int = 0):
    """(line, row dict) per CSV row after `skip` rows; UnicodeDecodeError ends it as BrokenFile."""
    with open(path, encoding="utf-8-sig", newline="", errors="strict") as text:
        reader = csv.DictReader(text)
        try:
            for index, row in enumerate(reader):
                if index >= skip:
                    yield reader.line_num, row
        except UnicodeDecodeError as error:
            raise BrokenFile(reader.line_num + 1, N_("invalid UTF-8 (%(reason)s)", reason=error.reason)) from None
        except csv.Error as error:
            raise BrokenFile(reader.line_num, N_("CSV: %(error)s", error=str(error))) from None


def csv_columns(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as text:
        return next(csv.reader(io.StringIO(text.readline())), [])
