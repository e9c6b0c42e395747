"""The de-identification API: the seed example field by field, limits, policies, re-identification."""
import pytest

from portal import create_app
from portal.deid import services
from portal.extensions import db

SEED_BODY = {"policy_id": "default", "text": ["客户手机号 13812345678"],
             "options": {"return_mapping": True, "seed": 42}}
MASKING = ("description: phones masked\nextends: default\n"
           "entities:\n  PHONE: {operator: mask, keep_first: 3, keep_last: 4}\n")


def deid(client, headers, path="/v1/deidentify:test", **changes):
    return client.post(path, json={**SEED_BODY, **changes}, headers=headers)


def test_the_seed_example_field_by_field(client, token):
    response = deid(client, token["viewer"])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"policy_id", "results", "mapping"}
    assert body["policy_id"] == "default"
    (result,) = body["results"]
    assert result["text"] == "客户手机号 <PHONE_1>"
    (entity,) = result["entities"]
    assert entity == {"type": "PHONE", "start": 6, "end": 17, "replacement": "<PHONE_1>"}
    assert "客户手机号 13812345678"[entity["start"]:entity["end"]] == "13812345678"  # offsets into the original
    assert body["mapping"] == {"<PHONE_1>": "13812345678"}


def test_production_path_answers_the_same(client, token):
    assert deid(client, token["viewer"], "/v1/deidentify").get_json() == deid(client, token["viewer"]).get_json()


def test_mapping_is_null_unless_asked(client, token):
    body = deid(client, token["viewer"], options={"seed": 42}).get_json()
    assert body["mapping"] is None and body["results"][0]["text"] == "客户手机号 <PHONE_1>"
    minimal = client.post("/v1/deidentify", json={"text": ["a@b.cn"]}, headers=token["viewer"]).get_json()
    assert minimal["policy_id"] == "default" and minimal["mapping"] is None


def test_same_input_policy_and_seed_give_the_same_output(client, token):
    body = {"policy_id": "pseudonymize", "text": ["手机 13812345678 邮箱 wang@example.com"]}
    first = deid(client, token["viewer"], **body, options={"seed": 7, "return_mapping": True}).get_json()
    again = deid(client, token["viewer"], **body, options={"seed": 7, "return_mapping": True}).get_json()
    other = deid(client, token["viewer"], **body, options={"seed": 8, "return_mapping": True}).get_json()
    assert first == again
    assert first["results"][0]["text"] != other["results"][0]["text"]  # the seed picks the pseudonyms


def test_hash_is_stable_across_app_restarts(app_config, client, token):
    body = {"policy_id": "hashing", "text": ["13812345678"]}
    client.put("/v1/deid-policies/hashing", json={"yaml": "entities:\n  PHONE: hash\n"}, headers=token["operator"])
    first = deid(client, token["viewer"], **body).get_json()["results"][0]["text"]
    restarted = create_app(app_config).test_client()
    assert deid(restarted, token["viewer"], **body).get_json()["results"][0]["text"] == first


def test_unknown_policy_is_404(client, token):
    response = deid(client, token["viewer"], policy_id="nope")
    assert response.status_code == 404 and "nope" in response.get_json()["detail"]


@pytest.mark.parametrize("setting, body", [
    ("PORTAL_DEID_MAX_TEXTS", {"text": ["a"] * 4}),
    ("PORTAL_DEID_MAX_CHARS", {"text": ["12345", "123456"]}),
])
def test_limits_are_413_naming_the_setting(app_config, token, setting, body):
    app = create_app({**app_config, "PORTAL_DEID_MAX_TEXTS": "3", "PORTAL_DEID_MAX_CHARS": "10"})
    response = deid(app.test_client(), token["viewer"], **body)
    assert response.status_code == 413 and setting in response.get_json()["detail"]


def test_text_must_be_a_list_of_strings(client, token):
    response = deid(client, token["viewer"], text="客户手机号 13812345678")
    assert response.status_code == 422 and response.get_json()["detail"][0]["loc"] == ["body", "text"]


