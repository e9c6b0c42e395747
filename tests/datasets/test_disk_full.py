"""A disk too small or filling up answers 507 naming the directory, and leaves nothing (issue 15.10a)."""
import errno
import io
import os
from collections import namedtuple

import pytest

from portal import storage
from portal.datasets import uploads
from portal.datasets.models import DatasetFile
from portal.extensions import db
from tests.datasets.conftest import ALPACA, upload

Usage = namedtuple("Usage", "total used free")
MiB = 1 << 20


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_DISK_RESERVE": "1MiB", "PORTAL_VALIDATE_INLINE_BYTES": "1KiB"}


@pytest.fixture
def small_disk(monkeypatch):
    """The training disk has 30 MiB free."""
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda path: Usage(30 * MiB, 0, 30 * MiB))


@pytest.fixture
def disk_fills(monkeypatch):
    """Writes of upload bytes fail with ENOSPC after 1.2 MiB (in the second 1 MiB chunk)."""
    real, written = os.write, [0]

    def write(fd, data):
        room = 1200 * 1024 - written[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        done = real(fd, data[:room])
        written[0] += done
        return done

    monkeypatch.setattr(uploads.os, "write", write)


def leftovers(app):
    root = app.config["PORTAL"].training_dir / "datasets"
    return [p.name for p in root.rglob("*") if p.is_file() and p.name != "dataset_info.json"]


def rows(app):
    with app.app_context():
        return [(f.kind, f.status) for f in db.session.scalars(db.select(DatasetFile))]


def test_an_upload_larger_than_the_free_space_is_refused_up_front(app, client, token, dataset, small_disk):
    headers = token["operator"]
    raw = client.put(f"/v1/datasets/{dataset}/files", data=b"x" * (30 * MiB), query_string={"filename": "big.jsonl"},
                     headers={**headers, "Content-Type": "application/octet-stream"})
    resumable = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "big.jsonl", "length": 60 * MiB},
                            headers=headers)
    for response in (raw, resumable):
        assert response.status_code == 507
        detail = response.get_json()["detail"]
        assert "datasets" in detail and "30.0 MiB free" in detail and "PORTAL_DISK_RESERVE" in detail
    assert rows(app) == [] and leftovers(app) == []


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_a_disk_that_fills_mid_stream_is_507_and_leaves_nothing(app, client, token, dataset, disk_fills, kind):
    data = ALPACA * 20000  # about 1.7 MB
    if kind == "raw":
        response = client.put(f"/v1/datasets/{dataset}/files", data=data, query_string={"filename": "f.jsonl"},
                              headers={**token["operator"], "Content-Type": "application/octet-stream"})
    else:
        response = upload(client, token["operator"], dataset, data, filename="f.jsonl")
    assert response.status_code == 507
    assert "is full" in response.get_json()["detail"] and "datasets" in response.get_json()["detail"]
    assert rows(app) == [(kind, "failed")] and leftovers(app) == []


def test_a_resumable_chunk_that_fills_the_disk_can_be_resumed(app, client, token, dataset, disk_fills, monkeypatch):
    data = ALPACA * 20000
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "r.jsonl", "length": len(data)},
                          headers=token["operator"])
    url = created.headers["Location"]
    chunk = client.patch(url, data=io.BytesIO(data), headers={**token["operator"], "Upload-Offset": "0"})
    assert chunk.status_code == 507
    offset = int(client.head(url, headers=token["operator"]).headers["Upload-Offset"])
    assert 0 < offset < len(data) and rows(app) == [("resumable", "receiving")]
    monkeypatch.undo()  # space was freed
    rest = client.patch(url, data=io.BytesIO(data[offset:]), headers={**token["operator"], "Upload-Offset": str(offset)})
    assert rest.status_code == 200 and rest.get_json()["status"] == "validating"  # large: the supervisor validates


def test_a_deid_job_is_refused_when_its_copy_would_not_fit(app, client, token, dataset, monkeypatch):
    done = upload(client, token["operator"], dataset, ALPACA * 5, filename="d.jsonl").get_json()
    assert done["status"] == "ready"
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda path: Usage(MiB, 0, MiB))  # all in reserve
    response = client.post(f"/v1/datasets/{dataset}/files/{done['upload_id']}/deidentify",
                           json={"policy_id": "default"}, headers=token["operator"])
    assert response.status_code == 507 and "PORTAL_DISK_RESERVE" in response.get_json()["detail"]


def test_a_missing_dataset_or_an_oversized_file_is_told_so_before_the_disk(client, token, dataset, small_disk):
    missing = client.post("/v1/datasets/nope/uploads", json={"filename": "a.jsonl", "length": 2**63 - 1},
                          headers=token["operator"])
    assert missing.status_code == 404
    oversized = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "a.jsonl", "length": 2**63 - 1},
                            headers=token["operator"])
    assert oversized.status_code == 413


def test_registering_on_a_full_disk_is_507_and_keeps_dataset_info(app, client, token, dataset, monkeypatch):
    done = upload(client, token["operator"], dataset, ALPACA * 5, filename="d.jsonl").get_json()
    info = app.config["PORTAL"].training_dir / "datasets" / "dataset_info.json"
    before = info.read_text() if info.exists() else None

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as disk:
        disk.setattr("portal.datasets.llamafactory.json.dump", full)
        response = client.post(f"/v1/datasets/{dataset}/files/{done['upload_id']}/register", json={},
                               headers=token["operator"])
    assert response.status_code == 507 and "is full" in response.get_json()["detail"]
    assert (info.read_text() if info.exists() else None) == before
