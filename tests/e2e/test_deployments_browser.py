"""Deployments in a real browser: deploy a model, wait for `running`, chat with streaming, stop.

The server is gunicorn with its embedded supervisor; `vllm` is the stand-in server of
tests/fixtures (a real process speaking vLLM's HTTP API). Screenshots land in var/screenshots/.
"""
import pytest
from playwright.sync_api import expect

from portal import ROOT
from tests.e2e.conftest import _flask, _free_port, _running_portal, _server_env, sign_in
from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow
ADMIN = ("admin", "correct-horse-9")


@pytest.fixture(scope="module")
def deploy_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-deploy")
    port = _free_port()
    base = 18600 + port % 200
    env = _server_env(tmp, port) | {"PORTAL_VLLM_BIN": str(ROOT / "tests" / "fixtures" / "bin" / "vllm"),
                                    "PORTAL_DEPLOY_PORTS": f"{base}-{base + 9}", "PORTAL_DEPLOY_GRACE_SECONDS": "2"}
    model = tmp / "training" / "models" / "qwen2.5"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "qwen2"}')
    _flask(env, "db", "upgrade")
    _flask(env, "users", "create", ADMIN[0], "--role", "admin", "--password-stdin", stdin=ADMIN[1] + "\n")
    with _running_portal(tmp, env, port) as server:
        yield server


def test_deploy_chat_with_streaming_and_stop(browser, deploy_server, screenshots):
    context = browser.new_context(base_url=deploy_server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/login")
    sign_in(page, ADMIN)
    expect(page).to_have_url(f"{deploy_server.base_url}/")
    page.goto("/ui/deployments/")
    page.get_by_role("button", name="New deployment").click()
    page.get_by_label("Model (folder under the training dir or a model root)").fill("models/qwen2.5")
    page.locator("#preferred_gpu").select_option("1")
    page.screenshot(path=str(screenshots / "deployments-new.png"), full_page=True)
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#deployment-status h1")).to_contain_text("qwen2.5")
    expect(page.locator("#deployment-status .badge")).to_have_text("running", timeout=60_000)
    expect(page.locator("#deployment-log")).to_contain_text("fake-vllm args:", timeout=20_000)
    watch.clean("deploy")

    page.locator("#chat-message").fill("hello from the browser")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-answer")).to_contain_text("hello from the browser", timeout=20_000)
    expect(page.locator("#chat-status")).to_have_text("✓")
    page.screenshot(path=str(screenshots / "deployments-show.png"), full_page=True)
    watch.clean("chat")

    phone = browser.new_context(base_url=deploy_server.base_url, viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(page.url)
    expect(small.locator("#deployment-status .badge")).to_have_text("running")
    small.screenshot(path=str(screenshots / "deployments-show-phone.png"), full_page=True)
    assert sideways(small) is None
    phone.close()

    page.locator("#stop-button").click()
    expect(page.locator("#deployment-status .badge")).to_have_text("stopped", timeout=60_000)
    page.goto("/ui/deployments/")
    expect(page.locator("#deployment-rows")).to_contain_text("stopped")
    page.screenshot(path=str(screenshots / "deployments-index.png"), full_page=True)
    watch.clean("stop")
    context.close()
