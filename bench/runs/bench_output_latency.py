"""How long a line a run prints takes to show through `GET /v1/runs/{id}/output?offset=N`.

A run prints `stamp <i> <time.time()>` every 50-100 ms for 20 s (5 s with --small). A real
supervisor (`flask --app wsgi supervisor`, its own process, PORTAL_TICK_SECONDS as given,
default 2 s) launches and follows it; this process polls the output endpoint through the app's
test client every 50 ms from the last offset, and each line's latency is the wall clock when
the response arrived minus its stamp (host and container share the clock). Three ways:
local executor; docker executor copying output with `docker exec`; docker with its run
folder on the shared bind mount (PORTAL_DOCKER_RUN_DIR_HOST), read from disk.
The reference is the client's own poll interval, measured in the same run: no poller can
see a line sooner than its next poll, so ~poll/2 at p50 and ~poll at p95 is the floor.
"p95 later" leaves out the lines printed before the first output was seen (the launch), and
"grew every" is the median gap between polls that brought new output: the supervisor's tick
when the portal copies the output, the run's own print interval when it reads it in place.

    python bench/runs/bench_output_latency.py [--small] [--tick 2] [--only local,docker,docker-shared]
"""
import argparse
import os
import shlex
import sys
import time
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Portal, median, quantile, wait_for  # noqa: E402

# no braces: a start command's tokens are templates ({config} ...), so the code goes in as is
STAMPS = ("import random, sys, time\n"
          "end = time.time() + float(sys.argv[1])\n"
          "i = 0\n"
          "while time.time() < end:\n"
          "    print('stamp %d %.6f' % (i, time.time()), flush=True)\n"
          "    i += 1\n"
          "    time.sleep(random.uniform(0.05, 0.1))\n"
          "print('done %d' % i, flush=True)\n")
GOALS = {"local": 1.0, "docker": 2.0, "docker-shared": 2.0}
POLL = 0.05


def docker_container() -> str | None:
    return os.environ.get("PORTAL_DOCKER_CONTAINER") or os.environ.get("PORTAL_TEST_DOCKER_CONTAINER") or None


def shared_folder(container: str, wanted: str | None) -> tuple[str | None, str]:
    """A host folder mounted at the same path in the container, checked with a marker file.

    PORTAL_TEST_DOCKER_SHARED first; else the container's own bind mount with equal paths
    (the container may have been made by another checkout's `scripts/services`).
    """
    found = docker.from_env().containers.get(container)
    mounts = [m["Source"] for m in found.attrs.get("Mounts", [])
              if m.get("Type") == "bind" and m.get("Source") == m.get("Destination") and m.get("RW")]
    for folder in ([wanted] if wanted else []) + [m for m in mounts if m != wanted]:
        marker = Path(folder) / f".portal-bench-{uuid.uuid4().hex[:8]}"
        try:
            marker.write_text("x")
            if found.exec_run(["test", "-f", str(marker)]).exit_code == 0:
                return folder, "" if folder == wanted else f"{wanted or 'PORTAL_TEST_DOCKER_SHARED'} is not " \
                    f"mounted in {container}; used its bind mount {folder}"
        except OSError:
            pass
        finally:
            marker.unlink(missing_ok=True)
    return None, f"no host folder is mounted at the same path in {container}"


def follow(portal: Portal, run_id: int, timeout: float) -> dict:
    """Poll the output every POLL seconds from the last offset until the run is complete."""
    url = f"/v1/runs/{run_id}/output"
    offset, pending, latencies, requests, starts, grew = 0, b"", [], [], [], []
    printed, first_seen, steady = None, None, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        began = time.perf_counter()
        starts.append(began)
        page = portal.api("GET", f"{url}?offset={offset}")
        seen = time.time()
        requests.append(time.perf_counter() - began)
        if page["data"]:
            grew.append(seen)
        *lines, pending = (pending + page["data"].encode()).split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == b"stamp":
                first_seen = first_seen or seen
                stamp = float(parts[2])
                latencies.append(seen - stamp)
                if stamp > first_seen:
                    steady.append(seen - stamp)
            elif len(parts) == 2 and parts[0] == b"done":
                printed = int(parts[1])
        offset = page["next_offset"]
        if page["complete"]:
            break
        if offset < page["size"]:
            continue  # more is already waiting, as the page's own poller does
        time.sleep(max(0.0, POLL - (time.perf_counter() - began)))
    else:
        raise TimeoutError(f"run {run_id} did not complete within {timeout:.0f}s")
    intervals = [b - a for a, b in zip(starts, starts[1:])]
    return {"latencies": latencies, "steady": steady, "printed": printed, "requests": requests, "intervals": intervals,
            "updates": [b - a for a, b in zip(grew, grew[1:])]}


