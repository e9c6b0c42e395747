"""The portal in a real browser: first start, sign-out/in, every page, tokens, API docs, phone.

One flow against the real server (gunicorn + embedded supervisor, see conftest.py), driven
by headless Chromium. Any console error (CSP violations included), uncaught page error,
failed request or 4xx/5xx answer fails the test. Screenshots land in var/screenshots/.
"""
import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.watch import Watch
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.slow

ADMIN = "admin"
PASSWORD = "correct-horse-9"
#: nav.mainnav links that must exist (label -> screenshot name); links added later are visited too
NAV = {"Dashboard": "dashboard", "Projects": "projects", "Datasets": "datasets", "Configs": "configs",
       "Deployments": "deployments", "De-identify": "deid", "Admin": "admin"}


def open_user_menu(page: Page):
    """Open the user menu (details.usermenu) and return it."""
    menu = page.locator("details.usermenu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    return menu


def supervisor_card(page: Page):
    return page.locator("article.card").filter(has=page.locator("header", has_text="Supervisor"))


def assert_dashboard(page: Page) -> None:
    expect(page.locator("h1")).to_have_text("Dashboard")
    # the page refreshes itself every 5 s, so a supervisor that is still starting shows up
    expect(supervisor_card(page).locator("p.big")).to_have_text("active", timeout=15_000)
    gpus = page.locator("table.gpus tbody tr")
    expect(gpus).to_have_count(2)
    expect(gpus.first).to_contain_text("Fake GPU")
    expect(gpus.first).to_contain_text("80.0 GiB")


def test_portal_in_a_browser(browser, portal_server, screenshots):
    base = portal_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)

    # first start: every page leads to the setup form until an administrator exists
    page.goto("/")
    expect(page).to_have_url(f"{base}/setup")
    expect(page.locator("h1")).to_have_text("Welcome")
    page.screenshot(path=screenshots / "setup.png", full_page=True)
    page.get_by_label("Administrator username").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("#flashes")).to_contain_text(f"Welcome, {ADMIN}")
    session = [c for c in context.cookies() if c["name"] == "session"]
    assert session and session[0]["secure"], f"no Secure session cookie kept: {context.cookies()}"
    assert_dashboard(page)
    watch.clean("setup")

    # sign out through the user menu, then sign in again
    open_user_menu(page).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(base)}/login$"))
    expect(page.locator("#flashes")).to_contain_text("You are signed out.")
    page.goto("/")  # signed out: back to the sign-in form, which returns here afterwards
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$|/login\?next=/$"))
    page.screenshot(path=screenshots / "login.png", full_page=True)
    sign_in(page, (ADMIN, PASSWORD))
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("details.usermenu summary")).to_contain_text(ADMIN)
    watch.clean("sign out and in")

    # every page of the main navigation, by clicking its link
    nav = page.locator("nav.mainnav")
    links = [(a.inner_text().strip(), a.get_attribute("href")) for a in nav.locator("a").all()]
    missing = set(NAV) - {label for label, _ in links}
    assert not missing, f"nav.mainnav lacks {sorted(missing)}: {links}"
    for label, href in links:
        name = NAV.get(label) or re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        with page.expect_navigation() as navigation:
            nav.get_by_role("link", name=label, exact=True).click()
        response = navigation.value
        assert response is not None and response.status == 200, f"{label}: {response and response.status}"
        expect(page).to_have_url(base + href)
        expect(page.locator("main h1")).to_have_count(1)
        expect(page.locator("main h1")).not_to_be_empty()
        assert not page.title().startswith("Error"), f"{label}: {page.title()}"
        expect(nav.locator('a[aria-current="page"]')).to_have_text(label)
        if name == "dashboard":
            assert_dashboard(page)
            # the live panel is re-rendered by htmx (only its block) every 5 s
            with page.expect_response(lambda r: r.url == f"{base}/" and r.request.headers.get("hx-request") == "true",
                                      timeout=8_000) as poll:
                pass
            assert poll.value.status == 200, f"dashboard refresh answered {poll.value.status}"
            expect(supervisor_card(page).locator("p.big")).to_have_text("active")
            expect(page.locator("table.gpus tbody tr")).to_have_count(2)
        page.screenshot(path=screenshots / f"{name}.png", full_page=True)
        watch.clean(f"nav {label}")

    # API tokens: created through the htmx form and shown exactly once
    open_user_menu(page).get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(f"{base}/ui/tokens")
    expect(page.locator("h1")).to_have_text("API tokens")
    page.get_by_label("Label").fill("e2e browser")
    with page.expect_response(lambda r: r.url == f"{base}/ui/tokens" and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Create token").click()
    assert posted.value.status == 200
    assert posted.value.request.headers.get("hx-request") == "true", "the form was not posted by htmx"
    new_token = page.locator("#new-token")
    expect(new_token).to_be_visible()
    token = new_token.inner_text().strip()
    assert len(token) >= 20, token
    expect(page.locator("#token-list tbody")).to_contain_text("e2e browser")
    page.screenshot(path=screenshots / "tokens.png", full_page=True)
    page.reload()
    expect(page.locator("#token-list tbody")).to_contain_text("e2e browser")
    expect(page.locator("#new-token")).to_have_count(0)
    watch.clean("API tokens")

    request = urllib.request.Request(portal_server.direct_url + "/v1/me",
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        me = json.load(response)
    assert me["username"] == ADMIN and me["role"] == "admin", me

    # Swagger UI from the vendored bundle, under the same CSP
    open_user_menu(page).get_by_role("link", name="API docs").click()
    expect(page).to_have_url(f"{base}/docs")
    operation = page.locator('.opblock-summary-path[data-path="/v1/me"]')
    expect(operation).to_be_visible(timeout=15_000)
    assert operation.inner_text().replace("\u200b", "") == "/v1/me"
    page.screenshot(path=screenshots / "docs.png", full_page=True)
    watch.clean("API docs")
    storage = context.storage_state()
    context.close()

    # the dashboard on a phone, signed in with the same session
    phone = browser.new_context(base_url=base, storage_state=storage, viewport={"width": 390, "height": 844},
                                device_scale_factor=2, is_mobile=True, has_touch=True)
    phone.set_default_timeout(10_000)
    page = phone.new_page()
    watch = Watch(page)
    page.goto("/")
    assert_dashboard(page)
    expect(page.locator("nav.mainnav")).to_be_hidden()  # folded behind the menu button on a phone
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("nav.mainnav")).to_be_visible()
    page.screenshot(path=screenshots / "dashboard-phone.png", full_page=True)
    watch.clean("phone dashboard")
    phone.close()
