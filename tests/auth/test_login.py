"""Sign-in, first-start setup, lock-out, remember-me, logout, CSRF."""
import re
from urllib.parse import urlsplit

import pytest

from portal.auth.models import User
from portal.extensions import db
from tests.conftest import PASSWORD


def test_setup_creates_the_first_admin_only_once(client, auth):
    assert client.get("/").location == "/setup"
    token = auth.csrf("/setup")
    response = client.post("/setup", data={"username": "root", "password": "s3cret-pass",
                                           "confirm": "s3cret-pass", "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # signed in as the new admin
    auth.logout()
    assert client.get("/setup").location == "/login"
    again = client.post("/setup", data={"username": "evil", "password": "s3cret-pass",
                                        "confirm": "s3cret-pass", "csrf_token": auth.csrf()})
    assert again.status_code == 302
    with client.application.app_context():
        assert [u.username for u in db.session.scalars(db.select(User))] == ["root"]


def test_the_admin_made_in_setup_has_signed_in(client, auth):
    """Setup signs the new administrator in: the users page must not say "never" (issue 15.27)."""
    client.post("/setup", data={"username": "root", "password": "s3cret-pass", "confirm": "s3cret-pass",
                                "csrf_token": auth.csrf("/setup")})
    page = client.get("/ui/admin/users").get_data(as_text=True)
    row = page.split("<td>root", 1)[1].split("</tr>", 1)[0]
    assert "never" not in row and re.search(r'<time datetime="[^"]+" title="[\d-]+ [\d:]+ UTC">', row), row


def test_setup_refuses_a_short_password(client, auth):
    response = client.post("/setup", data={"username": "root", "password": "short", "confirm": "short",
                                           "csrf_token": auth.csrf("/setup")})
    assert response.status_code == 400
    assert "at least 8 characters" in response.get_data(as_text=True)


def test_login_and_logout(client, auth, users):
    response = auth.login("operator")
    assert response.status_code == 302 and response.location == "/"
    assert "operator" in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, auth, users):
    response = auth.login("operator", "wrong-password")
    assert response.status_code == 401
    assert "Invalid username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_answer(client, auth, users):
    response = auth.login("nobody", "wrong-password")
    assert response.status_code == 401
    assert "Invalid username or password" in response.get_data(as_text=True)


def test_repeated_failures_lock_the_account(client, auth, users):
    for _ in range(3):  # PORTAL_LOGIN_MAX_FAILURES=3 in the test config
        auth.login("viewer", "wrong-password")
    response = auth.login("viewer")  # the right password no longer helps
    assert response.status_code == 401
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_login_follows_only_local_next(client, auth, users):
    token = auth.csrf()
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.location == "/"
    auth.logout()
    response = client.post("/login?next=/ui/tokens",
                           data={"username": "admin", "password": PASSWORD, "csrf_token": auth.csrf()})
    assert response.location == "/ui/tokens"


def test_login_without_csrf_token_is_rejected(client, users):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_remember_me_sets_a_persistent_cookie(client, auth, users):
    response = auth.login("admin", remember="y")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "Expires=" in cookie and "HttpOnly" in cookie and "Secure" in cookie


def test_session_cookie_flags(client, auth, users):
    response = auth.login("admin")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_disabled_user_cannot_sign_in(app, client, auth, users):
    with app.app_context():
        db.session.get(User, users["operator"]).active = False
        db.session.commit()
    assert auth.login("operator").status_code == 401


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
                                    "/%0d%0aSet-Cookie:x=1", "/\\evil.example", "https://evil.example/",
                                    "/%09%09/evil.example/x", "//evil.example", "javascript:alert(1)"])
def test_next_with_control_characters_never_leaves_the_site(client, auth, users, target):
    """Issue 15.2: control characters are dropped before the target is judged."""
    response = client.post(f"/login?next={target}",
                           data={"username": "admin", "password": PASSWORD, "csrf_token": auth.csrf()})
    assert response.status_code == 302
    location = response.location
    assert not urlsplit(location).netloc and not location.startswith("//"), location
    assert not any(ord(char) < 32 for char in location)
