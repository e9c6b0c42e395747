"""Runs commands on the portal host, each in its own process group.

Identity is pid + process start time, so a recycled pid is never mistaken for the run.
"""
import os
import signal as signals
import subprocess
from pathlib import Path

import psutil

from portal.supervisor.executors.base import WRAPPER, Executor, LaunchError, LaunchSpec, PollResult


def read_range(path: Path, offset: int, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except FileNotFoundError:
        return b""


def list_tree(root: Path, max_depth: int) -> list[tuple[str, int, float, bool]]:
    found = []
    if not root.is_dir():
        return found
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if len(rel.parts) > max_depth or path.is_symlink():
            continue
        info = path.stat()
        found.append((rel.as_posix(), info.st_size, info.st_mtime, path.is_dir()))
    return found


class LocalExecutor(Executor):
    def __init__(self, runs_dir: Path):
        super().__init__()
        self.name = "local"
        self.runs_dir = runs_dir

    def launch(self, spec: LaunchSpec) -> dict:
        run_dir = self.runs_dir / spec.folder
        run_dir.mkdir(parents=True, exist_ok=True)
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
        if not Path(spec.workdir).is_dir():
            raise LaunchError(f"working directory {spec.workdir} does not exist")
        argv = ["sh", "-c", WRAPPER, "portal-run", str(run_dir), spec.workdir, *spec.argv]
        try:
            proc = subprocess.Popen(argv, env=spec.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as error:
            raise LaunchError(f"could not start the wrapper: {error}") from None
        started = psutil.Process(proc.pid).create_time()
        return {"pid": proc.pid, "create_time": started, "run_dir": str(run_dir)}

    def _alive(self, handle: dict) -> bool:
        pid = handle["pid"]
        try:  # reap our own exited child so it does not linger as a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            proc = psutil.Process(pid)
            return (abs(proc.create_time() - handle["create_time"]) < 0.05
                    and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    def poll(self, handle: dict) -> PollResult:
        if self._alive(handle):
            return PollResult("running")
        try:
            code = int((Path(handle["run_dir"]) / "exit_code").read_text().strip())
        except (FileNotFoundError, ValueError):
            return PollResult("lost", detail=f"process {handle['pid']} is gone and left no exit code")
        return PollResult("exited", exit_code=code)

    def read_output(self, handle: dict, offset: int, limit: int) -> bytes:
        return read_range(Path(handle["run_dir"]) / "output.log", offset, limit)

    def read_file(self, handle: dict, path: str, offset: int, limit: int) -> bytes:
        return read_range(Path(path), offset, limit)

    def signal(self, handle: dict, signame: str) -> None:
        if not self._alive(handle):
            return
        try:
            os.killpg(handle["pid"], getattr(signals, signame))
        except ProcessLookupError:
            pass
        except PermissionError as error:
            raise LaunchError(f"cannot signal process group {handle['pid']}: {error}") from None

    def list_files(self, handle: dict, root: str, max_depth: int = 2):
        return list_tree(Path(root), max_depth)
