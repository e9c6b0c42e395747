"""Uploads through the app: bad input, size limits, resumable chunks, cancel, sweep, pool validation."""
import hashlib
import io
import os
import time
from datetime import timedelta

import pytest

from portal.datasets import transfers
from portal.datasets.models import DatasetFile
from portal.extensions import db
from portal.timeutil import utcnow
from tests.datasets.conftest import ALPACA, upload


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_MAX_UPLOAD_BYTES": "1MiB", "PORTAL_VALIDATE_INLINE_BYTES": "4KiB"}


def folder(app, name="ds1"):
    return app.config["PORTAL"].training_dir / "datasets" / name


def files_in(app, name="ds1"):
    path = folder(app, name)
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def raw(client, headers, dataset_id, data, filename="raw.jsonl", **kw):
    return client.put(f"/v1/datasets/{dataset_id}/files", data=data, query_string={"filename": filename},
                      headers={**headers, "Content-Type": "application/octet-stream"}, **kw)


def test_multipart_over_the_limit_is_413_and_leaves_nothing(app, client, token, dataset):
    response = upload(client, token["operator"], dataset, b"x" * (1024 * 1024 + 10))
    assert response.status_code == 413 and "PORTAL_MAX_UPLOAD_BYTES" in response.get_json()["detail"]
    assert files_in(app) == []
    with app.app_context():
        assert db.session.scalars(db.select(DatasetFile.status)).all() == ["failed"]


def test_raw_over_the_limit_is_413_before_a_byte_is_written(app, client, token, dataset):
    response = raw(client, token["operator"], dataset, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and files_in(app) == []


def test_chunked_raw_body_over_the_limit_stops_mid_stream(app, client, token, dataset):
    body = io.BytesIO(b"y" * (3 * 1024 * 1024))
    response = client.put(f"/v1/datasets/{dataset}/files?filename=c.jsonl", input_stream=body,
                          headers={**token["operator"], "Content-Type": "application/octet-stream"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and files_in(app) == []
    assert body.tell() < 3 * 1024 * 1024  # it stopped reading


@pytest.mark.parametrize("name, message", [
    ("../../etc/passwd.jsonl", "'..'"),
    ("/etc/passwd.jsonl", "absolute"),
    ("\\\\server\\share\\x.jsonl", "absolute"),
    ("bad\x00name.jsonl", "control"),
    ("tab\tname.jsonl", "control"),
    ("no_suffix", "suffixes"),
    ("evil.sh", "must end in"),
    ("....jsonl", "needs a name"),
])
def test_dangerous_file_names_are_refused(app, client, token, dataset, name, message):
    response = raw(client, token["operator"], dataset, ALPACA, filename=name)
    assert response.status_code == 400 and message in response.get_json()["detail"], response.get_json()
    assert files_in(app) == []


def test_a_file_name_with_a_path_keeps_its_last_part(app, client, token, dataset):
    body = upload(client, token["operator"], dataset, ALPACA, filename="exports/v2/训练 集.jsonl").get_json()
    assert body["filename"] == "训练_集.jsonl" and body["stored_name"].endswith("_训练_集.jsonl")
    windows = raw(client, token["operator"], dataset, ALPACA, filename="C:\\Users\\me\\train.jsonl").get_json()
    assert windows["filename"] == "train.jsonl"
    refused = upload(client, token["operator"], dataset, ALPACA, filename="../x.jsonl")
    assert refused.status_code == 400 and files_in(app) == sorted([body["stored_name"], windows["stored_name"]])


def test_file_name_from_a_header(client, token, dataset):
    response = client.put(f"/v1/datasets/{dataset}/files", data=ALPACA,
                          headers={**token["operator"], "Content-Type": "application/octet-stream",
                                   "X-Filename": "%E6%95%B0%E6%8D%AE.jsonl"})
    assert response.get_json()["filename"] == "数据.jsonl"


def test_empty_files_are_refused(app, client, token, dataset):
    assert upload(client, token["operator"], dataset, b"").status_code == 400
    assert raw(client, token["operator"], dataset, b"").status_code == 400
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "e.jsonl", "length": 0},
                          headers=token["operator"])
    assert created.status_code == 422
    tus = client.post(f"/v1/datasets/{dataset}/uploads", headers={
        **token["operator"], "Upload-Length": "0", "Upload-Metadata": "filename ZS5qc29ubA=="})
    assert tus.status_code == 400 and "empty" in tus.get_json()["detail"] and files_in(app) == []


def test_multipart_without_the_file_field_is_400(client, token, dataset):
    response = client.put(f"/v1/datasets/{dataset}/files", data={"other": (io.BytesIO(ALPACA), "a.jsonl")},
                          headers=token["operator"], content_type="multipart/form-data")
    assert response.status_code == 400 and "'file'" in response.get_json()["detail"]


def test_viewer_cannot_upload_and_cookie_uploads_need_the_csrf_header(client, token, dataset, auth):
    assert upload(client, token["viewer"], dataset, ALPACA).status_code == 403
    auth.login("operator")
    assert upload(client, {}, dataset, ALPACA).status_code == 400
    ok = upload(client, {"X-CSRFToken": auth.csrf("/ui/datasets/")}, dataset, ALPACA)
    assert ok.status_code == 200


def test_resumable_upload_in_chunks_with_offsets(app, client, token, dataset):
    headers = token["operator"]
    data = ALPACA * 40
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "r.jsonl", "length": len(data)},
                          headers=headers)
    assert created.status_code == 201 and created.headers["Upload-Offset"] == "0"
    upload_id = created.get_json()["upload_id"]
    url = created.headers["Location"]
    first = client.patch(url, data=data[:1000], headers={**headers, "Upload-Offset": "0"})
    assert first.get_json()["offset"] == 1000 and first.get_json()["status"] == "receiving"
    assert client.head(url, headers=headers).headers["Upload-Offset"] == "1000"
    ahead = client.patch(url, data=data[2000:3000], headers={**headers, "Upload-Offset": "2000"})
    assert ahead.status_code == 409 and "1000" in ahead.get_json()["detail"]
    again = client.patch(url, data=data[500:1500], headers={**headers, "Upload-Offset": "500"})  # resent bytes
    assert again.get_json()["offset"] == 1500
    end = len(data) - 1
    done = client.put(url, data=data[1500:], headers={**headers, "Content-Range": f"bytes 1500-{end}/{len(data)}"})
    body = done.get_json()
    assert body["status"] == "ready" and body["offset"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (app.config["PORTAL"].training_dir / body["path"]).read_bytes() == data
    assert client.post(f"{url}/complete", headers=headers).get_json()["status"] == "ready"
    assert files_in(app) == [f"{upload_id}_r.jsonl"]


def test_tus_style_creation_and_a_chunk_past_the_length(client, token, dataset):
    headers = token["operator"]
    created = client.post(f"/v1/datasets/{dataset}/uploads", headers={
        **headers, "Upload-Length": "10", "Upload-Metadata": "filename dC5qc29ubA=="})
    assert created.status_code == 201 and created.get_json()["filename"] == "t.jsonl"
    url = created.headers["Location"]
    too_long = client.patch(url, data=b"x" * 11, headers={**headers, "Upload-Offset": "0"})
    assert too_long.status_code == 400
    early = client.post(f"{url}/complete", headers=headers)
    assert early.status_code == 409 and "0 of 10" in early.get_json()["detail"]


def test_cancel_a_resumable_upload_removes_its_bytes(app, client, token, dataset):
    headers = token["operator"]
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "c.jsonl", "length": 5000},
                          headers=headers).get_json()
    url = f"/v1/uploads/{created['upload_id']}"
    client.patch(url, data=b"x" * 100, headers={**headers, "Upload-Offset": "0"})
    assert files_in(app) == [f".{created['upload_id']}.part"]
    assert client.delete(url, headers=headers).get_json()["status"] == "aborted"
    assert files_in(app) == []
    late = client.patch(url, data=b"x", headers={**headers, "Upload-Offset": "100"})
    assert late.status_code == 409


