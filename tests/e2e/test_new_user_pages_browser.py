"""What a new user meets, in a real browser (issue 15: 16-19, 21, 26, 28, 32).

The server is conftest.py's `demo_server` (the demo project and an administrator). Each test
signs in, does what a user does, and looks at the page as it is drawn; screenshots of every
page changed land in var/screenshots, desktop and a 390 px phone.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_ADMIN, choose_files, sign_in
from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow
ALPACA = b'{"instruction": "Translate to French", "input": "good morning", "output": "bonjour"}\n'
RED = "#b91c1c"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def signed_in(browser, server, **device):
    context = browser.new_context(base_url=server.base_url, **(device or DESKTOP))
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{server.base_url}/")
    return page


def api(page, method: str, path: str, body=None) -> tuple[int, str]:
    """A JSON API call with the page's session and CSRF token."""
    return page.evaluate("""async ([method, path, body]) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const answer = await fetch(path, {method, headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                                          body: body === null ? undefined : JSON.stringify(body)});
        return [answer.status, await answer.text()];
    }""", [method, path, body])


def shots(browser, server, screenshots, name: str, path: str, ready=None) -> None:
    """`path` on desktop and on a phone, saved as <name>-desktop.png / <name>-phone.png; the phone must fit."""
    for device, settings in (("desktop", DESKTOP), ("phone", PHONE)):
        page = signed_in(browser, server, **settings)
        page.goto(path)
        if ready:
            ready(page)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=screenshots / f"{name}-{device}.png", full_page=True)
        if device == "phone":
            assert sideways(page) is None, f"{name}: {sideways(page)}"
        page.context.close()


def progress_colour(row) -> str:
    return row.locator("progress").evaluate("(e) => getComputedStyle(e).getPropertyValue('--pico-progress-color').trim()")


def test_dataset_badge_and_upload_bars_follow_the_uploads(browser, demo_server, screenshots, tmp_path):
    page = signed_in(browser, demo_server)
    watch = Watch(page)
    status, body = api(page, "POST", "/v1/datasets", {"name": "badge-ds"})
    assert status == 200, body
    page.goto("/ui/datasets/")
    page.get_by_role("link", name="badge-ds").click()
    badge = page.locator("#dataset-status")
    expect(badge).to_have_text("empty")
    good, bad, empty = tmp_path / "train.jsonl", tmp_path / "bad.jsonl", tmp_path / "empty.jsonl"
    good.write_bytes(ALPACA * 50)
    bad.write_bytes(b'{"instruction": "no output"}\n')
    empty.write_bytes(b"")

    choose_files(page, str(good))
    expect(page.locator("#upload-list li").first).to_contain_text("ready")
    expect(badge).to_have_text("ready")  # without a reload (issue 15.17)
    good_row = page.locator("#upload-list li").first
    assert progress_colour(good_row) != RED
    watch.clean("a good upload")

    choose_files(page, str(bad))
    bad_row = page.locator("#upload-list li").first
    expect(bad_row).to_have_class(re.compile(r"\bupload-invalid\b"))
    assert progress_colour(bad_row) == RED
    expect(page.locator("#dataset-files .status-invalid")).to_have_count(1)
    expect(badge).to_have_text("ready")  # an invalid file beside a ready one: the dataset is usable

    choose_files(page, str(empty))
    failed_row = page.locator("#upload-list li").first
    expect(failed_row).to_have_class(re.compile(r"\bupload-failed\b"))
    expect(failed_row.locator(".upload-text")).not_to_contain_text("[object")  # the server's reason, as words
    assert progress_colour(failed_row) == RED
    page.screenshot(path=screenshots / "dataset-uploads-desktop.png", full_page=True)

    # the file page: each fact's label above its value, the registration snippet inside its card (15.16)
    page.locator("#dataset-files").get_by_role("link", name="train.jsonl").click()
    page.get_by_role("button", name="Register in dataset_info.json").click()
    expect(page.locator("pre.entry")).to_be_visible()
    for fact in page.locator("article dl.facts > div").all()[:3]:
        label, value = fact.locator("dt").bounding_box(), fact.locator("dd").bounding_box()
        assert abs(label["x"] - value["x"]) < 2 and value["y"] > label["y"], (label, value)
    card = page.locator("pre.entry").locator("xpath=ancestor::article[1]").bounding_box()
    entry = page.locator("pre.entry").bounding_box()
    assert entry["x"] + entry["width"] <= card["x"] + card["width"] + 1
    file_path = page.url.removeprefix(demo_server.base_url)
    dataset_path = page.locator(".crumbs a").nth(1).get_attribute("href")
    page.context.close()
    shots(browser, demo_server, screenshots, "dataset-file", file_path)
    shots(browser, demo_server, screenshots, "dataset", dataset_path)


def test_new_forms_stay_quiet_until_typed_in(browser, demo_server, screenshots):
    page = signed_in(browser, demo_server)
    watch = Watch(page)
    page.goto("/ui/projects/new")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#project-form .flash-error, #project-form .field-error")).to_have_count(0)
    with page.expect_response(re.compile(r"/ui/projects/validate")):
        page.get_by_label("Name", exact=True).press_sequentially("Bad!", delay=20)
    expect(page.locator("#form-feedback .flash-error")).to_have_count(1)  # said once
    page.goto("/ui/configs/new")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#config-check .flash-error")).to_have_count(0)
    expect(page.locator("textarea#content")).not_to_have_attribute("aria-invalid", "true")
    watch.clean("new forms")
    shots(browser, demo_server, screenshots, "project-new", "/ui/projects/new")