def test_policies_list_marks_builtins(client, token):
    policies = client.get("/v1/deid-policies", headers=token["viewer"]).get_json()
    builtin = {p["id"]: p for p in policies if p["builtin"]}
    assert set(builtin) == {"default", "mask", "pseudonymize", "strict"}
    assert "PHONE" in builtin["default"]["entities"] and builtin["default"]["updated_at"] is None


def test_policy_crud(client, token):
    put = client.put("/v1/deid-policies/phones", json={"yaml": MASKING}, headers=token["operator"])
    assert put.status_code == 200
    created = put.get_json()
    assert created["id"] == "phones" and created["builtin"] is False and created["yaml"] == MASKING
    assert created["description"] == "phones masked" and created["updated_at"].endswith("Z")
    got = client.get("/v1/deid-policies/phones", headers=token["viewer"]).get_json()
    assert set(got) >= {"id", "yaml", "description", "updated_at"} and got["yaml"] == MASKING
    used = deid(client, token["viewer"], policy_id="phones").get_json()
    assert used["results"][0]["text"] == "客户手机号 138****5678" and used["mapping"] == {}

    replaced = client.put("/v1/deid-policies/phones", json={"yaml": "entities:\n  PHONE: redact\n"},
                          headers=token["operator"]).get_json()
    assert replaced["updated_at"] >= created["updated_at"] and replaced["description"] == ""
    assert deid(client, token["viewer"], policy_id="phones").get_json()["results"][0]["text"] == "客户手机号 "

    deleted = client.delete("/v1/deid-policies/phones", headers=token["operator"])
    assert deleted.status_code == 200 and deleted.get_json() == {"detail": "policy deleted", "policy_id": "phones"}
    assert client.get("/v1/deid-policies/phones", headers=token["viewer"]).status_code == 404
    assert client.delete("/v1/deid-policies/phones", headers=token["operator"]).status_code == 404


def test_edited_policy_is_not_served_from_a_stale_cache(app, client, token):
    client.put("/v1/deid-policies/p", json={"yaml": "entities:\n  PHONE: tag\n"}, headers=token["operator"])
    assert deid(client, token["viewer"], policy_id="p").get_json()["results"][0]["text"] == "客户手机号 <PHONE_1>"
    client.put("/v1/deid-policies/p", json={"yaml": "entities:\n  PHONE: keep\n"}, headers=token["operator"])
    assert deid(client, token["viewer"], policy_id="p").get_json()["results"][0]["text"] == "客户手机号 13812345678"
    with app.app_context():
        assert services.deidentifier("default") is services.deidentifier("default")


def test_invalid_yaml_is_422_with_every_problem_located(client, token):
    response = client.put("/v1/deid-policies/bad", headers=token["operator"],
                          json={"yaml": "entities:\n  PHONE: {operator: maskk}\nallow: [[1]]\n"})
    assert response.status_code == 422
    assert response.get_json()["detail"] == [
        {"loc": ["body", "yaml", "entities", "PHONE", "operator"], "type": "policy",
         "msg": "entities.PHONE.operator: unknown operator 'maskk' "
                "(choose from tag, mask, redact, hash, pseudonymize, keep)"},
        {"loc": ["body", "yaml", "allow", 0], "type": "policy", "msg": "allow[0]: expected a string, got [1]"},
    ]
    syntax = client.put("/v1/deid-policies/bad", json={"yaml": "entities: [tag\n"}, headers=token["operator"])
    (entry,) = syntax.get_json()["detail"]
    assert entry["loc"] == ["body", "yaml"] and entry["msg"].startswith("line ") and "YAML syntax" in entry["msg"]
    assert client.get("/v1/deid-policies/bad", headers=token["viewer"]).status_code == 404  # nothing stored


def test_builtins_are_read_only(client, token):
    response = client.put("/v1/deid-policies/default", json={"yaml": MASKING}, headers=token["operator"])
    assert response.status_code == 409 and "read-only" in response.get_json()["detail"]
    assert client.delete("/v1/deid-policies/mask", headers=token["operator"]).status_code == 409


