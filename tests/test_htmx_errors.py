"""htmx requests that hit an error get the message as an out-of-band flash, never a page (issue 15.32)."""
HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/ui/projects/"}


def test_htmx_domain_error_answers_its_status_with_an_oob_flash(client, auth, users):
    auth.login("operator")
    response = auth.post("/ui/projects/nope/runs", headers={**HX, "Referer": "http://localhost/ui/projects/"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404  # was 302 to the referrer: a whole page swapped into the target
    assert response.headers["HX-Reswap"] == "none" and "HX-Request" in response.headers["Vary"]
    assert 'id="flashes" hx-swap-oob="true"' in body and "nope" in body and "<html" not in body


def test_htmx_http_error_is_a_flash_too(client, auth, users):
    auth.login("operator")
    response = client.post("/ui/projects/demo/archive", data={}, headers=HX)  # no CSRF token
    assert response.status_code == 400 and response.headers["HX-Reswap"] == "none"
    assert "<html" not in response.get_data(as_text=True)


def test_plain_form_post_still_goes_back_with_a_flash(client, auth, users):
    auth.login("operator")
    response = auth.post("/ui/projects/nope/runs", headers={"Referer": "http://localhost/ui/projects/"})
    assert response.status_code == 302 and response.location.endswith("/ui/projects/")


def test_docs_page_asks_to_sign_in_first(client, users):
    response = client.get("/docs")  # the footer's link on /login (issue 15.26)
    assert response.status_code == 302 and "/login?next=/docs" in response.location.replace("%2F", "/")
    assert client.get("/openapi.json").status_code == 401
