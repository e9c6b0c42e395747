"""File names bounded in UTF-8 bytes, and a browser's Windows path keeping its last part (issue 15.9)."""
import io

import pytest

from portal.datasets.models import DatasetFile
from portal.extensions import db
from tests.datasets.conftest import ALPACA, upload

LONG = "训" * 90 + ".jsonl"  # 276 bytes in UTF-8, 96 characters
FITS = "训" * 64 + ".jsonl"  # 198 bytes


def rows(app):
    with app.app_context():
        return db.session.scalars(db.select(DatasetFile)).all()


def test_long_non_ascii_names_are_refused_at_creation_by_every_kind(app, client, token, dataset):
    headers = token["operator"]
    raw = client.put(f"/v1/datasets/{dataset}/files", data=ALPACA, query_string={"filename": LONG},
                     headers={**headers, "Content-Type": "application/octet-stream"})
    multipart = upload(client, headers, dataset, ALPACA, filename=LONG)
    resumable = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": LONG, "length": len(ALPACA)},
                            headers=headers)
    for response in (raw, multipart, resumable):
        assert response.status_code == 400, response.get_json()
        assert "bytes in UTF-8" in response.get_json()["detail"]
    assert rows(app) == []


def test_a_name_just_within_the_bound_completes_and_deletes(app, client, token, dataset):
    headers = token["operator"]
    created = client.post(f"/v1/datasets/{dataset}/uploads", json={"filename": FITS, "length": len(ALPACA)},
                          headers=headers)
    assert created.status_code == 201
    upload_id = created.get_json()["upload_id"]
    done = client.patch(f"/v1/uploads/{upload_id}", data=io.BytesIO(ALPACA), headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 200 and done.get_json()["status"] == "ready"
    assert client.delete(f"/v1/uploads/{upload_id}", headers=headers).status_code == 200


@pytest.mark.parametrize("sent, kept", [("C:\\Users\\me\\t.jsonl", "t.jsonl"), ("训练.jsonl", "训练.jsonl")])
def test_a_browser_multipart_name_keeps_its_last_path_part(client, token, dataset, sent, kept):
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="' + sent.encode() +
            b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + ALPACA + b"\r\n--XyZ--\r\n")
    response = client.put(f"/v1/datasets/{dataset}/files", data=body, headers={
        **token["operator"], "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["filename"] == kept
