"""Reading a run's training output (the append-only `output.log`) by byte offset."""
import os

from portal.runs.models import Run
from portal.supervisor import executors

PAGE = 256 * 1024
TAIL_BLOCK = 64 * 1024


def _utf8_cut(data: bytes) -> int:
    """Length of `data` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


def output_path(run: Run):
    return executors.get(run.executor).log_path(run.folder)


def read(run: Run, offset: int, limit: int = PAGE) -> dict:
    """At most `limit` bytes from `offset`, cut at a character boundary, with the next offset."""
    path = output_path(run)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    offset = max(0, min(offset, size))
    limit = max(1, min(limit, PAGE))
    data = b""
    if offset < size:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
        if offset + len(data) < size:
            data = data[:_utf8_cut(data)]
    next_offset = offset + len(data)
    return {"offset": offset, "next_offset": next_offset, "size": size,
            "data": data.decode("utf-8", errors="replace"),
            "complete": not run.active and next_offset >= size}


def tail(run: Run, lines: int) -> dict:
    """The last `lines` lines (bounded to one page), so a page can open at the end of a huge log."""
    path = output_path(run)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return {"offset": 0, "next_offset": 0, "size": 0, "data": "", "complete": not run.active}
    lines = max(1, min(lines, 5000))
    start = size
    with open(path, "rb") as handle:
        found = 0
        while start > 0 and found <= lines and size - start < PAGE:
            step = min(TAIL_BLOCK, start)
            start -= step
            handle.seek(start)
            found += handle.read(step).count(b"\n")
        handle.seek(start)
        data = handle.read(size - start)
    if start > 0 or data.count(b"\n") > lines:
        kept = data.split(b"\n")
        keep = kept[-(lines + 1):] if data.endswith(b"\n") else kept[-lines:]
        cut = len(data) - len(b"\n".join(keep))
        start, data = start + cut, data[cut:]
    return {"offset": start, "next_offset": size, "size": size, "data": data.decode("utf-8", errors="replace"),
            "complete": not run.active}


def stream(run: Run):
    """The whole output as it is on disk, in blocks, for a download of any size; None if there is none."""
    try:
        handle = open(output_path(run), "rb")
    except FileNotFoundError:
        return None

    def blocks():
        with handle:
            while block := handle.read(PAGE):
                yield block
    return blocks()


def size_on_disk(run: Run) -> int:
    try:
        return os.stat(output_path(run)).st_size
    except FileNotFoundError:
        return 0
