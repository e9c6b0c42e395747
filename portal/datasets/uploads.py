"""Request bodies streamed to disk: never more than a chunk in memory, sha256 on the way.

A `Writer` appends to an upload's part file (in the dataset's folder, so completing it is a
rename on the same filesystem), counts and hashes what it writes, enforces the size limit,
and every few MB asks its `checkpoint` callback whether to go on — that is where progress is
recorded and where a cancelled or swept upload is noticed mid-stream.
"""
import hashlib
import os
import time
from typing import Callable

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

from portal.errors import Invalid, TooLarge

CHUNK = 1 << 20
CHECK_BYTES = 8 << 20  # cancel latency and progress granularity
CHECK_SECONDS = 20.0  # a slow client still counts as alive for the orphan sweep
FILE_FIELD = "file"


class Cancelled(Exception):
    """The upload's row left `receiving` (cancelled, swept, dataset deleted) while it streamed."""


class Disconnected(Exception):
    """The body ended before its Content-Length: the client went away."""


class Writer:
    """Appends to an open file descriptor from `offset`; the caller closes it."""

    def __init__(self, fd: int, *, limit: int, checkpoint: Callable[[int], bool], offset: int = 0,
                 hasher=None):
        self.fd, self.limit, self.checkpoint = fd, limit, checkpoint
        self.total = offset  # bytes in the file, i.e. the resumable offset
        self.hasher = hasher if hasher is not None else hashlib.sha256()
        self._checked_bytes, self._checked_at = offset, time.monotonic()

    def write(self, data) -> None:
        if self.total + len(data) > self.limit:
            raise TooLarge(f"the file is larger than the limit of {self.limit} bytes (PORTAL_MAX_UPLOAD_BYTES)")
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.hasher.update(data)
        self.total += len(data)
        if self.total - self._checked_bytes >= CHECK_BYTES or time.monotonic() - self._checked_at >= CHECK_SECONDS:
            self.check()

    def check(self) -> None:
        self._checked_bytes, self._checked_at = self.total, time.monotonic()
        if not self.checkpoint(self.total):
            raise Cancelled()


def _chunks(stream, expected: int | None):
    """The body in chunks; Disconnected when it ends short of `expected` bytes."""
    got = 0
    while True:
        want = CHUNK if expected is None else min(CHUNK, expected - got)
        if want <= 0:
            return
        try:
            data = stream.read(want)
        except ClientDisconnected:
            raise Disconnected() from None
        except OSError as error:  # a reset connection surfaces as the socket's error
            raise Disconnected() from error
        if not data:
            if expected is not None:
                raise Disconnected()
            return
        got += len(data)
        yield data


def copy_body(stream, writer: Writer, expected: int | None) -> None:
    """A raw body (application/octet-stream, a resumable chunk) into `writer`."""
    for data in _chunks(stream, expected):
        writer.write(data)


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get("boundary", "")
    if kind != "multipart/form-data" or not boundary or len(boundary) > 200:
        raise Invalid("expected multipart/form-data with a boundary")
    return boundary.encode("latin-1")


def copy_multipart(stream, content_type: str, expected: int | None,
                   open_writer: Callable[[str], Writer]) -> Writer:
    """Stream the first file of field `file` into the writer `open_writer(filename)` returns.

    Other fields and files are read past and dropped; the decoder's buffer holds at most a
    chunk, and part headers that never end are refused rather than buffered.
    """
    decoder = MultipartDecoder(boundary_of(content_type), max_form_memory_size=2 * CHUNK + 65536)
    writer, target, done = None, False, False
    chunks = _chunks(stream, expected)
    while True:
        try:
            event = decoder.next_event()
        except (ValueError, RequestEntityTooLarge) as error:
            if done:  # the file is whole; what follows it does not matter
                return writer
            raise Invalid(f"malformed multipart body: {error}") from None
        if isinstance(event, NeedData):
            try:
                decoder.receive_data(next(chunks, None))
            except Disconnected:
                if done:
                    return writer
                raise
            except RequestEntityTooLarge:
                raise Invalid("malformed multipart body: part headers are too large") from None
        elif isinstance(event, File):
            target = event.name == FILE_FIELD and writer is None
            if target:
                writer = open_writer(event.filename)
        elif isinstance(event, Data):
            if target:
                writer.write(event.data)
                if not event.more_data:
                    target, done = False, True
        elif isinstance(event, Epilogue):
            break
    if not done:
        raise Invalid(f"the multipart body has no file in field {FILE_FIELD!r}")
    return writer
