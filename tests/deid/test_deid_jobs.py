"""De-identification jobs on dataset files, run by a real supervisor in its pool."""
import io
import json

import pytest

from portal.deid import parallel, services
from tests.datasets.conftest import make_dataset, upload
from tests.support import wait_for

RECORDS = [
    {"instruction": "客户手机号 13812345678，请回访", "input": "", "output": "好的，已联系 13812345678"},
    {"instruction": "Email me at alice@example.com", "input": "订单号 6222020200112233445", "output": "ok"},
    {"instruction": "no PII here", "input": "", "output": "版本 v1.2.3.4 发布于 12:34:56"},
]
DATA = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS).encode()


@pytest.fixture
def source(client, token):
    dataset_id = make_dataset(client, token["operator"])
    uploaded = upload(client, token["operator"], dataset_id, DATA, "train.jsonl").get_json()
    return dataset_id, uploaded["upload_id"]


def run_job(client, headers, supervisor, dataset_id, upload_id, deadline=30, **body):
    response = client.post(f"/v1/datasets/{dataset_id}/files/{upload_id}/deidentify", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["status"] == "queued"

    def ended():
        supervisor.tick()
        info = client.get(f"/v1/deid-jobs/{job['id']}", headers=headers).get_json()
        return info if info["status"] in ("succeeded", "failed") else None

    return wait_for(ended, deadline, 0.1)


def test_a_job_writes_a_deidentified_file_into_the_dataset(app, client, token, source, supervisor):
    dataset_id, upload_id = source
    job = run_job(client, token["admin"], supervisor, dataset_id, upload_id, policy_id="default",
                  fields=["instruction", "output"], with_mapping=True)
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["counts"]["records"] == 3
    assert job["counts"]["entities"] == {"PHONE": 2, "EMAIL": 1}
    assert job["counts"]["fields"] == {"instruction": {"PHONE": 1, "EMAIL": 1}, "output": {"PHONE": 1}}
    assert job["samples"][0]["before"].startswith("客户手机号 13812345678")
    dataset = client.get(f"/v1/datasets/{dataset_id}", headers=token["admin"]).get_json()
    made = next(f for f in dataset["files"] if f["upload_id"] == job["output_upload_id"])
    assert made["name"] == "train.deid.jsonl"
    path = app.config["PORTAL"].training_dir / "datasets" / "ds1" / made["stored_name"]
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["instruction"] == "客户手机号 <PHONE_1>，请回访"
    assert lines[0]["output"] == "好的，已联系 <PHONE_1>"  # one document: the same value, the same tag
    assert lines[1]["input"] == "订单号 6222020200112233445"  # not a named field, and an order number
    assert lines[2] == RECORDS[2]  # versions and clock times survive
    mapping = client.get(f"/v1/deid-jobs/{job['id']}/mapping", headers=token["admin"]).get_json()
    assert mapping["<PHONE_1>"] == "13812345678"


def test_samples_and_mapping_are_for_admins_only(client, token, source, supervisor):
    dataset_id, upload_id = source
    job = run_job(client, token["operator"], supervisor, dataset_id, upload_id, with_mapping=True)
    assert job["status"] == "succeeded" and job["has_mapping"] is True
    as_operator = client.get(f"/v1/deid-jobs/{job['id']}", headers=token["operator"]).get_json()
    assert as_operator["samples"] is None
    assert client.get(f"/v1/deid-jobs/{job['id']}/mapping", headers=token["operator"]).status_code == 403
    assert client.get(f"/v1/deid-jobs/{job['id']}", headers=token["admin"]).get_json()["samples"]


def test_bad_requests_are_refused(client, token, source):
    dataset_id, upload_id = source
    h = token["operator"]
    unknown = client.post(f"/v1/datasets/{dataset_id}/files/{upload_id}/deidentify", json={"policy_id": "nope"},
                          headers=h)
    assert unknown.status_code == 404
    missing = client.post(f"/v1/datasets/{dataset_id}/files/not-a-file/deidentify", json={}, headers=h)
    assert missing.status_code == 404
    viewer = client.post(f"/v1/datasets/{dataset_id}/files/{upload_id}/deidentify", json={},
                         headers=token["viewer"])
    assert viewer.status_code == 403


def test_a_text_file_is_deidentified_line_by_line(client, token, supervisor):
    h = token["admin"]
    dataset_id = make_dataset(client, h, name="notes")
    uploaded = upload(client, h, dataset_id, b"plain text 13812345678\n", "notes.txt").get_json()
    job = run_job(client, h, supervisor, dataset_id, uploaded["upload_id"])
    assert job["status"] == "succeeded" and job["counts"]["entities"] == {"PHONE": 1}
    files = client.get(f"/v1/datasets/{dataset_id}", headers=h).get_json()["files"]
    assert any(f["name"] == "notes.deid.txt" for f in files)


def test_a_big_file_is_done_by_worker_processes_with_the_bytes_of_one(app, client, token, supervisor):
    h = token["admin"]
    dataset_id = make_dataset(client, h, name="big")
    lines, size, i = [], 0, 0
    while size <= parallel.MIN_BYTES:  # big enough for one worker per core
        record = {"instruction": f"客户 1{3 + i % 7}{i * 7919 % 10**9:09d} 邮箱 u{i % 900}@b.cn", "output": "好"}
        lines.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        size, i = size + len(lines[-1]), i + 1
    data = b"".join(lines)
    uploaded = upload(client, h, dataset_id, data, "big.jsonl").get_json()
    job = run_job(client, h, supervisor, dataset_id, uploaded["upload_id"], deadline=600, with_mapping=True)
    assert job["status"] == "succeeded", job
    with app.app_context():
        expected, counts = io.BytesIO(), None
        counts, _, session = parallel.deidentify(services.deidentifier("default"), io.BytesIO(data), expected,
                                                 "jsonl", jobs=1, splitting="lf")
    assert job["counts"] == counts and counts["entities"] == {"PHONE": i, "EMAIL": i}
    dataset = client.get(f"/v1/datasets/{dataset_id}", headers=h).get_json()
    made = next(f for f in dataset["files"] if f["upload_id"] == job["output_upload_id"])
    path = app.config["PORTAL"].training_dir / "datasets" / "big" / made["stored_name"]
    assert path.read_bytes() == expected.getvalue()
    mapping = client.get(f"/v1/deid-jobs/{job['id']}/mapping", headers=h).get_json()
    assert mapping == session.mapping and len(mapping) == i + 900


def test_a_failed_job_leaves_no_output_file(app, client, token, source, supervisor):
    dataset_id, upload_id = source
    h = token["admin"]
    assert client.put("/v1/deid-policies/gone", json={"yaml": "extends: default\n"}, headers=h).status_code == 200
    job = client.post(f"/v1/datasets/{dataset_id}/files/{upload_id}/deidentify", json={"policy_id": "gone"},
                      headers=h).get_json()
    assert client.delete("/v1/deid-policies/gone", headers=h).status_code == 200
    supervisor.tick()
    done = wait_for(lambda: (j := client.get(f"/v1/deid-jobs/{job['id']}", headers=h).get_json())["status"]
                    in ("succeeded", "failed") and j, 30)
    assert done["status"] == "failed" and "gone" in done["error"]
    files = client.get(f"/v1/datasets/{dataset_id}", headers=h).get_json()["files"]
    assert [f["name"] for f in files] == ["train.jsonl"]
    assert not list((app.config["PORTAL"].training_dir / "datasets" / "ds1").glob("*.deid*"))


def test_the_file_page_panel_starts_a_job_and_the_report_page_shows_it(client, auth, users, token, source,
                                                                      supervisor):
    dataset_id, upload_id = source
    auth.login("admin")
    page = client.get(f"/ui/datasets/{dataset_id}/files/{upload_id}").get_data(as_text=True)
    assert f"/ui/deid/files/{dataset_id}/{upload_id}/jobs" in page  # the panel loads itself
    panel = auth.post(f"/ui/deid/files/{dataset_id}/{upload_id}/jobs",
                      {"policy": "default", "fields": "instruction", "with_mapping": "y"},
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert panel.lstrip().startswith('<section id="deid-jobs"') and 'hx-trigger="every 2s"' in panel
    job_id = int(panel.split("/ui/deid/jobs/")[1].split('"')[0])
    supervisor.tick()
    wait_for(lambda: client.get(f"/v1/deid-jobs/{job_id}", headers=token["admin"]).get_json()["status"]
             == "succeeded", 30)
    done = client.get(f"/ui/deid/files/{dataset_id}/{upload_id}/jobs").get_data(as_text=True)
    assert "every 2s" not in done and "succeeded" in done
    report = client.get(f"/ui/deid/jobs/{job_id}").get_data(as_text=True)
    assert "PHONE 1" in report and "13812345678" in report and "Download the mapping" in report
    auth.logout()
    auth.login("operator")
    hidden = client.get(f"/ui/deid/jobs/{job_id}").get_data(as_text=True)
    assert "13812345678" not in hidden and "Download the mapping" not in hidden
