"""Safe paths under a root: no user-given path may leave its root, links included."""
from pathlib import Path

from portal.errors import Invalid
from portal.i18n import _l


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
