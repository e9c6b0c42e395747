"""Runs commands with `docker exec` inside a training container, through the Docker SDK.

The wrapper runs in its own session (`setsid`) inside the container and keeps output, pid and
exit code in a run folder there. The supervisor copies new output bytes to the portal's
`output.log` (or reads them straight from the host when the run folder is a host mount), so
runs survive a portal crash and a restarted supervisor finds them by container + pid.
`DOCKER_HOST` selects the daemon (unix, tcp or ssh://), as for the docker CLI.
"""
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from docker.errors import DockerException, NotFound

from portal.i18n import N_
from portal.supervisor.executors.base import WRAPPER, Executor, Handle, LaunchError, LaunchSpec, Plan, PollResult
from portal.supervisor.executors.local import list_tree, read_range

log = logging.getLogger("portal.executors.docker")

# One exec per container answers for all its runs: a line per (pid, run dir, start ticks).
# The exit file first: a finished wrapper may linger as a zombie when the container's PID 1
# does not reap (`sleep infinity`), so "the pid exists" alone would never say it ended.
POLL_MANY = r"""
while [ $# -ge 3 ]; do
  pid=$1; dir=$2; ticks=$3; shift 3
  if [ -f "$dir/exit_code" ]; then echo "exited $(cat "$dir/exit_code")"
  elif [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 /proc/$pid/stat)" != Z ] \
       && [ "$(cut -d' ' -f22 /proc/$pid/stat)" = "$ticks" ]; then echo running
  else echo lost; fi
done
"""
READ = 'tail -c +"$1" "$2" 2>/dev/null | head -c "$3"'
SIGNAL = 'kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "$2" 2>/dev/null; true'
# symlinks are left out, as on the host (list_tree): what one points at is not the run's
LIST = r'find "$1" -mindepth 1 -maxdepth "$2" ! -type l -printf "%P\t%s\t%T@\t%y\n" 2>/dev/null; true'
# a checkpoint clean-up inside the container: paths relative to the output dir, none with `..`,
# none through a symlink (rm -rf removes a symlink itself, never what it points at)
REMOVE = r"""
root=$1; shift
for rel in "$@"; do
  case "/$rel/" in */../*|*/./*|//*) continue;; esac
  p=$root; ok=1; rest=$(dirname -- "$rel")
  while [ "$rest" != . ] && [ -n "$rest" ]; do
    first=${rest%%/*}; p="$p/$first"
    [ -L "$p" ] || [ ! -d "$p" ] && ok=0
    [ "$first" = "$rest" ] && break
    rest=${rest#*/}
  done
  [ $ok = 1 ] && rm -rf -- "$root/$rel"
done
true
"""
CHECK = 'cd "$1" 2>/dev/null || { echo workdir; exit; }; command -v "$2" >/dev/null 2>&1 || echo program'
PID_WAIT_SECONDS = 10.0
# the SDK lets connection errors of its HTTP layer through unwrapped (e.g. a daemon restart)
DOCKER_ERRORS = (DockerException, requests.RequestException)


@dataclass(frozen=True)
class DockerHandle(Handle):
    container: str  # id
    name: str
    run_dir: str  # in the container
    pid: int
    start_ticks: str  # field 22 of /proc/<pid>/stat, so a recycled pid is never taken for the run
    exec_id: str