def test_policy_ids_are_slugs(client, token):
    response = client.put("/v1/deid-policies/Not%20A%20Slug", json={"yaml": MASKING}, headers=token["operator"])
    assert response.status_code == 400 and "slug" in response.get_json()["detail"]


def test_viewer_cannot_write_policies_or_reidentify(client, token):
    assert client.put("/v1/deid-policies/v", json={"yaml": MASKING}, headers=token["viewer"]).status_code == 403
    assert client.delete("/v1/deid-policies/v", headers=token["viewer"]).status_code == 403
    assert client.post("/v1/reidentify", json={"text": [], "mapping": {}}, headers=token["viewer"]).status_code == 403


def test_reidentify_round_trip(client, token):
    texts = ["客户手机号 13812345678，邮箱 wang@example.com", "再次 13812345678"]
    for policy in ("default", "pseudonymize"):
        body = deid(client, token["viewer"], policy_id=policy, text=texts).get_json()
        restored = client.post("/v1/reidentify", headers=token["operator"], json={
            "text": [r["text"] for r in body["results"]], "mapping": body["mapping"]})
        assert restored.status_code == 200 and restored.get_json() == {"text": texts}, policy


def test_policy_stored_by_whom(app, client, token, users):
    client.put("/v1/deid-policies/mine", json={"yaml": MASKING}, headers=token["operator"])
    with app.app_context():
        from portal.deid.models import DeidPolicy
        assert db.session.get(DeidPolicy, "mine").created_by == users["operator"]


def test_openapi_renders_the_colon_path(client, token):
    paths = client.get("/openapi.json", headers=token["viewer"]).get_json()["paths"]
    operation = paths["/v1/deidentify:test"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DeidRequest")
    assert "413" in operation["responses"] and "viewer" in operation["description"]
    assert {"get", "put", "delete"} <= set(paths["/v1/deid-policies/{policy_id}"])


def test_catastrophic_custom_regex_answers_at_once(client, token):
    """Issue 15.1: custom patterns run in RE2, so `(a+)+$` cannot stall a worker."""
    import time

    evil = "entities:\n  EVIL: {regex: '(a+)+$', operator: tag}\n"
    assert client.put("/v1/deid-policies/evil", json={"yaml": evil}, headers=token["operator"]).status_code in (200, 201)
    started = time.monotonic()
    response = deid(client, token["viewer"], "/v1/deidentify", policy_id="evil", text=["a" * 5000 + "!", "aaaa"])
    assert response.status_code == 200
    assert time.monotonic() - started < 2  # Python's re needs years for 5000 a's
    texts = [result["text"] for result in response.get_json()["results"]]
    assert texts == ["a" * 5000 + "!", "<EVIL_1>"]


@pytest.mark.parametrize("regex, reason", [
    ("(a)\\1", "invalid escape sequence"),
    ("(?=a)b", "invalid perl operator"),
    ("a{99999999999}", "above 1000"),
    ("a{2,1001}", "above 1000"),
])
def test_patterns_re2_cannot_run_are_refused_with_422(client, token, regex, reason):
    body = {"yaml": f"entities:\n  BAD: {{regex: '{regex}', operator: tag}}\n"}
    response = client.put("/v1/deid-policies/bad", json=body, headers=token["operator"])
    assert response.status_code == 422, response.get_data(as_text=True)
    assert reason in str(response.get_json()["detail"])


def test_custom_digits_still_match_full_width(client, token):
    policy = "entities:\n  EMP: {regex: 'EMP-\\d{4}', operator: tag}\n"
    client.put("/v1/deid-policies/emp", json={"yaml": policy}, headers=token["operator"])
    response = deid(client, token["viewer"], "/v1/deidentify", policy_id="emp", text=["工号 EMP-１２３４ 完"])
    assert response.get_json()["results"][0]["text"] == "工号 <EMP_1> 完"