def test_config_editor_marks_the_error_line_and_clears_once_fixed(browser, demo_server, screenshots):
    page = signed_in(browser, demo_server)
    page.goto("/ui/configs/new")
    content = page.locator("textarea#content")
    gutter = page.locator(".code-editor .gutter span")
    expect(gutter).to_have_count(len(content.input_value().split("\n")))
    page.get_by_label("Name", exact=True).fill("broken")
    content.fill("learning_rate: 1.0e-4\nnum_train_epochs: [1\ncutoff_len: 1024\n")
    page.get_by_role("button", name="Create config").click()  # a failed save: the page comes back red
    expect(content).to_have_attribute("aria-invalid", "true")
    marks = page.locator(".code-editor .gutter .mark")
    expect(marks.first).to_be_visible()
    marked = int(marks.first.inner_text())
    assert 2 <= marked <= 4, marked  # the line of the unclosed list, or where YAML noticed it
    page.screenshot(path=screenshots / "config-editor-error-desktop.png", full_page=True)
    content.fill("learning_rate: 1.0e-4\nnum_train_epochs: 1\ncutoff_len: 1024\n")
    expect(page.locator("#config-check")).to_have_attribute("data-invalid", "false")
    expect(content).not_to_have_attribute("aria-invalid", "true")  # issue 15.19: the red state goes
    expect(marks).to_have_count(0)
    expect(gutter).to_have_count(4)
    page.context.close()
    phone = signed_in(browser, demo_server, **PHONE)
    phone.goto("/ui/configs/new")
    phone.locator("textarea#content").fill("a: 1\nb: [\n")
    expect(phone.locator(".code-editor .gutter .mark").first).to_be_visible()
    phone.screenshot(path=screenshots / "config-editor-error-phone.png", full_page=True)
    assert sideways(phone) is None, sideways(phone)


def test_project_says_what_is_missing_and_a_failed_run_says_why_on_top(browser, demo_server, screenshots):
    page = signed_in(browser, demo_server)
    watch = Watch(page)
    status, body = api(page, "POST", "/projects", {"name": "nowhere", "dataset_name": "datasets/none.jsonl",
                                                   "training_yaml_name": "configs/demo.yaml", "executor": "local",
                                                   "workdir": "no/such/dir", "start_command": "nowhere-cli train"})
    assert status == 200, body
    page.goto("/ui/projects/nowhere")
    missing = page.locator("#run-missing")
    expect(missing).to_contain_text("dataset_name datasets/none.jsonl")
    expect(missing).to_contain_text("no/such/dir")
    expect(page.locator("#run-button")).to_be_disabled()
    watch.clean("project page")
    shots(browser, demo_server, screenshots, "project-missing", "/ui/projects/nowhere")

    demo = api(page, "GET", "/projects/demo")[1]
    dataset = re.search(r'"dataset_name":\s*"([^"]+)"', demo).group(1)
    status, body = api(page, "POST", "/projects", {"name": "exits", "dataset_name": dataset,
                                                   "training_yaml_name": "configs/demo.yaml", "executor": "local",
                                                   "workdir": ".", "start_command": "sh -c 'echo oops; exit 3'"})
    assert status == 200, body
    page.goto("/ui/projects/exits")
    page.locator("#run-button").click()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "failed", timeout=60_000)
    reason = page.locator("#run-reason")
    expect(reason).to_contain_text("exit code 3")
    expect(reason).to_have_attribute("role", "alert")
    assert reason.bounding_box()["y"] < page.locator("#run-progress").bounding_box()["y"]
    run_path = page.url.removeprefix(demo_server.base_url)
    page.context.close()
    shots(browser, demo_server, screenshots, "run-failed", run_path,
          ready=lambda p: expect(p.locator("#run-reason")).to_be_visible())


def test_htmx_error_is_a_flash_not_a_page_in_the_target(browser, demo_server):
    page = signed_in(browser, demo_server)
    page.goto("/ui/projects/")
    with page.expect_response(re.compile(r"/ui/projects/nope/runs")) as answered:
        page.evaluate("""() => htmx.ajax("POST", "/ui/projects/nope/runs",
                                         {source: "#project-rows", target: "#project-rows", swap: "outerHTML"})""")
    assert answered.value.status == 404
    expect(page.locator("#flashes .flash-error")).to_contain_text("nope")
    expect(page.locator("#project-rows")).to_contain_text("demo")  # the target kept its rows
    expect(page.locator("header.topbar")).to_have_count(1)  # no second page inside the first


def test_api_docs_link_signs_in_first(browser, demo_server):
    context = browser.new_context(base_url=demo_server.base_url)
    page = context.new_page()
    page.goto("/login")
    page.locator("footer").get_by_role("link", name="API docs").click()
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)docs$"))
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{demo_server.base_url}/docs")
    context.close()


def test_slow_deidentification_shows_a_spinner(browser, demo_server, screenshots):
    page = signed_in(browser, demo_server)
    page.goto("/ui/deid/")
    busy = page.locator("#deid-busy")
    expect(busy).to_be_hidden()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 2500, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    page.locator("#policy").select_option("strict")
    expect(busy).to_be_visible()
    page.screenshot(path=screenshots / "deid-busy-desktop.png")
    expect(busy).to_be_hidden(timeout=30_000)
    page.locator("textarea#text").fill("客户张伟的电话是13812345678")
    expect(busy).to_be_visible()
    expect(page.locator("#deid-output")).to_contain_text("PERSON", timeout=30_000)
    expect(busy).to_be_hidden()
