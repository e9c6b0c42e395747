"""Streaming request helpers for the live-server tests and benchmarks: bodies from files, in chunks."""
import threading
import time
import uuid
from pathlib import Path

CHUNK = 1 << 20


def file_chunks(path: Path, start: int = 0, stop: int | None = None):
    with open(path, "rb") as handle:
        handle.seek(start)
        left = (stop if stop is not None else path.stat().st_size) - start
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data


def multipart(path: Path, filename: str, field: str = "file"):
    """(content type, length, chunks) of a multipart/form-data body holding the file."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        yield from file_chunks(path)
        yield tail
    return f"multipart/form-data; boundary={boundary}", len(head) + path.stat().st_size + len(tail), chunks()


def send(conn, method: str, path: str, headers: dict, length: int | None, chunks, after=None):
    """Send a request body chunk by chunk; `after(sent)` is called after each chunk."""
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    if length is not None:
        conn.putheader("Content-Length", str(length))
    conn.endheaders()
    sent = 0
    for chunk in chunks:
        conn.send(chunk)
        sent += len(chunk)
        if after is not None and after(sent) is False:
            return sent
    return sent


class RssSampler:
    """Peak RSS of a process, sampled on a thread every few milliseconds."""

    def __init__(self, process, every: float = 0.005):
        self.process, self.every = process, every
        self.baseline = process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:
                return
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline
