"""Runs commands on the portal host, each in its own process group, as the run user.

Identity is pid + process start time, so a recycled pid is never mistaken for the run. With
`PORTAL_RUN_USER` the wrapper (and so the command) runs as that unprivileged user, which owns
the run folder and output dir and cannot read the portal's data dir (see `portal/security.py`).
"""
import os
import shutil
import signal as signals
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import psutil

from portal.runuser import RunUser
from portal.i18n import N_
from portal.supervisor.executors.base import (WRAPPER, Executor, Handle, LaunchError, LaunchSpec, Plan, PollResult,
                                              ServerState, ServeSpec)

PORTAL_ENV = ("PATH", "LANG", "LC_ALL", "TZ")  # what a local run inherits from the portal


def read_range(path: Path, offset: int, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except (FileNotFoundError, NotADirectoryError):
        return b""


def list_tree(root: Path, max_depth: int) -> list[tuple[str, int, float, bool]]:
    found = []
    if not root.is_dir():
        return found
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if len(rel.parts) > max_depth or path.is_symlink():
            continue
        try:
            info = path.stat()
        except FileNotFoundError:  # removed while we looked (a checkpoint rotated out)
            continue
        found.append((rel.as_posix(), info.st_size, info.st_mtime, path.is_dir()))
    return found


def remove_under(root: Path, paths: list[str]) -> None:
    """Delete each relative path under `root` and nothing outside it (a checkpoint clean-up).

    Every step below `root` is opened with O_NOFOLLOW and the last one removed relative to its
    parent's descriptor, so no symlink is ever followed, even one swapped in while this runs: a
    symlink in `paths` is unlinked itself, one on the way makes that path be left alone.
    """
    for rel in paths:
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or any(part in ("..", ".") for part in parts):
            raise LaunchError(f"refusing to delete {rel!r}: not a path inside the run's output dir")
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for rel in paths:
            _remove_one(root_fd, PurePosixPath(rel).parts)
    finally:
        os.close(root_fd)


def _remove_one(root_fd: int, parts: tuple[str, ...]) -> None:
    fds = []
    try:
        parent = root_fd
        for part in parts[:-1]:
            try:
                parent = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            except OSError:  # gone, not a folder, or a symlink: nothing of ours to delete there
                return
            fds.append(parent)
        name = parts[-1]
        try:
            info = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=parent)
        else:  # a file or a symlink: the link goes, never what it points at
            os.unlink(name, dir_fd=parent)
    finally:
        for fd in fds:
            os.close(fd)


def host_output_dir(training_dir: Path, workdir: str, configured: str) -> str:
    """A config's output_dir on this host: inside the training dir, or Invalid (the portal reads
    and serves what is there, so it never follows a config out of the training dir)."""
    from portal.errors import Invalid
    from portal.i18n import _l

    root = training_dir.resolve()
    path = (Path(workdir) / configured).resolve()
    if path != root and not path.is_relative_to(root):
        raise Invalid(_l("the training config's output_dir %(dir)s is outside the training directory %(root)s; "
                         "the portal could not read the run's outputs there", dir=configured, root=str(root)))
    return str(path)


@dataclass(frozen=True)
class LocalHandle(Handle):
    pid: int
    create_time: float
    run_dir: str


@dataclass(frozen=True)
class ServerHandle(Handle):
    pid: int  # the server's pid, which is also its process group's id
    create_time: float
    log_path: str


