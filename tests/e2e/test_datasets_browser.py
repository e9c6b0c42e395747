"""Datasets in a real browser: create one, drop a file (progress, validation), cancel a slow upload.

The server is conftest.py's `demo_server` (an administrator from the CLI). The upload goes
through static/js/upload.js: resumable chunks over XMLHttpRequest with the CSRF header. For
the cancel, Chromium's upload is throttled (DevTools) so the progress bar can be watched.
"""
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_ADMIN, choose_files, sign_in

pytestmark = pytest.mark.slow
ALPACA = b'{"instruction": "Translate to French", "input": "good morning", "output": "bonjour"}\n'


def test_upload_with_progress_and_cancel(browser, demo_server, screenshots, tmp_path):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{base}/")

    page.locator("nav.mainnav").get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("button", name="New dataset").click()
    page.get_by_label("Name").fill("browser-ds")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.locator("h1")).to_contain_text("browser-ds")

    small = tmp_path / "train.jsonl"
    small.write_bytes(ALPACA * 2000)
    choose_files(page, str(small))
    row = page.locator("#upload-list li").first
    expect(row).to_contain_text("uploaded · ready")
    expect(row.locator("progress")).to_have_js_property("value", 1)
    files = page.locator("#dataset-files")
    expect(files).to_contain_text("train.jsonl")
    expect(files.locator(".status-ready")).to_have_count(1)
    page.screenshot(path=screenshots / "dataset-upload.png", full_page=True)

    big = tmp_path / "big.jsonl"
    big.write_bytes(ALPACA * (48 * 1024 * 1024 // len(ALPACA)))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 4 * 1024 * 1024})
    choose_files(page, str(big))
    slow = page.locator("#upload-list li").first
    expect(slow.locator(".upload-text")).to_contain_text("MiB/s")
    page.wait_for_function("() => document.querySelector('#upload-list li progress').value > 0.02")
    page.screenshot(path=screenshots / "dataset-upload-progress.png", full_page=True)
    slow.get_by_role("button", name="Cancel").click()
    expect(slow).to_contain_text("Cancelled; nothing was kept.")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})

    dataset_id = page.locator("#dropzone").get_attribute("data-create-url").split("/")[3]
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    request = urllib.request.Request(f"{demo_server.direct_url}/v1/datasets/{dataset_id}", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        record = json.load(response)
    assert [f["name"] for f in record["files"]] == ["train.jsonl"]
    assert record["upload_progress"]["uploads"] == []
    assert not errors, errors