def measure(way: str, seconds: float, tick: str | None, container: str | None, shared: str | None) -> dict:
    settings = {"PORTAL_TICK_SECONDS": tick} if tick else {}
    if way == "local":
        fields = {"executor": "local", "workdir": ".",
                  "start_command": f"{shlex.quote(sys.executable)} -c {shlex.quote(STAMPS)} {seconds}"}
    else:
        fields = {"executor": "docker", "workdir": "/tmp", "container": container,
                  "start_command": f"python3 -c {shlex.quote(STAMPS)} {seconds}"}
        settings["PORTAL_DOCKER_CONTAINER"] = container
    run_dir = None
    if way == "docker":  # a folder of our own in the container, removed afterwards
        run_dir = f"/tmp/portal-bench-{uuid.uuid4().hex[:8]}"
        settings["PORTAL_DOCKER_RUN_DIR"] = run_dir
    elif way == "docker-shared":
        run_dir = str(Path(shared) / f"portal-bench-{uuid.uuid4().hex[:8]}")  # mounted at the same path inside
        settings |= {"PORTAL_DOCKER_RUN_DIR": run_dir, "PORTAL_DOCKER_RUN_DIR_HOST": run_dir}
    with Portal(**settings) as portal:
        try:
            portal.project("latency", **fields)
            run = portal.start("latency")  # queued first, so the supervisor's first tick launches it
            with portal.supervisor() as proc:
                portal.wait_active(proc)
                result = follow(portal, run["id"], timeout=seconds + 90)
                final = wait_for(lambda: (r := portal.api("GET", f"/v1/runs/{run['id']}"))["status"] != "running"
                                 and r, 30, what="the run to end")
            result["status"] = final["status"]
            if final["status"] != "succeeded":
                events = portal.api("GET", f"/v1/runs/{run['id']}/logs")["items"]
                print(f"{way}: run {final['status']}: {events[-1]['message']}")
            if not result["latencies"]:
                raise RuntimeError(f"{way}: no line seen")
            result["tick"] = portal.app.config["PORTAL"].tick_seconds
        finally:
            if run_dir is not None:  # the container's root made it; remove it from inside
                docker.from_env().containers.get(container).exec_run(["rm", "-rf", run_dir])
    return result


def report(rows: list[tuple[str, dict]], seconds: float, tick_given: bool) -> None:
    tick = rows[0][1]["tick"]
    print(f"\nOutput latency: line printed -> seen via GET /v1/runs/{{id}}/output?offset=N "
          f"({seconds:.0f} s runs, SQLite)")
    print(f"client: Flask test client in this process, polling every {POLL * 1000:.0f} ms from the last offset; "
          f"supervisor: `flask --app wsgi supervisor` subprocess, PORTAL_TICK_SECONDS={tick:g}"
          f"{'' if tick_given else ' (default)'}")
    print(f"{'executor':15}{'lines':>8}{'p50':>7}{'p95':>7}{'max':>7}{'p95 later':>11}{'goal p95':>10}"
          f"{'p95/goal':>10}{'p95/poll':>10}{'grew every':>12}  (ms)")
    for way, r in rows:
        lat, poll, goal = r["latencies"], median(r["intervals"]), GOALS[way]
        p50, p95 = quantile(lat, 0.5), quantile(lat, 0.95)
        seen = f"{len(lat)}/{r['printed'] if r['printed'] is not None else '?'}"
        print(f"{way:15}{seen:>8}{p50 * 1000:7.0f}{p95 * 1000:7.0f}{max(lat) * 1000:7.0f}"
              f"{quantile(r['steady'], 0.95) * 1000:11.0f}{goal * 1000:10.0f}{p95 / goal:10.2f}{p95 / poll:10.1f}"
              f"{median(r['updates']) * 1000:12.0f}  run {r['status']}, {'ok' if p95 <= goal else 'OVER GOAL'}")
    for way, r in rows:
        print(f"reference ({way}): poll interval p50 {median(r['intervals']) * 1000:.0f} ms; output request "
              f"p50 {median(r['requests']) * 1000:.1f} ms, p95 {quantile(r['requests'], .95) * 1000:.1f} ms")
    print(f"floor: a server with no delay is seen ~{POLL * 500:.0f} ms (p50) / ~{POLL * 950:.0f} ms (p95) after "
          "printing.\np95 later: lines printed after the first output was seen (leaves out the launch). "
          "grew every: median gap between polls that brought new output (the run prints every 50-100 ms).")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="5 s runs instead of 20 s (for CI)")
    args.add_argument("--tick", help="PORTAL_TICK_SECONDS for the supervisor (default: the portal's default)")
    args.add_argument("--only", default="local,docker,docker-shared", help="which ways to measure")
    opts = args.parse_args()
    seconds = 5.0 if opts.small else 20.0
    container = docker_container()
    shared = os.environ.get("PORTAL_TEST_DOCKER_SHARED")
    ways = [w.strip() for w in opts.only.split(",") if w.strip()]
    rows = []
    for way in ways:
        if way != "local" and not container:
            print(f"{way}: skipped, no container (set PORTAL_DOCKER_CONTAINER, or "
                  f"eval \"$(scripts/services env)\" for PORTAL_TEST_DOCKER_CONTAINER)")
            continue
        folder = None
        if way == "docker-shared":
            folder, note = shared_folder(container, shared)
            if note:
                print(f"{way}: {note}" if folder else f"{way}: skipped, {note}")
            if not folder:
                continue
        rows.append((way, measure(way, seconds, opts.tick, container, folder)))

    if rows:
        report(rows, seconds, bool(opts.tick))


if __name__ == "__main__":
    main()