class LocalExecutor(Executor):
    name = "local"
    serves = True

    def __init__(self, runs_dir: Path, training_dir: Path, run_user: RunUser | None = None):
        self.runs_dir = runs_dir
        self.training_dir = training_dir
        self.run_user = run_user

    def plan(self, folder, project, number, workdir, container):
        from portal.storage import resolve_under

        return Plan(workdir=str(resolve_under(self.training_dir, workdir or ".", "workdir")),
                    output_dir=str(self.training_dir / "outputs" / project / f"run-{number}"))

    def log_path(self, folder: str) -> Path:
        return self.runs_dir / folder / "output.log"

    def output_dir_of(self, workdir, configured):
        return host_output_dir(self.training_dir, workdir, configured)

    def base_env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PORTAL_ENV if k in os.environ}
        env["HOME"] = self.run_user.home if self.run_user else os.environ.get("HOME", "/")
        return env

    def missing(self, workdir: str, program: str, container: str | None = None) -> list[str]:
        if not Path(workdir).is_dir():
            return [f"workdir {workdir}"]
        path = self.base_env().get("PATH", "")
        found = (Path(workdir) / program).is_file() if "/" in program else shutil.which(program, path=path)
        return [] if found or not program else [f"program {program} (not in {workdir} nor on PATH={path})"]

    def launch(self, spec: LaunchSpec) -> dict:
        run_dir = self.runs_dir / spec.folder
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
            if self.run_user:  # the run writes its folder and output dir, and nothing of the portal's
                self.run_user.own(run_dir, Path(spec.output_dir))
        except OSError as error:
            raise LaunchError(f"cannot prepare the run folder: {error}") from None
        if not Path(spec.workdir).is_dir():
            raise LaunchError(f"working directory {spec.workdir} does not exist")
        argv = ["sh", "-c", WRAPPER, "portal-run", str(run_dir), spec.workdir, *spec.argv]
        as_user = self.run_user.popen_args() if self.run_user else {}
        try:
            proc = subprocess.Popen(argv, env=spec.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, **as_user)
        except (OSError, ValueError) as error:  # ValueError: e.g. a NUL byte in an argument
            raise LaunchError(f"could not start the wrapper: {error}") from None
        started = psutil.Process(proc.pid).create_time()
        return LocalHandle(pid=proc.pid, create_time=started, run_dir=str(run_dir)).dump()

    @staticmethod
    def _alive(handle: LocalHandle) -> bool:
        try:  # reap our own exited child so it does not linger as a zombie
            os.waitpid(handle.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            proc = psutil.Process(handle.pid)
            return abs(proc.create_time() - handle.create_time) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _poll(self, handle: LocalHandle) -> PollResult:
        if self._alive(handle):
            return PollResult("running")
        try:
            code = int((Path(handle.run_dir) / "exit_code").read_text().strip())
        except (FileNotFoundError, ValueError):
            return PollResult("lost", detail=N_("process %(pid)s is gone and left no exit code", pid=handle.pid))
        return PollResult("exited", exit_code=code)

    def poll_many(self, handles):
        return {key: self._poll(LocalHandle.load(handle)) for key, handle in handles.items()}

    def read_output(self, handle, offset, limit):
        return read_range(Path(handle["run_dir"]) / "output.log", offset, limit)

    def read_file(self, handle, path, offset, limit):
        return read_range(Path(path), offset, limit)

    def signal(self, handle, signame):
        local = LocalHandle.load(handle)
        if not self._alive(local):
            return
        try:
            os.killpg(local.pid, getattr(signals, signame))
        except ProcessLookupError:
            pass
        except PermissionError as error:
            raise LaunchError(f"cannot signal process group {local.pid}: {error}") from None

    def list_files(self, handle, root, max_depth=2):
        return list_tree(Path(root), max_depth)

    def serve(self, spec: ServeSpec) -> dict:
        log_path = Path(spec.log_path)
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(log_path, "ab")
        except OSError as error:
            raise LaunchError(f"cannot open the log {log_path}: {error}") from None
        as_user = self.run_user.popen_args() if self.run_user else {}
        try:
            with out:
                proc = subprocess.Popen(spec.argv, env=spec.env, cwd=spec.workdir, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                        close_fds=True, **as_user)
        except FileNotFoundError:
            raise LaunchError(f"{spec.argv[0]}: command not found (PATH={spec.env.get('PATH', '')})") from None
        except (OSError, ValueError) as error:
            raise LaunchError(f"could not start {spec.argv[0]}: {error}") from None
        return ServerHandle(pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(),
                            log_path=str(log_path)).dump()

    def server_state(self, handle: dict) -> ServerState:
        server = ServerHandle.load(handle)
        try:
            reaped, status = os.waitpid(server.pid, os.WNOHANG)  # our child: its exit code
            if reaped:
                return ServerState("exited", os.waitstatus_to_exitcode(status))
        except ChildProcessError:  # started by an earlier portal process: alive or not is all we learn
            pass
        alive = self._alive(LocalHandle(server.pid, server.create_time, ""))
        return ServerState("running") if alive else ServerState("exited")

    def signal_group(self, handle: dict, signame: str) -> None:
        try:
            os.killpg(ServerHandle.load(handle).pid, getattr(signals, signame))
        except ProcessLookupError:
            pass
        except PermissionError as error:
            raise LaunchError(f"cannot signal process group {handle['pid']}: {error}") from None

    def group_left(self, handle: dict) -> list[int]:
        pgid = ServerHandle.load(handle).pid
        left = []
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.info["pid"]) == pgid:
                    left.append(proc.info["pid"])
            except (ProcessLookupError, psutil.Error):
                continue
        return left
