"""Streaming a run's file, or a folder as a tar, in bounded memory (artifact downloads)."""
import tarfile
from pathlib import Path
from typing import Iterator

CHUNK = 1024 * 1024


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while data := handle.read(CHUNK):
            yield data


def tar_chunks(root: Path, name: str) -> Iterator[bytes]:
    """`root` as a POSIX tar whose top folder is `name`: headers and file bytes as they are read.

    tarfile's own writer would hold a whole file in memory for a streamed target; a file that
    changes while it is read (a checkpoint being saved) keeps the size its header said.
    """
    for path in [root, *sorted(root.rglob("*"))]:
        if path.is_symlink():
            continue
        info = tarfile.TarInfo(str(Path(name) / path.relative_to(root)) if path != root else name)
        stat = path.stat()
        info.mtime, info.mode = int(stat.st_mtime), stat.st_mode & 0o777
        if path.is_dir():
            info.type = tarfile.DIRTYPE
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            continue
        info.size = stat.st_size
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        left = info.size
        with open(path, "rb") as handle:
            while left > 0:
                data = handle.read(min(CHUNK, left)) or b"\0" * min(CHUNK, left)  # shrank: pad to the header
                left -= len(data)
                yield data
        if info.size % tarfile.BLOCKSIZE:
            yield b"\0" * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def stream(path: Path) -> tuple[str, Iterator[bytes]]:
    """("file", its bytes) or ("tar", the folder as a tar)."""
    return ("tar", tar_chunks(path, path.name)) if path.is_dir() else ("file", file_chunks(path))
