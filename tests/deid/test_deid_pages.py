"""De-identification pages: the live playground, policy pages, the editor with errors in place, CSRF, roles."""
HX = {"HX-Request": "true"}
PHONE_TEXT = "客户手机号 13812345678"


def test_playground_page_is_live_and_shows_the_sample_result(client, auth, users):
    auth.login("viewer")
    page = client.get("/ui/deid/").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms"' in page and 'hx-post="/ui/deid/preview"' in page
    assert '<mark class="ent ent-PHONE" title="PHONE">13812345678</mark>' in page  # original, highlighted
    assert "&lt;PHONE_1&gt;" in page and 'class="deid-mapping"' in page


def test_playground_fragment_for_htmx(client, auth, users):
    auth.login("viewer")  # viewers may run the playground: it changes nothing
    response = auth.post("/ui/deid/preview", {"policy": "default", "text": PHONE_TEXT, "seed": "1"}, headers=HX)
    body = response.get_data(as_text=True)
    # the content of the live region only: the region itself stays in the page (issue 15.33e)
    assert response.status_code == 200 and 'id="deid-output"' not in body and "aria-live" not in body
    assert "<html" not in body and "HX-Request" in response.headers["Vary"]
    assert '客户手机号 <mark class="ent ent-PHONE" title="PHONE">13812345678</mark>' in body
    assert '客户手机号 <mark class="ent ent-PHONE" title="PHONE">&lt;PHONE_1&gt;</mark>' in body
    assert "PHONE × 1" in body


def test_playground_without_htmx_renders_the_page(client, auth, users):
    auth.login("viewer")
    body = auth.post("/ui/deid/preview", {"policy": "mask", "text": PHONE_TEXT}).get_data(as_text=True)
    assert "<html" in body and "138****5678" in body and "cannot be reversed" in body


def test_playground_reports_problems_in_place(client, auth, users):
    auth.login("viewer")
    body = auth.post("/ui/deid/preview", {"policy": "nope", "text": PHONE_TEXT}, headers=HX).get_data(as_text=True)
    assert "flash-error" in body and "policy &#39;nope&#39; not found" in body


def test_playground_needs_the_csrf_token(client, auth, users):
    auth.login("viewer")
    response = client.post("/ui/deid/preview", data={"policy": "default", "text": PHONE_TEXT}, headers=HX)
    assert response.status_code == 400


def test_viewer_sees_policies_but_no_edit_buttons(client, auth, users, token):
    client.put("/v1/deid-policies/mine", json={"yaml": "entities:\n  PHONE: tag\n"}, headers=token["operator"])
    auth.login("viewer")
    listing = client.get("/ui/deid/policies").get_data(as_text=True)
    assert "/ui/deid/policies/default" in listing and "/ui/deid/policies/mine" in listing and "built-in" in listing
    assert "New policy" not in listing
    page = client.get("/ui/deid/policies/mine").get_data(as_text=True)
    assert "entities:" in page and 'id="edit-policy"' not in page and "Delete" not in page
    assert client.get("/ui/deid/new").status_code == 200  # reading the form is harmless …
    assert auth.post("/ui/deid/new", {"policy_id": "x", "yaml": "{}"}).status_code == 403  # … saving is not


def test_builtin_policy_page_offers_a_copy_not_an_edit(client, auth, users):
    auth.login("operator")
    page = client.get("/ui/deid/policies/mask").get_data(as_text=True)
    assert 'id="edit-policy"' not in page and "/ui/deid/new?base=mask" in page
    copy = client.get("/ui/deid/new?base=mask").get_data(as_text=True)
    assert "name: mask" in copy and "keep_first: 6" in copy  # the built-in spelled out, to edit
    assert client.get("/ui/deid/policies/mask/edit").status_code == 409


def test_new_policy_with_errors_shows_them_in_place_then_saves(client, auth, users):
    auth.login("operator")
    bad_yaml = "entities:\n  PHONE: {operator: maskk}\n"
    response = auth.post("/ui/deid/new", {"policy_id": "phones", "yaml": bad_yaml})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "1 problem in the policy" in body and "entities.PHONE.operator: unknown operator &#39;maskk&#39;" in body
    assert 'aria-invalid="true"' in body and "{operator: maskk}" in body  # the YAML is kept for fixing
    good = auth.post("/ui/deid/new", {"policy_id": "phones", "yaml": "entities:\n  PHONE: {operator: mask}\n"})
    assert good.status_code == 302 and good.location == "/ui/deid/policies/phones"
    again = auth.post("/ui/deid/new", {"policy_id": "phones", "yaml": "entities:\n  PHONE: tag\n"})
    assert again.status_code == 409 and "already exists" in again.get_data(as_text=True)


def test_edit_and_delete_a_policy(client, auth, users, token):
    client.put("/v1/deid-policies/mine", json={"yaml": "entities:\n  PHONE: tag\n"}, headers=token["operator"])
    auth.login("operator")
    form = client.get("/ui/deid/policies/mine/edit").get_data(as_text=True)
    assert "PHONE: tag" in form and 'hx-post="/ui/deid/check"' in form
    saved = auth.post("/ui/deid/policies/mine/edit", {"yaml": "description: now masked\nentities:\n  PHONE: mask\n"})
    assert saved.status_code == 302
    assert "now masked" in client.get("/ui/deid/policies/mine").get_data(as_text=True)
    deleted = auth.post("/ui/deid/policies/mine/delete")
    assert deleted.status_code == 302 and deleted.location == "/ui/deid/policies"
    assert client.get("/ui/deid/policies/mine").status_code == 404


def test_editor_check_lists_problems_or_tries_the_sample(client, auth, users):
    auth.login("operator")
    bad = auth.post("/ui/deid/check", {"yaml": "entities:\n  FOO: tag\nallow: 3\n", "sample": PHONE_TEXT},
                    headers=HX).get_data(as_text=True)
    assert 'id="policy-check"' not in bad and "2 problems in the policy" in bad  # the region's content
    assert "entities.FOO: unknown entity type" in bad
    good = auth.post("/ui/deid/check", {"yaml": "entities:\n  PHONE: {operator: mask, keep_last: 4}\n",
                                        "sample": PHONE_TEXT}, headers=HX).get_data(as_text=True)
    assert "The policy is valid" in good and "*******5678" in good
