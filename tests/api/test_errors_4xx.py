"""Inputs that used to be 500s answer 4xx (issue 15.11: what schemathesis found, one test each)."""
import io

import pytest

BIG = "99999999999999999999"  # above 2**63 - 1


@pytest.fixture
def dataset_id(client, token):
    response = client.post("/v1/datasets", json={"name": "ds1"}, headers=token["operator"])
    assert response.status_code == 200
    return response.get_json()["id"]


@pytest.mark.parametrize("method, path", [
    ("GET", f"/v1/runs/{BIG}"), ("GET", f"/v1/runs/{BIG}/logs"), ("POST", f"/v1/runs/{BIG}/stop"),
    ("POST", f"/v1/runs/{BIG}/rerun"), ("GET", f"/v1/deid-jobs/{BIG}"),
    ("GET", f"/v1/train-configs/x/versions/{BIG}"), ("POST", f"/v1/train-configs/x/versions/{BIG}/restore"),
    ("PATCH", f"/v1/artifacts/{BIG}"), ("DELETE", f"/v1/tokens/{BIG}"), ("POST", f"/ui/tokens/{BIG}/revoke"),
])
def test_integers_beyond_64_bits_in_paths_are_404(client, token, method, path):
    assert client.open(path, method=method, json={}, headers=token["admin"]).status_code == 404


def test_openapi_bounds_integer_path_parameters(client, token):
    spec = client.get("/openapi.json", headers=token["viewer"]).get_json()
    (param,) = spec["paths"]["/v1/runs/{run_id}"]["get"]["parameters"]
    assert param["schema"] == {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1}


def test_an_id_past_what_postgresql_integer_holds_is_404_not_500(client, token):
    h = token["viewer"]
    assert client.get(f"/v1/runs/{2**31}", headers=h).status_code == 404
    assert client.get(f"/v1/runs?before={2**31}", headers=h).status_code == 422
    assert client.get(f"/v1/runs/{2**31 - 1}", headers=h).status_code == 404


@pytest.mark.parametrize("path", [f"/v1/runs?before={BIG}", f"/v1/runs/1/logs?after={BIG}",
                                  f"/v1/runs/1/output?offset={BIG}"])
def test_integers_beyond_64_bits_in_queries_are_422(client, token, path):
    response = client.get(path, headers=token["viewer"])
    assert response.status_code == 422 and response.get_json()["detail"][0]["loc"][0] == "query"


def test_metric_steps_beyond_64_bits_are_422(client, token):
    body = {"metrics": [{"key": "loss", "value": 1.0, "step": 2**70}]}
    response = client.post("/v1/runs/1/metrics", json=body, headers=token["operator"])
    assert response.status_code == 422


def test_null_for_a_field_that_cannot_be_empty_is_422(client, token, dataset_id):
    assert client.post("/projects", json={"name": "p1"}, headers=token["operator"]).status_code == 200
    owner = client.patch("/projects/p1", json={"owner": None}, headers=token["operator"])
    assert owner.status_code == 422 and owner.get_json()["detail"][0]["loc"] == ["body", "owner"]
    kind = client.patch(f"/v1/datasets/{dataset_id}", json={"type": None}, headers=token["operator"])
    assert kind.status_code == 422 and kind.get_json()["detail"][0]["loc"] == ["body", "type"]
    # where null means "the default" it still does
    assert client.patch("/projects/p1", json={"workdir": None}, headers=token["operator"]).status_code == 200
    unlink = client.patch(f"/v1/datasets/{dataset_id}", json={"train_config": None}, headers=token["operator"])
    assert unlink.status_code == 200


def test_reidentify_ignores_an_empty_replacement(client, token):
    response = client.post("/v1/reidentify", json={"text": ["a <X_1>"], "mapping": {"": "x", "<X_1>": "b"}},
                           headers=token["admin"])
    assert response.status_code == 200 and response.get_json()["text"] == ["a b"]
    only_empty = client.post("/v1/reidentify", json={"text": ["a"], "mapping": {"": ""}}, headers=token["admin"])
    assert only_empty.status_code == 200 and only_empty.get_json()["text"] == ["a"]


def test_yaml_values_python_cannot_build_are_placed_problems(client, token):
    response = client.put("/v1/train-configs/c1", data="a: " + "9" * 5000 + "\n",
                          headers={**token["operator"], "Content-Type": "application/yaml"})
    assert response.status_code == 422
    (problem,) = response.get_json()["detail"]
    assert "not a valid int" in problem["msg"] and problem["line"] == 1 and problem["column"] == 4


def test_an_impossible_date_is_text_as_llamafactory_reads_it(client, token):
    response = client.put("/v1/train-configs/c1", data="b: 9999-99-99\n",
                          headers={**token["operator"], "Content-Type": "application/yaml"})
    assert response.status_code in (200, 201), response.get_json()  # OmegaConf keeps dates as strings


def test_a_non_ascii_multipart_boundary_is_400(client, token, dataset_id):
    response = client.put(f"/v1/datasets/{dataset_id}/files", data=b"--x\r\n", headers={
        **token["operator"], "Content-Type": "multipart/form-data; boundary*=UTF-8''%E2%82%AC"})
    assert response.status_code == 400 and "boundary" in response.get_json()["detail"]


@pytest.mark.parametrize("offset", ["²", "٣", "1" * 20, "-1"])
def test_upload_offsets_must_be_ascii_numbers_of_bytes(client, token, dataset_id, offset):
    created = client.post(f"/v1/datasets/{dataset_id}/uploads", json={"filename": "a.jsonl", "length": 10},
                          headers=token["operator"])
    assert created.status_code == 201
    upload_id = created.get_json()["upload_id"]
    response = client.patch(f"/v1/uploads/{upload_id}", data=io.BytesIO(b"x"), headers={
        **token["operator"], "Upload-Offset": offset, "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 400 and "Upload-Offset" in response.get_json()["detail"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_metric_values_json_cannot_carry_are_422(client, token, value):
    body = '{"metrics": [{"key": "loss", "value": %s, "step": 1}]}' % value
    response = client.post("/v1/runs/1/metrics", data=body, headers={**token["operator"],
                                                                     "Content-Type": "application/json"})
    assert response.status_code == 422
