"""Request bodies streamed to disk: never more than a chunk in memory, sha256 on the way.

A `Writer` appends to an upload's part file (in the dataset's folder, so completing it is a
rename on the same filesystem), counts and hashes what it writes, enforces the size limit,
and every few MB asks its `checkpoint` callback whether to go on — that is where progress is
recorded and where a cancelled or swept upload is noticed mid-stream.

Under gunicorn, a Content-Length body is read from the socket itself (`SocketBody`):
gunicorn's reader receives 8 KiB at a time and copies each piece several times, which caps
an upload near 230 MB/s; reading megabytes at once into reused buffers is several times
faster. Anything unexpected falls back to the WSGI stream.
"""
import hashlib
import io
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Callable

from werkzeug.exceptions import ClientDisconnected

from portal.errors import TooLarge
from portal.i18n import _l

CHUNK = 1 << 20
CHECK_BYTES = 8 << 20  # cancel latency and progress granularity
CHECK_SECONDS = 20.0  # a slow client still counts as alive for the orphan sweep


class Cancelled(Exception):
    """The upload's row left `receiving` (cancelled, swept, dataset deleted) while it streamed."""


class Disconnected(Exception):
    """The body ended before its Content-Length: the client went away."""


@cache
def _hash_pool() -> ThreadPoolExecutor:
    # sha256 releases the GIL, so hashing one chunk overlaps writing and receiving the next
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload-sha256")


class Writer:
    """Appends to an open file descriptor from `offset`; the caller closes it.

    At most one chunk is being hashed while the next is written: a chunk's buffer may be
    reused by the reader two chunks later (SocketBody keeps three).
    """

    def __init__(self, fd: int, *, limit: int, checkpoint: Callable[[int], bool], offset: int = 0,
                 hasher=None):
        self.fd, self.limit, self.checkpoint = fd, limit, checkpoint
        self.total = offset  # bytes in the file, i.e. the resumable offset
        self.hasher = hasher if hasher is not None else hashlib.sha256()
        self._hashing = None
        self._checked_bytes, self._checked_at = offset, time.monotonic()

    def write(self, data) -> None:
        if self.total + len(data) > self.limit:
            raise TooLarge(_l("the file is larger than the limit of %(limit)s bytes (PORTAL_MAX_UPLOAD_BYTES)", limit=self.limit))
        self.settle()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        if len(data) >= 65536:
            self._hashing = _hash_pool().submit(self.hasher.update, data)
        else:
            self.hasher.update(data)
        self.total += len(data)
        if self.total - self._checked_bytes >= CHECK_BYTES or time.monotonic() - self._checked_at >= CHECK_SECONDS:
            self.check()

    def settle(self) -> None:
        """Wait until the hash covers everything written."""
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def hexdigest(self) -> str:
        self.settle()
        return self.hasher.hexdigest()

    def check(self) -> None:
        self._checked_bytes, self._checked_at = self.total, time.monotonic()
        if not self.checkpoint(self.total):
            raise Cancelled()


class SocketBody:
    """A Content-Length body read straight from gunicorn's socket, megabytes at a time.

    The bytes gunicorn read past the headers come first; `reader.length` is kept equal to
    what is still unread, so when a view stops early gunicorn drains the rest as usual.
    """

    def __init__(self, sock, reader, timeout: float):
        self.sock, self.reader, self.timeout = sock, reader, timeout
        unreader = reader.unreader
        buffered = unreader.buf.getvalue()
        self.first = buffered[:reader.length]
        unreader.buf = io.BytesIO()
        unreader.buf.write(buffered[reader.length:])  # a pipelined next request's bytes

    @classmethod
    def of(cls, environ, timeout: float) -> "SocketBody | None":
        body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
        reader = getattr(body, "reader", None)
        unreader = getattr(reader, "unreader", None)
        plain = sock is not None and not isinstance(sock, ssl.SSLSocket)  # TLS sockets take no recv flags
        untouched = isinstance(getattr(body, "buf", None), io.BytesIO) and not body.buf.tell()
        if not (plain and untouched and type(reader).__name__ == "LengthReader"
                and isinstance(getattr(unreader, "buf", None), io.BytesIO)):
            return None
        return cls(sock, reader, timeout)

    def chunks(self):
        reader = self.reader
        if self.first:
            reader.length -= len(self.first)
            yield self.first
        buffers = [memoryview(bytearray(CHUNK)) for _ in range(3)]
        previous = self.sock.gettimeout()
        self.sock.settimeout(self.timeout)  # a client that stalls ends the upload instead of a thread
        try:
            turn = 0
            while reader.length > 0:
                view = buffers[turn % 3][:min(reader.length, CHUNK)]
                turn += 1
                try:
                    got = self.sock.recv_into(view, len(view), socket.MSG_WAITALL)
                except OSError as error:  # reset, or the timeout
                    abandon(self)  # gunicorn would otherwise wait for the rest to drain it
                    raise Disconnected() from error
                if not got:
                    raise Disconnected()
                reader.length -= got
                yield view[:got]
        finally:
            self.sock.settimeout(previous)


def abandon(body) -> None:
    """Read no more of this body: the connection's read side is shut, so gunicorn (which drains
    an unread body before the next request) gets end-of-file at once instead of waiting, holding
    a thread, for a client that stalls."""
    if isinstance(body, SocketBody):
        try:
            body.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def body_of(request):
    """The fastest reader of this request's body: gunicorn's socket, else the WSGI stream."""
    from flask import current_app

    timeout = float(current_app.config["PORTAL"].upload_idle_seconds)  # per read: a stalled client ends
    return SocketBody.of(request.environ, timeout) or request.stream


def chunks_of(stream, expected: int | None):
    """The body in chunks; Disconnected when it ends short of `expected` bytes."""
    if isinstance(stream, SocketBody):
        yield from stream.chunks()
        return
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
    for data in chunks_of(stream, expected):
        writer.write(data)
