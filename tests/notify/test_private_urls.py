"""Without PORTAL_NOTIFY_ALLOW_PRIVATE, channels may not call loopback, link-local or private addresses."""
import pytest


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_NOTIFY_ALLOW_PRIVATE": "off"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/hook",
                                 "http://[::ffff:192.168.1.1]/hook", "https://0.0.0.0/hook"])
def test_a_private_url_is_refused(client, token, url):
    response = client.post("/v1/notification-channels", json={"name": "p", "kind": "webhook", "url": url},
                           headers=token["admin"])
    assert response.status_code == 400
    assert "PORTAL_NOTIFY_ALLOW_PRIVATE" in response.get_json()["detail"]
