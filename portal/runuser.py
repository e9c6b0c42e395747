"""Who runs what a run executes, and the file modes that keep the portal's secrets from it.

Operators run code on the training host. With `PORTAL_RUN_USER` that code runs as an
unprivileged user: the data dir (database, secret key, upload parts) is traversable but not
readable by it, its secrets are 0600, and only each run's own folder and output dir, plus the
training dir, are writable by the run user. Without a run user, runs share the portal's user.
"""
import grp
import logging
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("portal.security")
SECRET_FILES = ("secret_key",)


class RunUserError(ValueError):
    """PORTAL_RUN_USER or PORTAL_RUN_GROUP cannot be used."""


@dataclass(frozen=True)
class RunUser:
    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def resolve(cls, user: str, group: str = "") -> "RunUser":
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise RunUserError(f"PORTAL_RUN_USER names no user on this host: {user!r}") from None
        gid = entry.pw_gid
        if group:
            try:
                gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise RunUserError(f"PORTAL_RUN_GROUP names no group on this host: {group!r}") from None
        if entry.pw_uid == 0:
            raise RunUserError("PORTAL_RUN_USER must not be root: runs would read the portal's secrets")
        if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
            raise RunUserError(f"PORTAL_RUN_USER={user} needs the portal to run as root to switch to it "
                               f"(the portal runs as uid {os.geteuid()}); unset it to run as the portal's user")
        home = entry.pw_dir if os.path.isdir(entry.pw_dir) else "/tmp"
        return cls(name=user, uid=entry.pw_uid, gid=gid, home=home)

    @property
    def switches(self) -> bool:
        return self.uid != os.geteuid()

    def popen_args(self) -> dict:
        """subprocess.Popen arguments that start the child as this user, with no extra groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.switches else {}

    def own(self, *paths: Path) -> None:
        for path in paths:
            if self.switches:
                os.chown(path, self.uid, self.gid)
            path.chmod(0o750)


def protect_data_dir(data_dir: Path, training_dir: Path, run_user: RunUser | None,
                     database_url: str = "") -> None:
    """Modes that keep a run (as the run user) out of the portal's secrets; logged once."""
    if not data_dir.is_dir():
        return
    if database_url.startswith("sqlite:///"):
        _private_sqlite(Path(database_url.removeprefix("sqlite:///")))
    switches = run_user is not None and run_user.switches
    # 0711: others (a run user; the test services' daemons under var/services) may pass through
    # to what is theirs inside, but never list or read the portal's files
    _chmod(data_dir, 0o711)
    for name in SECRET_FILES:
        path = data_dir / name
        if path.exists():
            _chmod(path, 0o600)
    runs = data_dir / "runs"
    runs.mkdir(exist_ok=True)
    _chmod(runs, 0o711)
    if switches:
        _check_reachable(training_dir.resolve(), run_user)
        inside = training_dir.resolve().is_relative_to(data_dir.resolve())
        for path in (training_dir, training_dir / "outputs"):
            path.mkdir(parents=True, exist_ok=True)
            if inside or path != training_dir:  # a training dir of its own elsewhere keeps its owner's modes
                os.chown(path, os.geteuid(), run_user.gid)
                _chmod(path, 0o2775)  # group-writable for the run group; new files keep the group
        log.info("runs execute as %s (uid %d); data dir %s is 0711 with its secrets 0600; the training dir "
                 "%s is writable by group %d", run_user.name, run_user.uid, data_dir, training_dir, run_user.gid)


def _check_reachable(path: Path, user: RunUser) -> None:
    """Every folder above the training dir must let the run user pass, or each run fails to cd."""
    for folder in reversed(path.parents):
        info = folder.stat()
        mode = stat.S_IMODE(info.st_mode)
        passes = (mode & 0o001 or (info.st_gid == user.gid and mode & 0o010)
                  or (info.st_uid == user.uid and mode & 0o100))
        if not passes:
            raise RunUserError(f"the run user {user.name} cannot reach the training dir {path}: {folder} is mode "
                               f"{mode:o}; move the portal's data dir (PORTAL_DATA_DIR) somewhere it may pass, "
                               f"or let it pass (chmod o+x {folder})")


def _private_sqlite(path: Path) -> None:
    """The database file 0600, made empty before SQLite makes it (its -wal and -shm copy its mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return  # a directory not there yet or not ours: SQLAlchemy reports that clearly itself
    for suffix in ("", "-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            _chmod(side, 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except PermissionError:  # not ours to change (a shared dir): leave it, the log says what we set
        log.warning("cannot set mode %o on %s", mode, path)
