"""Safe paths under a root: no user-given path may leave its root, links included."""
from pathlib import Path

from portal.errors import Invalid


def resolve_under(root: Path, user_path: str, what: str = "path") -> Path:
    """`root/user_path` resolved (symlinks followed); Invalid if it is absolute or escapes `root`."""
    if not user_path or "\x00" in user_path:
        raise Invalid(f"{what} must be a non-empty relative path")
    candidate = Path(user_path)
    if candidate.is_absolute():
        raise Invalid(f"{what} must be relative to the training directory, got an absolute path")
    root = root.resolve()
    resolved = (root / candidate).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise Invalid(f"{what} {user_path!r} leaves the training directory")
    return resolved
