"""Channels through the API: admins only, secrets write-only, bad input refused with a clear 4xx."""
import pytest

from tests.notify.conftest import channel


def test_an_admin_creates_lists_changes_and_deletes_a_channel(client, token, receivers):
    receiver = receivers("dingtalk")
    made = channel(client, token["admin"], receiver, secret="SECabc", projects=[], language="zh",
                   rules=[{"kind": "nonfinite", "metric": "loss"}])
    assert made["secret"] == "******" and "SECabc" not in str(made)
    assert made["url"].endswith("access_token=abcd…")
    listed = client.get("/v1/notification-channels", headers=token["admin"]).get_json()
    assert [c["name"] for c in listed] == ["team"] and "SECabc" not in str(listed)
    changed = client.patch(f"/v1/notification-channels/{made['id']}", json={"events": ["run.lost"], "secret": ""},
                           headers=token["admin"]).get_json()
    assert changed["events"] == ["run.lost"] and changed["secret"] is None and changed["language"] == "zh"
    assert client.delete(f"/v1/notification-channels/{made['id']}", headers=token["admin"]).status_code == 200
    assert client.get(f"/v1/notification-channels/{made['id']}", headers=token["admin"]).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_see_or_create_channels(client, token, receivers, role):
    made = channel(client, token["admin"], receivers(), secret="s3cret")
    assert client.get("/v1/notification-channels", headers=token[role]).status_code == 403
    assert client.get(f"/v1/notification-channels/{made['id']}", headers=token[role]).status_code == 403
    assert client.post("/v1/notification-channels", json={"name": "x", "kind": "webhook", "url": "http://a.example"},
                       headers=token[role]).status_code == 403
    assert client.get(f"/v1/notification-channels/{made['id']}/deliveries", headers=token[role]).status_code == 403


@pytest.mark.parametrize("body, says", [
    ({"kind": "webhook", "url": "ftp://example.com/x"}, "http"),
    ({"kind": "webhook", "url": "http://user:pw@example.com/x"}, "password"),
    ({"kind": "email", "to": ["not-an-address"]}, "e-mail"),
    ({"kind": "webhook", "url": "http://127.0.0.1:1/x", "projects": ["nope"]}, "nope"),
])
def test_bad_channels_are_refused_and_nothing_is_kept(client, token, body, says):
    response = client.post("/v1/notification-channels", json={"name": "bad", **body}, headers=token["admin"])
    assert response.status_code == 400 and says in response.get_json()["detail"]
    assert client.get("/v1/notification-channels", headers=token["admin"]).get_json() == []


@pytest.mark.parametrize("rule", [
    {"kind": "threshold", "metric": "loss", "op": "!=", "value": 1},
    {"kind": "threshold", "metric": "", "op": ">", "value": 1},
    {"kind": "stalled", "minutes": 0},
    {"kind": "gpu"},
])
def test_bad_rules_are_refused(client, token, rule):
    response = client.post("/v1/notification-channels", headers=token["admin"],
                           json={"name": "r", "kind": "webhook", "url": "http://127.0.0.1:1/", "rules": [rule]})
    assert response.status_code == 422


def test_a_taken_name_is_a_conflict(client, token, receivers):
    receiver = receivers()
    channel(client, token["admin"], receiver)
    response = client.post("/v1/notification-channels", json={"name": "team", "kind": "webhook", "url": receiver.url},
                           headers=token["admin"])
    assert response.status_code == 409


def test_the_test_endpoint_answers_with_the_receivers_reply(client, token, receivers):
    receiver = receivers("feishu", secret="fs-secret", replies=[(200, {"code": 19021, "msg": "sign match fail"})])
    made = channel(client, token["admin"], receiver, secret="fs-secret")
    result = client.post(f"/v1/notification-channels/{made['id']}/test", headers=token["admin"]).get_json()
    assert result == {"ok": False, "status": 200, "reply": '{"code": 19021, "msg": "sign match fail"}'}
    assert receiver.requests[0]["signature_ok"] is True


@pytest.mark.parametrize("field, value", [("name", "a\x00b"), ("url", "http://127.0.0.1/\x00"), ("secret", "s\x00")])
def test_a_nul_character_is_refused(client, token, field, value):
    body = {"name": "n", "kind": "webhook", "url": "http://127.0.0.1:1/", field: value}
    response = client.post("/v1/notification-channels", json=body, headers=token["admin"])
    assert response.status_code == 400
