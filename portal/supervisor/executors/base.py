"""The interface every executor implements: plan, launch, poll, read output, stop, re-attach.

Whatever an executor starts runs outside the portal and records its own output, pid and exit
code in a run folder (through `WRAPPER`), so a restarted supervisor re-attaches from the
handle saved in the run's row and loses nothing. Only `portal/supervisor/executors/` knows
executor names; the rest of the portal asks an executor what it can do (its capabilities)
and what a run of it looks like (`plan`).
"""
import posixpath
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar, Iterator, Literal

# POSIX sh, so it runs on the host and in any training container. The user's command arrives
# as "$@" (argv), never as text for the shell to parse. A no-op trap keeps the wrapper alive
# when the stop signal hits the whole process group, so it can still record the exit code;
# sh runs that trap only after the foreground command ends, so `$?` is the command's code.
# It first lets go of the stdio it was started with: a detached `docker exec` whose process
# keeps them open makes dockerd hold the container's next exec for seconds. A program that is
# not there is named plainly (sh's own message would show the wrapper's internals).
MASTER_PORT_BASE = 20000  # torch.distributed rendezvous ports: MASTER_PORT_BASE + a run's (or job's) id % 20000

WRAPPER = r"""
exec </dev/null >/dev/null 2>&1
run_dir=$1; workdir=$2; shift 2
trap ':' TERM INT HUP
echo $$ > "$run_dir/pid"
if ! cd "$workdir" 2>/dev/null; then
  echo "portal: working directory $workdir does not exist" >> "$run_dir/output.log"
  code=127
elif ! command -v "$1" >/dev/null 2>&1; then
  echo "portal: $1: command not found in $workdir (PATH=$PATH)" >> "$run_dir/output.log"
  code=127
else
  "$@" >> "$run_dir/output.log" 2>&1 < /dev/null
  code=$?
fi
echo $code > "$run_dir/exit_code.tmp" && mv "$run_dir/exit_code.tmp" "$run_dir/exit_code"
"""


class LaunchError(Exception):
    """The command could not be started (or signalled); the message says why, for the run's log."""


