"""Where a run's outputs are read from, on its page (desktop and a 390 px phone), and the command presets.

The `demo` project's command passes {output_dir}, so its run reads the portal's own folder.
Screenshots land in var/screenshots/.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_ADMIN, sign_in

from tests.e2e.watch import Watch

pytestmark = pytest.mark.slow


def open_signed_in(page, base):
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{base}/")


def test_run_page_says_where_outputs_are_read_from(browser, demo_server, screenshots):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)
    open_signed_in(page, base)
    page.goto("/ui/projects/new")
    presets = page.locator("datalist#command-presets option")
    expect(presets.first).to_have_attribute("value", "llamafactory-cli train {config} output_dir={output_dir}")
    expect(page.get_by_label("Start command")).to_have_attribute("list", "command-presets")
    page.goto("/ui/projects/demo")
    page.get_by_role("button", name=re.compile(r"^▶? ?Run")).first.click()
    expect(page).to_have_url(re.compile(r"/ui/runs/\d+$"))
    outputs = page.locator("#run-outputs")
    expect(outputs).to_contain_text("Outputs read from")
    expect(outputs).to_contain_text("passed by the start command as {output_dir}")
    expect(outputs.locator("code")).to_have_text(re.compile(r"/outputs/demo/run-\d+$"))
    page.screenshot(path=str(screenshots / "run-outputs-desktop.png"), full_page=False)
    phone = browser.new_context(base_url=base, viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state())
    mobile = phone.new_page()
    mobile.goto(page.url)
    expect(mobile.locator("#run-outputs")).to_be_visible()
    width = mobile.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the run page scrolls sideways on a phone ({width} px)"
    mobile.screenshot(path=str(screenshots / "run-outputs-phone.png"), full_page=True)
    watch.clean("run page")
    phone.close()
    context.close()
