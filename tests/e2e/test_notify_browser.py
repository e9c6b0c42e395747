"""Notification channels in a real browser: an admin adds a DingTalk channel, tests it, reads the reply.

The receiver is tests/support.Receiver on 127.0.0.1 (PORTAL_NOTIFY_ALLOW_PRIVATE=on); screenshots
of the page on a desktop and a 390 px phone, in English and Chinese, land in var/screenshots/.
"""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import _flask, _free_port, _running_portal, _server_env, sign_in
from tests.support import Receiver

pytestmark = pytest.mark.slow
ADMIN = ("admin", "correct-horse-9")


@pytest.fixture(scope="module")
def notify_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-notify")
    port = _free_port()
    env = _server_env(tmp, port) | {"PORTAL_NOTIFY_ALLOW_PRIVATE": "on"}
    _flask(env, "db", "upgrade")
    _flask(env, "users", "create", ADMIN[0], "--role", "admin", "--password-stdin", stdin=ADMIN[1] + "\n")
    with _running_portal(tmp, env, port) as server:
        yield server


@pytest.fixture
def robot():
    receiver = Receiver("dingtalk", secret="SECbrowser")
    yield receiver
    receiver.close()


def test_an_admin_adds_and_tests_a_dingtalk_channel(browser, notify_server, robot, screenshots):
    context = browser.new_context(base_url=notify_server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    sign_in(page, ADMIN)
    page.goto("/ui/admin/users")
    page.get_by_role("link", name="Notifications").click()
    page.get_by_label("Name").fill("team-dingtalk")
    page.get_by_label("Kind").select_option("dingtalk")
    page.get_by_label("URL").fill(robot.url)
    page.get_by_label("Secret (signing key)").fill("SECbrowser")
    page.get_by_label("run failed").check()
    page.get_by_label("run lost").check()
    page.get_by_text("Rules on runs").click()
    page.get_by_label("Alert when a metric becomes NaN or infinite").check()
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("h1")).to_have_text("team-dingtalk")
    page.get_by_role("button", name="Send a test message").click()
    expect(page.locator("#test-result")).to_contain_text("Accepted")
    assert robot.requests[0]["signature_ok"] is True
    assert "SECbrowser" not in page.content()
    page.screenshot(path=str(screenshots / "notify-channel.png"), full_page=True)
    page.goto("/ui/admin/notifications/")
    expect(page.locator("table")).to_contain_text("team-dingtalk")
    page.screenshot(path=str(screenshots / "notify-index.png"), full_page=True)
    phone = browser.new_context(base_url=notify_server.base_url, viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state(), locale="zh-CN")
    mobile = phone.new_page()
    mobile.goto("/ui/admin/notifications/")
    page_width = mobile.evaluate("document.documentElement.scrollWidth")
    mobile.screenshot(path=str(screenshots / "notify-index-phone-zh.png"), full_page=True)
    assert page_width <= 390
    context.close(), phone.close()
