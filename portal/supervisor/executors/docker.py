"""Runs commands with `docker exec` inside a training container, through the Docker SDK.

The wrapper runs in its own session (`setsid`) inside the container and keeps output, pid and
exit code in a run folder there. The supervisor copies new output bytes to the portal's
`output.log` (or reads them straight from the host when the run folder is a host mount), so
runs survive a portal crash and a restarted supervisor finds them by container + pid.
`DOCKER_HOST` selects the daemon (unix, tcp or ssh://), as for the docker CLI.
"""
import logging
import time
from pathlib import Path

import docker
import requests
from docker.errors import DockerException, NotFound

from portal.supervisor.executors.base import WRAPPER, Executor, LaunchError, LaunchSpec, PollResult
from portal.supervisor.executors.local import list_tree, read_range

log = logging.getLogger("portal.executors.docker")

# exit file first: a finished wrapper may linger as a zombie when the container's PID 1 does
# not reap (`sleep infinity`), so "the pid exists" alone would never say it ended
POLL = r"""
if [ -f "$2/exit_code" ]; then echo "exited $(cat "$2/exit_code")"
elif [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ] \
     && [ "$(cut -d' ' -f22 /proc/$1/stat)" = "$3" ]; then echo running
else echo lost; fi
"""
READ = 'tail -c +"$1" "$2" 2>/dev/null | head -c "$3"'
SIGNAL = 'kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "$2" 2>/dev/null; true'
LIST = r'find "$1" -mindepth 1 -maxdepth "$2" -printf "%P\t%s\t%T@\t%y\n" 2>/dev/null; true'
PID_WAIT_SECONDS = 10.0
# the SDK lets connection errors of its HTTP layer through unwrapped (e.g. a daemon restart)
DOCKER_ERRORS = (DockerException, requests.RequestException)


class DockerExecutor(Executor):
    def __init__(self, run_root: str = "/tmp/portal-runs", host_root: str | None = None):
        super().__init__()
        self.name = "docker"
        self.run_root = run_root.rstrip("/")
        self.host_root = host_root  # the same folder seen from the host, when it is a mount
        self._client = None

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
                return {"container": container.id, "name": spec.container, "run_dir": run_dir,
                        "pid": int(out[0]), "start_ticks": out[1].decode(), "exec_id": exec_id}
            time.sleep(0.1)
        raise LaunchError(f"the command did not start in {spec.container} within {PID_WAIT_SECONDS:.0f}s "
                          "(is setsid installed in the container?)")

    def _host_path(self, path: str) -> Path | None:
        if self.host_root and (path == self.run_root or path.startswith(self.run_root + "/")):
            return Path(self.host_root + path[len(self.run_root):])
        return None

    def poll(self, handle: dict) -> PollResult:
        try:
            out = self._sh(handle["container"], POLL, str(handle["pid"]), handle["run_dir"],
                           handle["start_ticks"]).decode().split()
        except NotFound:
            return PollResult("lost", detail=f"container {handle['name']} is gone")
        except DOCKER_ERRORS as error:  # daemon hiccup: ask again next tick
            log.warning("polling run in %s failed: %s", handle["name"], error)
            return PollResult("running")
        if out == ["running"]:
            return PollResult("running")
        if len(out) == 2 and out[0] == "exited" and out[1].lstrip("-").isdigit():
            return PollResult("exited", exit_code=int(out[1]))
        return PollResult("lost", detail=f"process {handle['pid']} in {handle['name']} is gone and left no exit code")

    def read_file(self, handle: dict, path: str, offset: int, limit: int) -> bytes:
        host = self._host_path(path)
        if host is not None:
            return read_range(host, offset, limit)
        try:
            return self._sh(handle["container"], READ, str(offset + 1), path, str(limit))
        except DOCKER_ERRORS:
            return b""

    def read_output(self, handle: dict, offset: int, limit: int) -> bytes:
        return self.read_file(handle, f"{handle['run_dir']}/output.log", offset, limit)

    def signal(self, handle: dict, signame: str) -> None:
        try:
            self._sh(handle["container"], SIGNAL, signame.removeprefix("SIG"), str(handle["pid"]))
        except DOCKER_ERRORS as error:
            raise LaunchError(f"cannot signal the run in {handle['name']}: {error}") from None

    def list_files(self, handle: dict, root: str, max_depth: int = 2):
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
