"""Health endpoints and the live dashboard."""
from portal.supervisor import Supervisor


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_internal_health_reports_database_supervisor_and_disk(app, client, token):
    client.environ_base["HTTP_AUTHORIZATION"] = token["viewer"]["Authorization"]
    report = client.get("/_internal/health").get_json()
    assert report["database"]["ok"] is True
    assert report["supervisor"]["alive"] is False and report["status"] == "degraded"
    assert report["disk"]["data_dir"]["free_bytes"] > 0
    Supervisor(app).tick()
    report = client.get("/_internal/health").get_json()
    assert report["status"] == "ok" and report["supervisor"]["alive"] is True
    assert report["supervisor"]["heartbeat_age_seconds"] < 5


def test_internal_health_shows_public_callers_the_status_only(app, client, auth, users):
    """Issue 15.6: host:pid, disk sizes and the database type are for signed-in callers."""
    Supervisor(app).tick()
    response = client.get("/_internal/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert client.get("/_internal/health", headers={"Authorization": "Bearer ptk_forged"}).get_json() == {"status": "ok"}
    auth.login("viewer")
    assert client.get("/_internal/health").get_json()["database"]["dialect"]


def test_dashboard_page_and_its_live_fragment(client, auth, users):
    auth.login("viewer")
    page = client.get("/")
    assert "<html" in page.get_data(as_text=True) and 'hx-trigger="every 5s"' in page.get_data(as_text=True)
    fragment = client.get("/", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="live"') and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_dashboard_shows_fake_gpus(app_config):
    from portal import create_app
    from portal.auth import services
    from portal.extensions import db

    app = create_app({**app_config, "PORTAL_FAKE_GPUS": "2x80GiB"})
    with app.app_context():
        db.create_all()
        services.create_user("admin", "password-123", "admin")
    client = app.test_client()
    from tests.conftest import AuthActions
    AuthActions(client).login("admin", "password-123")
    page = client.get("/").get_data(as_text=True)
    assert page.count("GPU-fake-") == 2 and "80.0 GiB" in page


def test_security_headers(client):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
