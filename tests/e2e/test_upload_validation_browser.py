"""A file over PORTAL_VALIDATE_INLINE_BYTES: the upload widget follows the supervisor's validation
to its end instead of saying "validating" forever (issue 15.10)."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_ADMIN, choose_files, sign_in

pytestmark = pytest.mark.slow
ALPACA = b'{"instruction": "Translate to French", "input": "good morning", "output": "bonjour"}\n'


def test_a_file_validated_by_the_supervisor_ends_ready_in_the_widget(browser, demo_server, tmp_path):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{base}/")
    page.locator("nav.mainnav").get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("button", name="New dataset").click()
    page.get_by_label("Name").fill("validated-later")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.locator("h1")).to_contain_text("validated-later")

    big = tmp_path / "big.jsonl"
    big.write_bytes(ALPACA * (40 * 1024 * 1024 // len(ALPACA)))  # 40 MiB: over the default 32 MiB
    choose_files(page, str(big))
    row = page.locator("#upload-list li").first
    expect(row).to_contain_text("uploaded · ready", timeout=120_000)
    expect(row).to_have_class("upload upload-ready")
    context.close()


def test_more_files_at_once_than_the_server_streams_all_arrive(browser, demo_server, tmp_path):
    """Six files dropped together: the server streams four per user (429 for the others), and
    the widget waits its turn instead of failing them (issue 15.5)."""
    base = demo_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{base}/")
    page.locator("nav.mainnav").get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("button", name="New dataset").click()
    page.get_by_label("Name").fill("six-at-once")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.locator("h1")).to_contain_text("six-at-once")

    files = []
    for number in range(6):
        path = tmp_path / f"part{number}.jsonl"
        path.write_bytes(ALPACA * (3 * 1024 * 1024 // len(ALPACA)))
        files.append(str(path))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")  # slow enough that all six are streaming at the same moment
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 8 * 1024 * 1024})
    choose_files(page, files)
    rows = page.locator("#upload-list li")
    expect(rows).to_have_count(6)
    for index in range(6):
        expect(rows.nth(index)).to_contain_text("uploaded · ready", timeout=120_000)
    context.close()
