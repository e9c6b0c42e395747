"""Uploads to a real gunicorn server: flat memory, resume after a dropped connection, cancel mid-stream."""
import hashlib
import json
import threading
import time

import pytest

from tests.datasets.conftest import ALPACA
from tests.datasets.streaming import RssSampler, file_chunks, multipart, send
from tests.support import wait_for

pytestmark = pytest.mark.slow
MiB = 1 << 20


def make_file(path, size: int):
    block = (ALPACA * (MiB // len(ALPACA) + 1))[:MiB]
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            out.write(block)
    return path


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    for chunk in file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return make_file(tmp_path_factory.mktemp("big") / "big.jsonl", 300 * MiB)


@pytest.fixture
def dataset(live_server, request):
    status, body = live_server.call("POST", "/v1/datasets", {"name": request.node.name[:60].replace("[", "_")
                                                                      .replace("]", "")})
    assert status == 200, body
    return body["id"]


def folder(server, dataset_id):
    status, record = server.call("GET", f"/v1/datasets/{dataset_id}")
    return server.training_dir / "datasets" / record["name"]


def raw_headers(server, filename="big.jsonl"):
    return {**server.headers, "Content-Type": "application/octet-stream", "X-Filename": filename}


def answer(conn) -> tuple[int, dict]:
    response = conn.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_a_300_mb_upload_keeps_server_memory_flat(live_server, dataset, big_file, kind):
    conn = live_server.conn()
    send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server, "warm.jsonl"), len(ALPACA), [ALPACA])
    assert answer(conn)[0] == 200  # the code paths are loaded before the baseline
    time.sleep(0.2)
    with RssSampler(live_server.worker()) as rss:
        if kind == "raw":
            send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server), big_file.stat().st_size,
                 file_chunks(big_file))
        else:
            content_type, length, chunks = multipart(big_file, "big.jsonl")
            send(conn, "PUT", f"/v1/datasets/{dataset}/files", {**live_server.headers, "Content-Type": content_type},
                 length, chunks)
        status, body = answer(conn)
    assert status == 200, body
    assert body["bytes"] == big_file.stat().st_size and body["sha256"] == sha256_of(big_file)
    assert (live_server.training_dir / body["path"]).stat().st_size == big_file.stat().st_size
    assert rss.growth <= 64 * MiB, f"worker RSS grew by {rss.growth / MiB:.1f} MiB"


def test_resumable_upload_survives_a_dropped_connection(live_server, dataset, tmp_path):
    source = make_file(tmp_path / "resume.jsonl", 40 * MiB)
    size = source.stat().st_size
    status, created = live_server.call("POST", f"/v1/datasets/{dataset}/uploads",
                                       {"filename": "resume.jsonl", "length": size})
    assert status == 201
    url = f"/v1/uploads/{created['upload_id']}"
    conn = live_server.conn()
    half = size // 2 + 12345
    send(conn, "PATCH", url, {**live_server.headers, "Upload-Offset": "0"}, size,
         file_chunks(source, 0, half))  # the header promised the whole file: the server sees a cut
    conn.sock.close()
    offset = wait_for(lambda: live_server.call("GET", url)[1]["offset"] or None, timeout=20)
    assert 0 < offset <= half
    conn = live_server.conn()
    send(conn, "PATCH", url, {**live_server.headers, "Upload-Offset": str(offset)}, size - offset,
         file_chunks(source, offset))
    status, body = answer(conn)
    assert status == 200, body
    assert body["offset"] == size and body["status"] == "validating"
    assert body["sha256"] == sha256_of(source)
    assert sha256_of(live_server.training_dir / body["path"]) == body["sha256"]


def test_cancel_mid_stream_leaves_no_bytes(live_server, dataset, big_file):
    where = folder(live_server, dataset)
    cancelled = {}

    def cancel_once(sent: int):
        if sent >= 40 * MiB and not cancelled:
            _, record = live_server.call("GET", f"/v1/datasets/{dataset}")
            (flying,) = record["upload_progress"]["uploads"]
            cancelled.update(live_server.call("DELETE", f"/v1/uploads/{flying['upload_id']}")[1])
        return None

    conn = live_server.conn()
    try:
        send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server), big_file.stat().st_size,
             file_chunks(big_file), after=cancel_once)
        status, body = answer(conn)
        assert status == 409 and "cancelled" in body["detail"]
    except ConnectionError:
        pass  # the server may close on us instead of reading the rest: either way nothing is kept
    assert cancelled["status"] == "aborted"
    assert wait_for(lambda: not any(where.iterdir()), timeout=20)
    _, record = live_server.call("GET", f"/v1/datasets/{dataset}")
    assert record["files"] == [] and record["upload_progress"]["uploads"] == []


def test_a_client_that_disconnects_leaves_no_orphan(live_server, dataset, big_file):
    where = folder(live_server, dataset)
    conn = live_server.conn()
    send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server), big_file.stat().st_size,
         file_chunks(big_file, 0, 20 * MiB))
    conn.sock.close()
    wait_for(lambda: live_server.call("GET", f"/v1/datasets/{dataset}")[1]["upload_progress"]["uploads_in_flight"] == 0,
             timeout=20)
    assert not any(where.iterdir())


def test_concurrent_uploads_to_one_dataset_do_not_collide(live_server, dataset, tmp_path):
    sources = [make_file(tmp_path / f"c{i}.jsonl", (i + 2) * 8 * MiB) for i in range(3)]
    results = [None] * 3

    def go(i):
        conn = live_server.conn()
        send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server, "same.jsonl"),
             sources[i].stat().st_size, file_chunks(sources[i]))
        results[i] = answer(conn)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(status == 200 for status, _ in results), results
    assert len({body["stored_name"] for _, body in results}) == 3
    for source, (_, body) in zip(sources, results):
        assert body["filename"] == "same.jsonl" and body["sha256"] == sha256_of(source)
        assert (live_server.training_dir / body["path"]).stat().st_size == source.stat().st_size


def test_a_declared_size_over_the_limit_is_refused_before_the_body(live_server, dataset):
    conn = live_server.conn()
    send(conn, "PUT", f"/v1/datasets/{dataset}/files", raw_headers(live_server), 2 << 30, [])
    status, body = answer(conn)
    assert status == 413 and "PORTAL_MAX_UPLOAD_BYTES" in body["detail"]
