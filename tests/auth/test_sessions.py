"""Sign-in limits under parallel guesses, and sessions that end when they should (issue 15.3, 15.4)."""
import threading

from portal.auth import services as auth_services
from portal.extensions import db
from tests.conftest import PASSWORD, AuthActions


def _guess(app, results, username, password="wrong-password"):
    client = app.test_client()
    results.append(AuthActions(client).login(username, password).get_data(as_text=True))


def test_parallel_wrong_passwords_get_no_more_tries_than_the_limit(app, users):
    results = []
    threads = [threading.Thread(target=_guess, args=(app, results, "viewer")) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = sum("Invalid username or password" in page for page in results)
    assert checked <= 3 and len(results) == 16  # PORTAL_LOGIN_MAX_FAILURES=3 in the test config
    assert sum("Too many failed sign-ins" in page for page in results) == 16 - checked
    assert "Too many failed sign-ins" in AuthActions(app.test_client()).login("viewer").get_data(as_text=True)


def test_unknown_names_lock_like_real_ones(client, auth, users):
    answers = [auth.login("nobody", "wrong-password").get_data(as_text=True) for _ in range(4)]
    assert all("Invalid username or password" in page for page in answers[:3])
    assert "Too many failed sign-ins" in answers[3]


def test_one_address_may_fail_only_so_often(app_config):
    from portal import create_app

    app = create_app({**app_config, "PORTAL_LOGIN_ADDRESS_MAX_FAILURES": "4"})
    with app.app_context():
        db.create_all()
        auth_services.create_user("admin", PASSWORD, "admin")
    auth = AuthActions(app.test_client())
    for name in ("a1", "a2", "a3", "a4"):
        assert "Invalid username or password" in auth.login(name, "x" * 8).get_data(as_text=True)
    assert "Too many failed sign-ins" in auth.login("a5", "x" * 8).get_data(as_text=True)


def test_a_session_cookie_copied_before_logout_is_signed_out(client, auth, users):
    auth.login("viewer")
    stolen = client.get_cookie("session").value
    assert client.get("/v1/me").status_code == 200
    auth.logout()
    client.set_cookie("session", stolen)
    assert client.get("/v1/me").status_code == 401


def test_a_new_password_or_disabling_ends_existing_sessions(app, client, auth, users):
    auth.login("operator")
    assert client.get("/v1/me").status_code == 200
    with app.app_context():
        auth_services.update_user(users["operator"], password="another-pass-1")
    assert client.get("/v1/me").status_code == 401
    assert auth.login("operator", "another-pass-1").status_code == 302
    with app.app_context():
        auth_services.update_user(users["operator"], active=False)
        auth_services.update_user(users["operator"], active=True)
    assert client.get("/v1/me").status_code == 401


def test_remember_me_lasts_30_days_and_dies_with_the_session_generation(app, client, auth, users):
    response = auth.login("admin", remember="y")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "Max-Age=2592000" in cookie or "Expires=" in cookie
    remember = client.get_cookie("remember_token").value
    with app.app_context():
        assert app.config["REMEMBER_COOKIE_DURATION"].days == 30
    auth.logout()
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    assert fresh.get("/v1/me").status_code == 401


def test_an_admin_who_sets_their_own_password_stays_signed_in(client, auth, users):
    auth.login("admin")
    response = auth.post(f"/ui/admin/users/{users['admin']}", {"role": "admin", "active": "y",
                                                               "password": "brand-new-pass"})
    assert response.status_code == 302
    assert client.get("/v1/me").status_code == 200
