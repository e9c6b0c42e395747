"""The interface every executor implements: launch, poll, read output, stop, re-attach.

Whatever an executor starts runs outside the portal and records its own output, pid and exit
code in a run folder (through `WRAPPER`), so a restarted supervisor re-attaches from the
`handle` saved in the run's row and loses nothing.
"""
from dataclasses import dataclass, field

# POSIX sh, so it runs on the host and in any training container. The user's command arrives
# as "$@" (argv), never as text for the shell to parse. A no-op trap keeps the wrapper alive
# when the stop signal hits the whole process group, so it can still record the exit code;
# sh runs that trap only after the foreground command ends, so `$?` is the command's code.
# It first lets go of the stdio it was started with: a detached `docker exec` whose process
# keeps them open makes dockerd hold the container's next exec for seconds.
WRAPPER = r"""
exec </dev/null >/dev/null 2>&1
run_dir=$1; workdir=$2; shift 2
trap ':' TERM INT HUP
echo $$ > "$run_dir/pid"
if cd "$workdir" 2>/dev/null; then
  "$@" >> "$run_dir/output.log" 2>&1 < /dev/null
  code=$?
else
  echo "portal: working directory $workdir does not exist" >> "$run_dir/output.log"
  code=127
fi
echo $code > "$run_dir/exit_code.tmp" && mv "$run_dir/exit_code.tmp" "$run_dir/exit_code"
"""


class LaunchError(Exception):
    """The command could not be started; the message says why, for the run's log."""


@dataclass(frozen=True)
class LaunchSpec:
    run_id: int
    folder: str  # the run's folder name, unique across databases
    argv: list[str]
    workdir: str
    env: dict[str, str]
    output_dir: str
    container: str | None = None


@dataclass(frozen=True)
class PollResult:
    state: str  # running | exited | lost
    exit_code: int | None = None
    detail: str = ""


@dataclass
class Executor:
    """Base class; `handle` is the JSON-able dict stored in the run's row."""

    name: str = field(default="base", init=False)

    def launch(self, spec: LaunchSpec) -> dict:
        raise NotImplementedError

    def poll(self, handle: dict) -> PollResult:
        raise NotImplementedError

    def read_output(self, handle: dict, offset: int, limit: int) -> bytes:
        """Up to `limit` bytes of the run's output from `offset` (empty when none is new)."""
        raise NotImplementedError

    def read_file(self, handle: dict, path: str, offset: int, limit: int) -> bytes:
        """Bytes of a file the run writes (e.g. trainer_log.jsonl), empty when absent."""
        raise NotImplementedError

    def signal(self, handle: dict, signame: str) -> None:
        """Send `signame` (e.g. SIGTERM, SIGKILL) to the run's whole process group."""
        raise NotImplementedError

    def list_files(self, handle: dict, root: str, max_depth: int = 2) -> list[tuple[str, int, float, bool]]:
        """(relative path, size, mtime, is_dir) under the run's output dir, for artifacts."""
        raise NotImplementedError