class DockerExecutor(Executor):
    name = "docker"
    uses_container = True
    host_workdir = False

    def __init__(self, run_root: str, host_root: str | None, copy_dir: Path):
        self.run_root = run_root.rstrip("/")
        self.host_root = host_root  # the same folder seen from the host, when it is a mount
        self.copy_dir = copy_dir  # where the portal keeps copied output when there is no mount
        self.output_in_place = host_root is not None
        # a daemon elsewhere has GPUs the portal's probe cannot see: the container uses its own
        remote = os.environ.get("DOCKER_HOST", "").split("://", 1)[0] in ("tcp", "ssh", "http", "https")
        self.on_portal_host = self.places_gpus = not remote
        self._client = None

    def plan(self, folder, project, number, workdir, container):
        return Plan(workdir=workdir, output_dir=f"{self.run_root}/{folder}/output", container=container)

    def log_path(self, folder: str) -> Path:
        if self.host_root is not None:
            return Path(self.host_root) / folder / "output.log"
        return self.copy_dir / folder / "output.log"

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = docker.from_env(timeout=30)
            except DockerException as error:
                raise LaunchError(f"cannot reach the Docker daemon: {error}") from None
        return self._client

    def _container(self, name: str):
        try:
            container = self.client.containers.get(name)
        except NotFound:
            raise LaunchError(f"container {name} does not exist") from None
        except DOCKER_ERRORS as error:
            raise LaunchError(f"cannot inspect container {name}: {error}") from None
        if container.status != "running":
            raise LaunchError(f"container {name} is not running (status {container.status})")
        return container

    def _sh(self, container_id: str, script: str, *args: str) -> bytes:
        """Run a fixed script in the container; user values only ever arrive as its arguments."""
        result = self.client.containers.get(container_id).exec_run(["sh", "-c", script, "portal", *args],
                                                                   stdout=True, stderr=False)
        return result.output or b""

    def missing(self, workdir: str, program: str, container: str | None = None) -> list[str]:
        """Asked in the container; a daemon or container that does not answer is left for the launch to say."""
        try:
            found = self._sh(self._container(container).id, CHECK, workdir, program).decode().split()
        except (LaunchError, *DOCKER_ERRORS):
            return []
        return ([f"workdir {workdir} (in {container})"] if "workdir" in found else []) + \
               ([f"program {program} (not in {workdir} nor on PATH in {container})"] if "program" in found else [])

    def launch(self, spec: LaunchSpec) -> dict:
        container = self._container(spec.container)
        run_dir = f"{self.run_root}/{spec.folder}"
        try:
            made = container.exec_run(["mkdir", "-p", run_dir, spec.output_dir])
            if made.exit_code:
                why = made.output.decode(errors="replace")
                raise LaunchError(f"cannot create {run_dir} in {spec.container}: {why}")
            host = self._host_path(run_dir)
            if host is not None and not host.is_dir():  # else output would silently go nowhere we read
                raise LaunchError(f"{run_dir} made in {spec.container} is not at {host} on this host: "
                                  "PORTAL_DOCKER_RUN_DIR_HOST must be the host side of the container's mount "
                                  "of PORTAL_DOCKER_RUN_DIR")
            exec_id = self.client.api.exec_create(
                container.id, ["setsid", "sh", "-c", WRAPPER, "portal-run", run_dir, spec.workdir, *spec.argv],
                environment=spec.env, stdout=False, stderr=False)["Id"]
            self.client.api.exec_start(exec_id, detach=True)
        except DOCKER_ERRORS as error:
            raise LaunchError(f"docker exec failed in {spec.container}: {error}") from None
        try:
            return self._wait_for_pid(container, spec, run_dir, exec_id)
        except DOCKER_ERRORS as error:
            raise LaunchError(f"lost the Docker daemon while starting in {spec.container}: {error}; "
                              f"the command may be running in {run_dir}") from None

    def _wait_for_pid(self, container, spec: LaunchSpec, run_dir: str, exec_id: str) -> dict:
        deadline = time.monotonic() + PID_WAIT_SECONDS
        while time.monotonic() < deadline:  # the wrapper records its pid first thing
            out = self._sh(container.id, 'p=$(cat "$1/pid" 2>/dev/null) && echo "$p $(cut -d" " -f22 /proc/$p/stat '
                                         '2>/dev/null || echo gone)"', run_dir).split()
            if len(out) == 2:
                return DockerHandle(container=container.id, name=spec.container, run_dir=run_dir,
                                    pid=int(out[0]), start_ticks=out[1].decode(), exec_id=exec_id).dump()
            time.sleep(0.1)
        raise LaunchError(f"the command did not start in {spec.container} within {PID_WAIT_SECONDS:.0f}s "
                          "(is setsid installed in the container?)")

    def _host_path(self, path: str) -> Path | None:
        if self.host_root and (path == self.run_root or path.startswith(self.run_root + "/")):
            return Path(self.host_root + path[len(self.run_root):])
        return None

    def poll_many(self, handles):
        by_container: dict[str, list[tuple[int, DockerHandle]]] = {}
        for key, data in handles.items():
            handle = DockerHandle.load(data)
            by_container.setdefault(handle.container, []).append((key, handle))
        results = {}
        for group in by_container.values():
            results.update(self._poll_container(group))
        return results

    def _poll_container(self, group: list[tuple[int, "DockerHandle"]]) -> dict[int, PollResult]:
        args = [str(part) for _, h in group for part in (h.pid, h.run_dir, h.start_ticks)]
        name = group[0][1].name
        try:
            lines = self._sh(group[0][1].container, POLL_MANY, *args).decode().splitlines()
        except NotFound:
            return {key: PollResult("lost", detail=N_("container %(name)s is gone", name=name)) for key, _ in group}
        except DOCKER_ERRORS as error:  # daemon hiccup: ask again next tick
            log.warning("polling runs in %s failed: %s", name, error)
            return {key: PollResult("running") for key, _ in group}
        results = {}
        for index, (key, handle) in enumerate(group):
            out = lines[index].split() if index < len(lines) else []
            if out == ["running"]:
                results[key] = PollResult("running")
            elif len(out) == 2 and out[0] == "exited" and out[1].lstrip("-").isdigit():
                results[key] = PollResult("exited", exit_code=int(out[1]))
            else:
                results[key] = PollResult("lost", detail=N_(
                    "process %(pid)s in %(name)s is gone and left no exit code", pid=handle.pid, name=name))
        return results

    def read_file(self, handle, path, offset, limit):
        host = self._host_path(path)
        if host is not None:
            return read_range(host, offset, limit)
        try:
            return self._sh(handle["container"], READ, str(offset + 1), path, str(limit))
        except DOCKER_ERRORS:
            return b""

    def read_output(self, handle, offset, limit):
        return self.read_file(handle, f"{handle['run_dir']}/output.log", offset, limit)

    def signal(self, handle, signame):
        try:
            self._sh(handle["container"], SIGNAL, signame.removeprefix("SIG"), str(handle["pid"]))
        except DOCKER_ERRORS as error:
            raise LaunchError(f"cannot signal the run in {handle['name']}: {error}") from None

    def download(self, handle, path):
        host = self._host_path(path)
        if host is not None:
            return super().download(handle, str(host))
        try:  # the daemon streams a tar of the path itself
            chunks, _ = self.client.containers.get(handle["container"]).get_archive(path)
        except DOCKER_ERRORS as error:
            raise LaunchError(f"cannot read {path} in {handle['name']}: {error}") from None
        return "tar", chunks

    def remove(self, handle, root, paths):
        host = self._host_path(root)
        if host is not None:
            return super().remove(handle, str(host), paths)
        try:
            self._sh(handle["container"], REMOVE, root, *paths)
        except DOCKER_ERRORS as error:
            raise LaunchError(f"cannot delete in {handle['name']}: {error}") from None

    def list_files(self, handle, root, max_depth=2):
        host = self._host_path(root)
        if host is not None:
            return list_tree(host, max_depth)
        try:
            out = self._sh(handle["container"], LIST, root, str(max_depth)).decode(errors="replace")
        except DOCKER_ERRORS:
            return []
        found = []
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                found.append((parts[0], int(parts[1]), float(parts[2]), parts[3] == "d"))
        return found
