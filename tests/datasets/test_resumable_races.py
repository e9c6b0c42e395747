"""Resumable uploads stay right when chunks race or land on another worker (issue 15.7, 15.8)."""
import hashlib
import io
import threading
import time

from portal.datasets import transfers
from tests.datasets.conftest import ALPACA
from tests.support import wait_for


class SlowBody(io.BytesIO):
    """A request body that arrives in `pieces`, `pause` seconds apart."""

    def __init__(self, data: bytes, pieces: int = 5, pause: float = 0.1):
        super().__init__(data)
        self.piece, self.pause = max(1, -(-len(data) // pieces)), pause

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.pause)
        return super().read(self.piece if size is None or size < 0 else min(size, self.piece))


def create(client, headers, dataset, data, name="r.jsonl"):
    response = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": name, "length": len(data)},
                           headers=headers)
    assert response.status_code == 201
    return response.headers["Location"]


def patch(client, url, headers, body, offset, length):
    return client.patch(url, input_stream=body, headers={
        **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})


def test_a_chunk_waiting_for_the_lock_finds_the_upload_finished(app, token, dataset, monkeypatch):
    """A finishes the upload; B (same offset, other bytes, 0.2 s later) must not rewrite the file
    between A's hash and the rename."""
    headers = token["operator"]
    data_a = ALPACA * 20
    data_b = ALPACA.replace(b"bonjour", b"BONJOUR") * 20
    url = create(app.test_client(), headers, dataset, data_a)
    finish = transfers.finish

    def slow_finish(*args, **kwargs):  # widens the window between the last chunk and the rename
        time.sleep(0.6)
        return finish(*args, **kwargs)

    monkeypatch.setattr(transfers, "finish", slow_finish)
    answers = {}

    def send(name, data, delay):
        time.sleep(delay)
        answers[name] = patch(app.test_client(), url, headers, SlowBody(data), 0, len(data))

    threads = [threading.Thread(target=send, args=("a", data_a, 0)),
               threading.Thread(target=send, args=("b", data_b, 0.2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = answers["a"].get_json(), answers["b"]
    assert a["status"] == "ready" and b.status_code == 409
    stored = (app.config["PORTAL"].training_dir / a["path"]).read_bytes()
    assert stored == data_a and a["sha256"] == hashlib.sha256(data_a).hexdigest()


def test_a_resent_chunk_on_another_worker_does_not_leave_a_stale_hash(app, client, token, dataset, monkeypatch):
    headers = token["operator"]
    data = ALPACA * 40
    url = create(client, headers, dataset, data)
    assert patch(client, url, headers, SlowBody(data[:1000], 1, 0), 0, 1000).get_json()["offset"] == 1000
    # the re-send of bytes 500-1000, with other bytes, lands on another worker: its own hashers
    other = data[500:1000].replace(b"bonjour", b"BONJOUR")
    assert other != data[500:1000]
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(transfers, "_hashers", {})
        assert patch(client, url, headers, SlowBody(other, 1, 0), 500, 500).get_json()["offset"] == 1000
    # the rest comes back to this worker, whose hasher is still at 1000 (of the old bytes)
    rest = data[1000:]
    done = patch(client, url, headers, SlowBody(rest, 1, 0), 1000, len(rest)).get_json()
    expected = data[:500] + other + rest
    assert done["status"] == "ready"
    assert (app.config["PORTAL"].training_dir / done["path"]).read_bytes() == expected
    assert done["sha256"] == hashlib.sha256(expected).hexdigest()


def test_hashers_of_uploads_finished_elsewhere_do_not_pile_up(app, client, token, dataset):
    headers = token["operator"]
    for number in range(transfers.MAX_HASHERS + 5):
        url = create(client, headers, dataset, ALPACA * 2, name=f"r{number}.jsonl")
        patch(client, url, headers, SlowBody(ALPACA, 1, 0), 0, len(ALPACA))
    assert wait_for(lambda: len(transfers._hashers) <= transfers.MAX_HASHERS, timeout=5)
