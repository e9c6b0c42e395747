"""Safe paths under a root: no user-given path may leave its root, links included; and room
on a disk: what would fill it is refused up front, and a disk that fills anyway is named."""
import errno
import shutil
from pathlib import Path

from portal.errors import InsufficientStorage, Invalid
from portal.i18n import _l

_FULL = (errno.ENOSPC, errno.EDQUOT)


def resolve_under(root: Path, user_path: str, what: str = "path") -> Path:
    """`root/user_path` resolved (symlinks followed); Invalid if it is absolute or escapes `root`."""
    if not user_path or "\x00" in user_path:
        raise Invalid(_l("%(what)s must be a non-empty relative path", what=what))
    candidate = Path(user_path)
    if candidate.is_absolute():
        raise Invalid(_l("%(what)s must be relative to the training directory, got an absolute path", what=what))
    root = root.resolve()
    resolved = (root / candidate).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise Invalid(_l("%(what)s %(path)s leaves the training directory", what=what, path=repr(user_path)))
    return resolved


def _readable(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def free_bytes(path: Path) -> int:
    """Free bytes on the disk that holds `path` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def ensure_room(path: Path, needed: int | None, reserve: int) -> None:
    """InsufficientStorage (507) unless `needed` bytes fit on `path`'s disk with `reserve` left."""
    if not needed:
        return
    free = free_bytes(path)
    if needed > free - reserve:
        raise InsufficientStorage(_l(
            "not enough space in %(path)s: %(needed)s needed, %(free)s free, of which %(reserve)s is kept "
            "in reserve (PORTAL_DISK_RESERVE)", path=str(path), needed=_readable(needed), free=_readable(free),
            reserve=_readable(reserve)))


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _FULL


def disk_full(path: Path) -> InsufficientStorage:
    """The error for a write that found `path`'s disk full."""
    return InsufficientStorage(_l("the disk of %(path)s is full (%(free)s free); free some space and retry",
                                  path=str(path), free=_readable(free_bytes(path))))
