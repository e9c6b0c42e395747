"""The users admin page: create users, change roles, keep at least one admin."""
from portal.auth.models import User
from portal.extensions import db


def test_admin_adds_a_user_who_can_sign_in(client, auth, users):
    auth.login("admin")
    response = auth.post("/ui/admin/users", {"username": "newbie", "role": "operator",
                                             "password": "fresh-password"})
    assert response.status_code == 302
    assert "newbie" in client.get("/ui/admin/users").get_data(as_text=True)
    auth.logout()
    assert auth.login("newbie", "fresh-password").status_code == 302


def test_admin_changes_a_role(app, auth, users):
    auth.login("admin")
    auth.post(f"/ui/admin/users/{users['viewer']}", {"role": "operator", "active": "y"})
    with app.app_context():
        assert db.session.get(User, users["viewer"]).role == "operator"


def test_last_admin_cannot_be_demoted(app, client, auth, users):
    auth.login("admin")
    response = auth.post(f"/ui/admin/users/{users['admin']}", {"role": "viewer", "active": "y"},
                         headers={"Referer": "http://localhost/ui/admin/users"})
    assert response.status_code == 302
    assert "last active administrator" in client.get("/ui/admin/users").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, users["admin"]).role == "admin"


def test_duplicate_username_is_shown_in_the_form(client, auth, users):
    auth.login("admin")
    response = auth.post("/ui/admin/users", {"username": "viewer", "role": "viewer", "password": "whatever-123"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
