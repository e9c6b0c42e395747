"""A page of records from a dataset file, by cursor, for the preview in the UI and the API.

The cursor is `<byte offset>:<line>` for JSON lines, text and JSON arrays (a page never
rereads the file from its start), and `<row>:<line>` for CSV.
"""
from pathlib import Path

import orjson

from portal.datasets import readers
from portal.datasets.validate import problem_of
from portal.i18n import english
from portal.errors import Invalid
from portal.i18n import _l, gettext

MAX_PREVIEW_BYTES = 1 << 20  # a longer record is shown cut, as text


def _cursor(raw: str | None) -> tuple[int, int]:
    if not raw:
        return 0, 1
    try:
        offset, line = (int(part) for part in raw.split(":"))
    except ValueError:
        raise Invalid(_l("cursor must be the next_cursor of a previous page")) from None
    if offset < 0 or line < 1:
        raise Invalid(_l("cursor must be the next_cursor of a previous page"))
    return offset, line


def _item(line: int, raw: bytes) -> dict:
    if len(raw) > MAX_PREVIEW_BYTES:
        return {"line": line, "record": None, "raw": raw[:2000].decode("utf-8", "replace"),
                "error": "record too long to preview"}
    try:
        return {"line": line, "record": orjson.loads(raw), "raw": None, "error": None}
    except orjson.JSONDecodeError:
        return {"line": line, "record": None, "raw": raw[:2000].decode("utf-8", "replace"), "error": english(problem_of(raw))}


def _lines(path: Path, offset: int, line: int, limit: int, text: bool):
    items = []
    with open(path, "rb") as handle:
        handle.seek(offset)
        if offset == 0 and handle.read(3) != readers.BOM:
            handle.seek(0)
        while len(items) < limit:
            raw = handle.readline(MAX_PREVIEW_BYTES + 1)
            if not raw:
                return items, None
            while len(raw) > MAX_PREVIEW_BYTES and not raw.endswith(b"\n") and handle.readline(MAX_PREVIEW_BYTES):
                pass  # skip the rest of an overlong line
            body = raw.rstrip(b"\r\n")
            if body.strip():
                if text:
                    items.append({"line": line, "record": {"text": body.decode("utf-8", "replace")},
                                  "raw": None, "error": None})
                else:
                    items.append(_item(line, body))
            line += 1
        return items, f"{handle.tell()}:{line}"


def _array(path: Path, offset: int, line: int, limit: int):
    items, end, next_line = [], None, line
    with open(path, "rb") as handle:
        elements = readers.array_elements(handle, offset, line, inside=offset > 0)
        try:
            for at, end, piece in elements:
                items.append(_item(at, piece))
                next_line = at + piece.lstrip().count(b"\n")
                if len(items) == limit:
                    break
        except readers.BrokenFile as broken:
            items.append({"line": broken.line, "record": None, "raw": None, "error": english(broken.message)})
            return items, None
        if end is None or len(items) < limit:
            return items, None
        handle.seek(end)
        if handle.read(1) != b",":
            return items, None
        return items, f"{end + 1}:{next_line}"


def _csv(path: Path, row: int, limit: int):
    items = []
    try:
        for line, record in readers.csv_rows(path, skip=row):
            items.append({"line": line, "record": record, "raw": None, "error": None})
            if len(items) == limit:
                return items, f"{row + limit}:{line + 1}"
    except readers.BrokenFile as broken:
        items.append({"line": broken.line, "record": None, "raw": None, "error": english(broken.message)})
    return items, None


def page(path: Path, cursor: str | None, limit: int) -> dict:
    """{"items": [{line, record, raw, error}], "next_cursor": str | None}"""
    offset, line = _cursor(cursor)
    kind = readers.kind_of(path)
    if kind == "parquet":
        return {"items": [], "next_cursor": None, "note": gettext("parquet files have no preview")}
    if kind == "csv":
        items, nxt = _csv(path, offset, limit)
    elif kind == "array":
        items, nxt = _array(path, offset, line, limit)
    else:
        items, nxt = _lines(path, offset, line, limit, text=kind == "txt")
    return {"items": items, "next_cursor": nxt, "note": None}