def test_concurrent_uploads_of_one_name_do_not_collide(app, client, token, dataset):
    bodies = [upload(client, token["operator"], dataset, ALPACA * n).get_json() for n in (1, 2)]
    assert bodies[0]["stored_name"] != bodies[1]["stored_name"]
    assert [(app.config["PORTAL"].training_dir / b["path"]).stat().st_size for b in bodies] == [len(ALPACA),
                                                                                             2 * len(ALPACA)]


def test_sweep_fails_orphans_and_removes_their_bytes(app, client, token, dataset):
    headers = token["operator"]
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": "o.jsonl", "length": 50},
                          headers=headers).get_json()
    stray = folder(app) / ".00000000-dead-4000-8000-000000000000.part"
    stray.write_bytes(b"left by a crash")
    os.utime(stray, (time.time() - 3600, time.time() - 3600))
    with app.app_context():
        row = db.session.get(DatasetFile, created["upload_id"])
        row.updated_at = utcnow() - timedelta(days=2)
        db.session.commit()
        assert transfers.sweep() == 2
        assert db.session.get(DatasetFile, created["upload_id"]).status == "failed"
    assert files_in(app) == []


def test_large_files_are_validated_by_the_supervisor_with_progress(app, client, token, dataset):
    from portal.supervisor import Supervisor

    body = upload(client, token["operator"], dataset, ALPACA * 200).get_json()  # over the 4 KiB inline limit
    assert body["status"] == "validating"
    record = client.get(f"/v1/datasets/{dataset}", headers=token["viewer"]).get_json()
    assert record["status"] == "validating" and record["upload_progress"]["validating"] == 1
    supervisor = Supervisor(app)
    try:
        deadline = time.monotonic() + 20
        while client.get(f"/v1/datasets/{dataset}", headers=token["viewer"]).get_json()["status"] != "ready":
            assert time.monotonic() < deadline
            supervisor.tick()
            time.sleep(0.05)
    finally:
        supervisor.close()
    (entry,) = client.get(f"/v1/datasets/{dataset}", headers=token["viewer"]).get_json()["files"]
    assert entry["records"] == 200 and entry["validated_bytes"] == entry["bytes"]
