"""Upload throughput and server memory: a real gunicorn portal over loopback vs `cp` on the same disk.

    .venv/bin/python bench/datasets/bench_upload.py            # 2 GB
    .venv/bin/python bench/datasets/bench_upload.py --small    # 200 MB

Makes a JSON-lines file in a temp dir on the disk of the training dir, copies it with `cp`
(the peer: the same bytes onto the same disk, in the same run), then uploads it raw
(application/octet-stream) and as multipart/form-data to `PUT /v1/datasets/{id}/files` of
a portal served by gunicorn (one worker, its supervisor off so validation does not compete).
The client sends the file with sendfile(2), as curl would, so the figures are the server's.
Each transfer runs `--repeat` times; the median is reported. The worker's RSS is sampled
every 5 ms: growth = peak during the uploads − RSS before them. Goals: raw ≥ 0.5 × cp,
multipart ≥ 0.4 × cp, RSS growth ≤ 64 MB.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MB = 1_000_000
LINE = b'{"instruction": "Summarise the paragraph below in one sentence.", "input": "%s", "output": "%s"}\n'


def make_file(path: Path, size: int) -> None:
    block = b"".join(LINE % (b"lorem ipsum dolor sit amet " * (i % 7 + 1), b"consectetur adipiscing " * (i % 11 + 3))
                     for i in range(4000))
    with open(path, "wb") as out:
        written = 0
        while written < size:
            piece = block[:size - written]
            out.write(piece)
            written += len(piece)


def flask(env, *args, stdin=None) -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def start_portal(tmp: Path, port: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
    env.update(PORTAL_DATA_DIR=str(tmp / "data"), PORTAL_TRAINING_DIR=str(tmp / "training"),
               PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_WORKERS="1", PORTAL_THREADS="4",
               PORTAL_EMBEDDED_SUPERVISOR="off", PORTAL_MAX_UPLOAD_BYTES="100GiB", PORTAL_LOG_LEVEL="WARNING",
               FLASK_APP="wsgi")
    flask(env, "db", "upgrade")
    flask(env, "users", "create", "bench", "--role", "operator", "--password-stdin", stdin="bench-password-1\n")
    token = flask(env, "tokens", "create", "bench").splitlines()[-1]
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            if psutil.Process(proc.pid).children():
                return proc, {"Authorization": f"Bearer {token}"}
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start; see {tmp / 'server.log'}")


def put(port: int, headers: dict, path: str, file: Path, content_type: str, filename: str | None):
    """One upload with the file body sent by sendfile; returns (seconds, response JSON)."""
    head = tail = b""
    if content_type == "multipart":
        boundary = uuid.uuid4().hex
        content_type = f"multipart/form-data; boundary={boundary}"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("PUT", path + (f"?filename={filename}" if filename else ""), skip_accept_encoding=True)
    for key, value in {**headers, "Content-Type": content_type,
                       "Content-Length": str(len(head) + file.stat().st_size + len(tail))}.items():
        conn.putheader(key, value)
    started = time.perf_counter()
    conn.endheaders()
    conn.sock.sendall(head)
    with open(file, "rb") as body:
        conn.sock.sendfile(body)
    conn.sock.sendall(tail)
    response = conn.getresponse()
    answer = json.loads(response.read())
    took = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise SystemExit(f"upload failed: {response.status} {answer}")
    return took, answer


class Peak:
    def __init__(self, process: psutil.Process):
        self.process, self.peak, self.stop = process, process.memory_info().rss, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def done(self) -> int:
        self.stop.set()
        self.thread.join()
        return self.peak


def sha256_rate() -> float:
    import hashlib

    block, digest = os.urandom(1 << 20), hashlib.sha256()
    started = time.perf_counter()
    for _ in range(512):
        digest.update(block)
    return 512 * (1 << 20) / (time.perf_counter() - started) / MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="200 MB instead of 2 GB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = 200 * MB if args.small else 2000 * MB
    near = ROOT / "var" if (ROOT / "var").is_dir() else None  # the disk the portal's training dir is on
    with tempfile.TemporaryDirectory(prefix="bench-upload-", dir=near) as t:
        tmp = Path(t)
        source = tmp / "source.jsonl"
        make_file(source, size)
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        port_number = port.getsockname()[1]
        port.close()
        proc, headers = start_portal(tmp, port_number)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port_number)
            conn.request("POST", "/v1/datasets", json.dumps({"name": "bench"}),
                         {**headers, "Content-Type": "application/json"})
            dataset = json.loads(conn.getresponse().read())["id"]
            files = tmp / "training" / "datasets" / "bench"
            worker = psutil.Process(proc.pid).children()[0]
            put(port_number, headers, f"/v1/datasets/{dataset}/files", source, "application/octet-stream", "warm.jsonl")
            for leftover in files.glob("*"):
                leftover.unlink()
            baseline = worker.memory_info().rss
            peak = Peak(worker)
            timings = {"cp": [], "raw": [], "multipart": []}
            for _ in range(args.repeat):
                for kind in timings:
                    if kind == "cp":
                        started = time.perf_counter()
                        subprocess.run(["cp", str(source), str(tmp / "copy.jsonl")], check=True)
                        timings[kind].append(time.perf_counter() - started)
                        (tmp / "copy.jsonl").unlink()
                    else:
                        took, _ = put(port_number, headers, f"/v1/datasets/{dataset}/files", source,
                                      "application/octet-stream" if kind == "raw" else "multipart", "bench.jsonl")
                        timings[kind].append(took)
                    for leftover in files.glob("*"):  # keep the disk as full as cp's run finds it
                        leftover.unlink()
            growth = peak.done() - baseline
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    rate = {k: size / statistics.median(v) / MB for k, v in timings.items()}
    rate["sha256"] = sha256_rate()
    print(f"upload of {size // MB} MB over loopback, median of {args.repeat} (peer: cp on the same disk)")
    print(f"  cp         {rate['cp']:8.0f} MB/s")
    print(f"  (sha256 of 1 MiB blocks on this CPU, one thread: {rate['sha256']:.0f} MB/s — every upload pays it)")
    for kind, goal in (("raw", 0.5), ("multipart", 0.4)):
        ratio = rate[kind] / rate["cp"]
        verdict = "ok" if ratio >= goal else "MISS"
        print(f"  {kind:<10} {rate[kind]:8.0f} MB/s  = {ratio:.2f} × cp  (goal ≥ {goal})  {verdict}")
    verdict = "ok" if growth <= 64 * MB else "MISS"
    print(f"  server worker RSS growth: {growth / 2**20:.1f} MiB (goal ≤ 64 MB)  {verdict}")


if __name__ == "__main__":
    main()