class Handle:
    """Base of the typed handles: what an executor needs to find a run again, stored as JSON."""

    @classmethod
    def load(cls, data: dict):
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def dump(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """Where a run lives, decided when it is queued and frozen in its row."""
    workdir: str  # as the command sees it
    output_dir: str  # the run's own output dir, as the command sees it
    container: str | None = None


@dataclass(frozen=True)
class LaunchSpec:
    run_id: int
    folder: str  # the run's folder name, unique across databases
    argv: list[str]
    workdir: str
    env: dict[str, str]
    output_dir: str
    container: str | None = None
    gpu_count: int = 0  # what the run asks for (a scheduler places them; the portal did otherwise)


@dataclass(frozen=True)
class PollResult:
    state: Literal["running", "pending", "exited", "lost"]  # pending: waiting in a scheduler's queue
    exit_code: int | None = None
    detail: str | dict = ""  # why it is lost, or why a scheduler keeps it pending (plain or an N_() message)
    gpus: dict[str, list[str]] | None = None  # what a scheduler gave the run: {host: [GPU ids]}


@dataclass(frozen=True)
class ServeSpec:
    """A long-lived server (a vLLM deployment): its own process group, output appended to `log_path`."""
    key: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    workdir: str


@dataclass(frozen=True)
class ServerState:
    state: Literal["running", "exited"]
    exit_code: int | None = None  # when the portal could see it (its own child)


class Executor(ABC):
    """One way to run commands. Capabilities are class defaults an instance may refine."""

    name: ClassVar[str]
    #: the portal allocates GPUs for its runs (False: a scheduler places them and says which)
    places_gpus: bool = True
    #: its runs use the GPUs of the host the portal runs on (the probe's inventory)
    on_portal_host: bool = True
    #: runs go inside a named container
    uses_container: bool = False
    #: the working directory is a path under the training dir on this host (checked on save)
    host_workdir: bool = True
    #: its output.log is read where the run writes it (False: the supervisor copies it over)
    output_in_place: bool = True
    #: its launch only submits to a scheduler's queue: the run stays `starting` until a poll sees it run
    queues: bool = False
    #: it can start long-lived servers (deployments): `serve`, `server_state`, `signal_group`, `group_left`
    serves: bool = False

    @abstractmethod
    def plan(self, folder: str, project: str, number: int, workdir: str, container: str | None) -> Plan:
        """Paths of a new run of `project` (its `number`), from the project's settings."""

    def freeze(self, folder: str, project: str) -> dict:
        """Keep in the new run's folder what it must not take from later edits of its project
        (a scheduler's settings), and return it; nothing for executors that need none."""
        return {}

    def topology(self, frozen: dict, run_id: int, gpu_count: int) -> dict[str, str]:
        """The start command's {nodes}, {gpus_per_node}, {master_addr}, {master_port}: one host here,
        so a multi-node template also runs on one machine (a port per run, so two runs never share one)."""
        return {"nodes": "1", "gpus_per_node": str(gpu_count), "master_addr": "127.0.0.1",
                "master_port": str(MASTER_PORT_BASE + run_id % 20000)}

    def output_dir_of(self, workdir: str, configured: str) -> str:
        """The folder a program started in `workdir` writes to when told `configured` (a training
        config's output_dir, relative to the workdir), as the executor reads it; Invalid if it cannot."""
        return posixpath.normpath(posixpath.join(workdir, configured))  # in the container, as the run sees it

    @abstractmethod
    def log_path(self, folder: str) -> Path:
        """The output.log of a run as the portal reads it (copied there when not in place)."""

    def describe(self, handle: dict) -> str:
        """What the run's events call the thing a launch started (a pid, a scheduler's job id)."""
        return f"pid {handle.get('pid')}"

    def base_env(self) -> dict[str, str]:
        """What a run's environment holds before the project's variables and the portal's own."""
        return {}

    def missing(self, workdir: str, program: str, container: str | None = None) -> list[str]:
        """What a run of `program` in `workdir` would not find, said before it is queued ([] if unsure)."""
        return []

    @abstractmethod
    def launch(self, spec: LaunchSpec) -> dict:
        """Start the run; returns its handle as JSON. Raises LaunchError."""

    @abstractmethod
    def poll_many(self, handles: dict[int, dict]) -> dict[int, PollResult]:
        """The state of every given run (by run id) in as few calls as the executor allows."""

    @abstractmethod
    def read_file(self, handle: dict, path: str, offset: int, limit: int) -> bytes:
        """Bytes of a file the run writes (e.g. trainer_log.jsonl), empty when absent."""

    @abstractmethod
    def read_output(self, handle: dict, offset: int, limit: int) -> bytes:
        """Up to `limit` bytes of the run's output from `offset` (empty when none is new)."""

    @abstractmethod
    def signal(self, handle: dict, signame: str) -> None:
        """Send `signame` (e.g. SIGTERM, SIGKILL) to the run's whole process group."""

    def download(self, handle: dict, path: str) -> tuple[str, "Iterator[bytes]"]:
        """A file the run wrote (`("file", bytes…)`) or a folder (`("tar", a tar stream)`)."""
        from portal.supervisor.executors.archive import stream
        return stream(Path(path))

    @abstractmethod
    def list_files(self, handle: dict, root: str, max_depth: int = 2) -> list[tuple[str, int, float, bool]]:
        """(relative path, size, mtime, is_dir) under `root`, for artifacts."""

    def remove(self, handle: dict, root: str, paths: list[str]) -> None:
        """Delete `paths` (relative) under the run's `root` where the run wrote them, never following a
        symlink nor leaving `root`. Raises LaunchError."""
        from portal.supervisor.executors.local import remove_under
        try:
            remove_under(Path(root), paths)
        except OSError as error:
            raise LaunchError(f"cannot delete under {root}: {error}") from None

    def serve(self, spec: ServeSpec) -> dict:
        """Start a server in a process group of its own; returns its handle. Raises LaunchError."""
        raise LaunchError(f"the {self.name} executor cannot serve models yet")

    def server_state(self, handle: dict) -> ServerState:
        raise NotImplementedError

    def signal_group(self, handle: dict, signame: str) -> None:
        """Signal every process of the server's group (the engine workers outlive the API server)."""
        raise NotImplementedError

    def group_left(self, handle: dict) -> list[int]:
        """Pids of the server's process group still alive: a stop is done only when none is."""
        raise NotImplementedError
