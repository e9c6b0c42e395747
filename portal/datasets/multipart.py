"""multipart/form-data streamed into a Writer: part headers parsed, file bytes passed through.

Werkzeug's decoder copies each chunk about five times (into its buffer, slices, out again),
which halves upload speed. Here a chunk is copied once (so its hash may run on another
thread while the reader reuses its buffer), searched for the delimiter, and written; only
a tail shorter than the delimiter is held back, and only part headers are buffered (bounded).
"""
import re
from typing import Callable

from werkzeug.http import parse_options_header

from portal.datasets.uploads import Writer, chunks_of
from portal.errors import Invalid
from portal.i18n import _l

FILE_FIELD = "file"
MAX_HEADERS = 64 * 1024  # preamble and part headers together
MAX_PARTS = 100
_QUOTED_FILENAME = re.compile(r'(?:^|;)\s*filename\s*=\s*"([^"]*)"', re.IGNORECASE)
_EXTENDED_FILENAME = re.compile(r"(?:^|;)\s*filename\*\s*=", re.IGNORECASE)
# RFC 2046 bchars (ASCII); a boundary such as boundary*=UTF-8''%E2%82%AC is not one
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]")


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get("boundary", "")
    if kind != "multipart/form-data" or not _BOUNDARY.fullmatch(boundary):
        raise Invalid(_l("expected multipart/form-data with a boundary"))
    return boundary.encode("ascii")


def _headers(block: bytes) -> tuple[str | None, str | None]:
    """(field name, file name) from a part's header lines."""
    for line in block.split(b"\r\n"):
        name, _, value = line.decode("utf-8", "replace").partition(":")
        if name.strip().lower() == "content-disposition":
            _, options = parse_options_header(value.strip())
            literal = _QUOTED_FILENAME.search(value)
            if literal and not _EXTENDED_FILENAME.search(value):
                # browsers send a backslash as it is (C:\Users\me\t.jsonl); unquoting would drop it
                return options.get("name"), literal.group(1)
            return options.get("name"), options.get("filename")
    raise Invalid(_l("malformed multipart body: a part has no Content-Disposition"))


class _Parser:
    def __init__(self, boundary: bytes, open_writer: Callable[[str], Writer]):
        self.delim = b"\r\n--" + boundary
        self.open_writer = open_writer
        self.pending = bytearray(b"\r\n")  # the body's first boundary has no CRLF before it
        self.state = "preamble"  # preamble | headers | data | end
        self.carry = b""  # data bytes held back: a delimiter may start in them
        self.sink = None  # the writer of the file part being read, None for other parts
        self.writer = None
        self.done = False  # the file part ended with its delimiter
        self.parts = 0

    def feed(self, chunk) -> None:
        if self.state == "data":
            self._data(chunk if isinstance(chunk, bytes) else bytes(chunk))
        elif self.state != "end":
            self.pending += chunk
            self._parse()

    def _emit(self, data) -> None:
        if self.sink is not None and len(data):
            self.sink.write(data)

    def _data(self, data: bytes) -> None:
        delim, size = self.delim, len(self.delim)
        if self.carry and len(data) < size:  # too short to complete a delimiter begun in the carry
            data, self.carry = self.carry + data, b""
        if self.carry:
            joined = self.carry + data[:size - 1]
            at = joined.find(delim)
            if at != -1:
                self._emit(joined[:at])
                self.carry = b""
                return self._ended(joined[at + size:] + data[size - 1:])
            self._emit(self.carry)
            self.carry = b""
        at = data.find(delim)
        if at != -1:
            self._emit(memoryview(data)[:at])
            return self._ended(data[at + size:])
        keep = max(len(data) - size + 1, 0)
        self._emit(memoryview(data)[:keep])
        self.carry = data[keep:]

    def _ended(self, rest: bytes) -> None:
        if self.sink is not None:
            self.sink, self.done = None, True
        self.state, self.pending = "headers", bytearray(rest)
        self._parse()

    def _parse(self) -> None:
        if self.state == "preamble":
            at = self.pending.find(self.delim)
            if at == -1:
                return self._bounded()
            del self.pending[:at + len(self.delim)]
            self.state = "headers"
        if self.pending[:2] == b"--":
            self.state = "end"
            return
        end = self.pending.find(b"\r\n\r\n")
        if end == -1:
            return self._bounded()
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise Invalid(_l("malformed multipart body: more than %(count)s parts", count=MAX_PARTS))
        line_end = self.pending.find(b"\r\n")
        name, filename = _headers(bytes(self.pending[line_end + 2:end]))
        rest = bytes(self.pending[end + 4:])
        self.pending = bytearray()
        if name == FILE_FIELD and filename is not None and self.writer is None:
            self.sink = self.writer = self.open_writer(filename)
        self.state = "data"
        self._data(rest)

    def _bounded(self) -> None:
        if len(self.pending) > MAX_HEADERS:
            raise Invalid(_l("malformed multipart body: no boundary or part headers end within 64 KiB"))


def copy_multipart(stream, content_type: str, expected: int | None,
                   open_writer: Callable[[str], Writer]) -> Writer:
    """Stream the first file of field `file` into the writer `open_writer(filename)` returns.

    Other fields and files are read past and dropped.
    """
    parser = _Parser(boundary_of(content_type), open_writer)
    for chunk in chunks_of(stream, expected):
        parser.feed(chunk)
    if not parser.done:
        if parser.writer is not None:
            raise Invalid(_l("malformed multipart body: it ends inside the file"))
        raise Invalid(_l("the multipart body has no file in field %(field)s", field=repr(FILE_FIELD)))
    return parser.writer
