"""The admin pages for channels: only admins, add / change / test / delete, secrets never shown."""
import pytest

from tests.notify.conftest import channel


def test_an_admin_adds_a_channel_from_the_page_and_sees_it_masked(auth, client, users, receivers):
    receiver = receivers("wecom")
    auth.login("admin")
    response = auth.post("/ui/admin/notifications/", {"name": "wecom-team", "kind": "wecom", "url": receiver.url,
                                                      "secret": "never-shown", "events": ["run.failed", "run.lost"],
                                                      "language": "zh", "enabled": "y", "stalled_minutes": "30"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "wecom-team" in page and "never-shown" not in page and "abcdef123" not in page
    assert 'value="30"' in page
    listing = client.get("/ui/admin/notifications/").get_data(as_text=True)
    assert "access_token=abcd…" in listing


def test_a_bad_url_is_shown_on_the_form(auth, client, users):
    auth.login("admin")
    response = auth.post("/ui/admin/notifications/", {"name": "x", "kind": "webhook", "url": "ftp://nope",
                                                      "language": "en"})
    assert response.status_code == 400 and "http://" in response.get_data(as_text=True)


def test_the_test_button_shows_the_reply(auth, client, token, receivers):
    receiver = receivers(replies=[(200, {"errcode": 0})])
    made = channel(client, token["admin"], receiver)
    auth.login("admin")
    response = auth.post(f"/ui/admin/notifications/{made['id']}/test", headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="test-result"' in response.get_data(as_text=True)
    assert len(receiver.requests) == 1


def test_changing_a_channel_keeps_its_secret_unless_removed(app, auth, client, token, receivers):
    receiver = receivers()
    made = channel(client, token["admin"], receiver, secret="keep-me")
    auth.login("admin")
    form = {"name": "team", "kind": "webhook", "url": receiver.url, "language": "en", "events": ["run.lost"]}
    assert auth.post(f"/ui/admin/notifications/{made['id']}", form).status_code == 302
    assert client.get(f"/v1/notification-channels/{made['id']}", headers=token["admin"]).get_json()["secret"]
    assert auth.post(f"/ui/admin/notifications/{made['id']}", {**form, "remove_secret": "y"}).status_code == 302
    after = client.get(f"/v1/notification-channels/{made['id']}", headers=token["admin"]).get_json()
    assert after["secret"] is None and after["events"] == ["run.lost"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_reach_the_pages(auth, client, token, receivers, role):
    made = channel(client, token["admin"], receivers())
    auth.login(role)
    assert client.get("/ui/admin/notifications/").status_code == 403
    assert client.get(f"/ui/admin/notifications/{made['id']}").status_code == 403
    assert auth.post(f"/ui/admin/notifications/{made['id']}/delete").status_code == 403
