"""The gate: walks every route of the app, so a new route is covered without anyone remembering."""
import re

import pytest

PUBLIC = {"/healthz", "/_internal/health", "/login", "/setup"}
# post-only and public: the language switch works on the sign-in page too (tests/test_i18n.py)
PUBLIC_POSTS = {"/ui/account/language"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SELF_SERVICE = {"/logout", "/ui/tokens", "/ui/tokens/1/revoke", "/v1/tokens", "/v1/tokens/1", "/ui/account/"}
# running de-identification and chatting with a deployment change nothing stored, so viewers may
# (role="viewer" on these)
VIEWER_RUNS = {"/v1/deidentify:test", "/v1/deidentify", "/ui/deid/preview", "/deployments/1/chat"}


def concrete(rule) -> str:
    """A request path for a rule, with 1 for every variable part."""
    return re.sub(r"<[^>]+>", "1", rule.rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield concrete(rule), method


def test_public_routes_need_no_sign_in(client):
    for path in PUBLIC:
        assert client.get(path).status_code in (200, 302), path


def test_every_other_route_needs_a_user_or_token(app, client):
    checked = 0
    for path, method in routes(app):
        if path in PUBLIC or path in PUBLIC_POSTS:
            continue
        response = client.open(path, method=method)
        checked += 1
        if path.startswith(("/ui/", "/logout")) or path in ("/", "/docs"):  # pages: sign in first
            assert response.status_code == 302, (method, path, response.status_code)
            assert "/setup" in response.location or "/login" in response.location
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.get_json()["detail"] == "Not authenticated"
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert checked >= 10


def test_anonymous_pages_go_to_login_once_a_user_exists(client, users):
    response = client.get("/ui/projects/")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=/ui/projects/")


def test_bad_token_is_401_with_its_reason(client, users):
    response = client.get("/v1/me", headers={"Authorization": "Bearer ptk_nope"})
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Invalid or revoked API token"}


def test_viewer_gets_403_on_every_change(app, client, token):
    changes = [(p, m) for p, m in routes(app)
               if m in UNSAFE and p not in PUBLIC | PUBLIC_POSTS | SELF_SERVICE | VIEWER_RUNS]
    assert changes, "the walk found no change endpoints"
    for path, method in changes:
        response = client.open(path, method=method, headers=token["viewer"], json={})
        assert response.status_code == 403, (method, path, response.status_code)


def test_viewer_may_read_everything_but_admin_reads(app, client, token):
    admin_only = {r.rule for r in app.url_map.iter_rules()
                  if getattr(app.view_functions[r.endpoint], "_portal_role", None) == "admin"}
    assert "/v1/deid-jobs/<int:job_id>/mapping" in admin_only  # originals: admins only
    for rule in app.url_map.iter_rules():
        path = concrete(rule)
        if "GET" in rule.methods and path.startswith("/v1/"):
            expected = (403,) if rule.rule in admin_only else (200, 404, 422)  # 422: a required query is missing
            assert client.get(path, headers=token["viewer"]).status_code in expected, path


@pytest.mark.parametrize("role, status", [("viewer", 403), ("operator", 403), ("admin", 200)])
def test_users_admin_page_is_for_admins(auth, client, users, role, status):
    auth.login(role)
    assert client.get("/ui/admin/users").status_code == status


def test_a_token_beats_the_session_cookie(client, auth, users, token):
    auth.login("viewer")
    assert client.get("/v1/me").get_json()["username"] == "viewer"
    assert client.get("/v1/me", headers=token["operator"]).get_json()["username"] == "operator"
    bad = client.get("/v1/me", headers={"Authorization": "Bearer ptk_wrong"})
    assert bad.status_code == 401  # a wrong token is not rescued by the session
