"""API tokens: shown once, stored hashed, used as Bearer, revocable; and their CLI."""
import re

from portal.auth.models import ApiToken
from portal.extensions import db

TOKEN = re.compile(r'<code id="new-token">(ptk_[^<]+)</code>')


def test_token_created_in_the_ui_is_shown_once_and_stored_hashed(app, client, auth, users):
    auth.login("viewer")
    page = auth.post("/ui/tokens", {"label": "laptop"}).get_data(as_text=True)
    plain = TOKEN.search(page).group(1)
    assert TOKEN.search(client.get("/ui/tokens").get_data(as_text=True)) is None
    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken)).one()
        assert stored.label == "laptop"
        assert plain not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.status_code == 200 and me.get_json()["username"] == "viewer"


def test_htmx_token_form_returns_only_the_list(client, auth, users):
    auth.login("operator")
    response = auth.post("/ui/tokens", {"label": "ci"}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert '<section id="token-list">' in body and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_token_records_last_use_and_stops_working_when_revoked(app, client, token):
    header = token["operator"]
    assert client.get("/v1/me", headers=header).status_code == 200
    listed = client.get("/v1/tokens", headers=header).get_json()
    assert listed[0]["last_used_at"] is not None
    revoked = client.delete(f"/v1/tokens/{listed[0]['id']}", headers=header)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get("/v1/me", headers=header).status_code == 401


def test_api_creates_a_token_that_works(client, token):
    created = client.post("/v1/tokens", json={"label": "script"}, headers=token["viewer"])
    assert created.status_code == 201
    plain = created.get_json()["token"]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {plain}"}).get_json()["role"] == "viewer"


def test_cannot_revoke_someone_elses_token(app, client, token):
    others = client.get("/v1/tokens", headers=token["admin"]).get_json()
    response = client.delete(f"/v1/tokens/{others[0]['id']}", headers=token["viewer"])
    assert response.status_code == 404


def test_cli_creates_users_and_prints_a_token_alone(runner, client):
    result = runner.invoke(args=["users", "create", "ops", "--role", "operator", "--password-stdin"],
                           input="long-password-1\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tokens", "create", "ops", "--label", "deploy"])
    assert result.exit_code == 0
    plain = result.stdout.strip()
    assert re.fullmatch(r"ptk_[A-Za-z0-9_-]{40,}", plain)
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {plain}"}).get_json()
    assert me["username"] == "ops" and me["role"] == "operator"


def test_cli_refuses_bad_input(runner, users):
    result = runner.invoke(args=["users", "create", "x", "--role", "admin", "--password-stdin"], input="short\n")
    assert result.exit_code == 2 and "at least 8 characters" in result.output
    result = runner.invoke(args=["users", "create", "admin", "--role", "admin", "--password-stdin"],
                           input="long-password-1\n")
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(args=["tokens", "create", "ghost"])
    assert result.exit_code == 2 and "no user named" in result.output
