"""The training demo in a real browser: search, project page, Run, the live run page, Stop, Runs.

The server (conftest.py `demo_server`) has the `demo` project from `flask demo --steps 15`
and an administrator made with `flask users create`; one fake 24 GiB GPU, a 0.5 s tick.
The demo script takes about a second a step, so a run lasts some 20 s. As in
test_browser.py, any console error, uncaught page error, failed request or 4xx/5xx answer
fails the test. Screenshots land in var/screenshots/.
"""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_ADMIN, DEMO_STEPS, sign_in

from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow

RUN_SECONDS = 90  # queued → succeeded; the run itself takes ~20 s
RUN_URL = re.compile(r"/ui/runs/(\d+)$")


@pytest.fixture(scope="module")
def finished() -> dict:
    """What the first test leaves for the phone test: the session and the succeeded run's id."""
    return {}


def fact(page: Page, label: str):
    """The <dd> after the <dt> `label` in the run page's facts grid."""
    return page.locator("#run-status dl.facts dt").filter(has_text=re.compile(rf"^{re.escape(label)}$")) \
        .locator("xpath=following-sibling::dd[1]")


def run_id_of(page: Page) -> int:
    match = RUN_URL.search(page.url)
    assert match, f"not a run page: {page.url}"
    return int(match[1])


def progress(page: Page) -> float:
    return page.eval_on_selector("#run-progress", "p => p.value")


def test_demo_run_in_a_browser(browser, demo_server, screenshots, finished):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    # no page.on("dialog"): Playwright dismisses native dialogs, so a confirm() would block Stop
    watch = Watch(page)

    # sign in as the administrator the CLI created
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).to_have_url(f"{base}/")
    watch.clean("sign in")

    # Projects: the live search swaps the table through htmx, with no page load
    nav = page.locator("nav.mainnav")
    nav.get_by_role("link", name="Projects", exact=True).click()
    expect(page).to_have_url(f"{base}/ui/projects/")
    rows = page.locator("#project-rows tbody")
    expect(rows.get_by_role("link", name="demo", exact=True)).to_be_visible()
    page.evaluate("() => { window.__sameDocument = true; }")
    search = page.get_by_role("searchbox", name="Search")
    with page.expect_response(lambda r: "q=zzz" in r.url and r.request.headers.get("hx-request") == "true"):
        search.press_sequentially("zzz", delay=30)
    expect(rows).to_contain_text("No projects match")
    expect(rows.get_by_role("link", name="demo", exact=True)).to_have_count(0)
    search.press("Control+a")
    search.press("Backspace")
    with page.expect_response(lambda r: re.search(r"[?&]q=dem(&|$)", r.url)
                              and r.request.headers.get("hx-request") == "true") as searched:
        search.press_sequentially("dem", delay=30)
    assert searched.value.status == 200
    demo_link = rows.get_by_role("link", name="demo", exact=True)
    expect(demo_link).to_be_visible()
    expect(rows.locator("tr")).to_have_count(1)
    expect(rows).to_contain_text("demo.jsonl")  # the demo dataset in the library: datasets/demo/<id>_demo.jsonl
    expect(page).to_have_url(re.compile(r"/ui/projects/\?q=dem"))  # hx-push-url
    assert page.evaluate("() => window.__sameDocument === true"), "the search loaded a new page"
    watch.clean("project search")

    # the demo project: both resources found, Run enabled
    demo_link.click()
    expect(page).to_have_url(f"{base}/ui/projects/demo")
    expect(page.locator("main h1")).to_have_text("demo")
    resources = page.locator("article.card").filter(has=page.locator("header", has_text="Resources"))
    checks = resources.locator("ul.checks li")
    expect(checks).to_have_count(2)
    expect(checks.nth(0)).to_have_class(re.compile(r"\bok\b"))
    expect(checks.nth(0)).to_contain_text("✓ dataset")
    expect(checks.nth(0)).to_contain_text("demo.jsonl")
    expect(checks.nth(1)).to_have_class(re.compile(r"\bok\b"))
    expect(checks.nth(1)).to_contain_text("✓ training config")
    expect(checks.nth(1)).to_contain_text("configs/demo.yaml")
    expect(resources.locator("li.warn")).to_have_count(0)
    execution = page.locator("article.card").filter(has=page.locator("header", has_text="Execution"))
    expect(execution).to_contain_text(f"--steps {DEMO_STEPS}")
    run_button = page.get_by_role("button", name="▶ Run")
    expect(run_button).to_be_enabled()
    page.screenshot(path=screenshots / "project-demo.png", full_page=True)
    watch.clean("project page")

    # ▶ Run: queued, then running with progress, a chart and output
    run_button.click()
    expect(page).to_have_url(RUN_URL)
    first_run = run_id_of(page)
    # one name for a run everywhere: <project> #<number> (issue 15.23); the id is in the URL only
    expect(page.locator("#flashes")).to_contain_text("demo #1 queued.")
    expect(page.locator("main h1")).to_contain_text("demo #1")
    expect(page).to_have_title(re.compile(r"^demo #1 · "))
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-status", re.compile(r"^(queued|starting|running)$"))
    expect(page.locator(".crumbs")).to_contain_text("demo")
    page.wait_for_function(
        """() => {
             const s = document.querySelector('#run-status');
             const chart = document.querySelector('#chart');
             return s && s.dataset.status === 'running'
               && document.querySelector('#run-progress').value > 0.05
               && Number(chart.querySelector('.chart[data-group="loss"]')?.dataset.points || 0) > 0;
           }""", timeout=RUN_SECONDS * 1000, polling=250)
    expect(page.locator("#stop-confirm summary")).to_be_visible()  # ■ Stop…; #stop-button is inside
    expect(fact(page, "Step")).to_have_text(re.compile(rf"^\d+ / {DEMO_STEPS}$"))
    expect(page.locator("#output")).to_contain_text("it/s")
    page.screenshot(path=screenshots / "run-running.png", full_page=True)
    watch.clean("run running")

    # … until it succeeds; the status block re-renders itself every 2 s
    expect(page.locator('#run-status[data-status="succeeded"]')).to_have_count(1, timeout=RUN_SECONDS * 1000)
    expect(status.locator("h1 .badge")).to_have_text("succeeded")
    expect(page.locator("#stop-button")).to_have_count(0)
    assert progress(page) == 1, f"progress bar at {progress(page)}"
    expect(page.locator("#run-percent")).to_have_text(re.compile(r"^100(\.0)?%$"))
    expect(fact(page, "Step")).to_have_text(f"{DEMO_STEPS} / {DEMO_STEPS}")
    expect(fact(page, "Exit code")).to_have_text("0")
    expect(fact(page, "ETA")).to_have_text("—")
    expect(fact(page, "Ended").locator("time")).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(fact(page, "loss")).to_have_text(re.compile(r"^\d"))
    chart = page.locator("#chart")
    loss_chart = chart.locator('.chart[data-group="loss"]')  # one chart per group of metric keys
    expect(loss_chart.locator(".uplot canvas")).to_have_count(1)
    points = int(loss_chart.get_attribute("data-points") or 0)
    assert points > 0, "no loss points drawn"
    expect(loss_chart.locator(".u-legend")).to_contain_text("loss")
    output = page.locator("pre#output")
    expect(output).to_contain_text("it/s")
    expect(output).to_contain_text("'loss':")
    expect(output).to_contain_text("train_runtime")
    events = page.locator("#run-events ul.events")
    expect(events).to_contain_text("queued by")
    expect(events).to_contain_text("started")
    expect(events).to_contain_text("finished with exit code 0", timeout=10_000)
    # the artifacts table refreshes every 10 s while the run is active; once more after it ends
    expect(page.locator("#run-artifacts table")).to_contain_text("checkpoint-", timeout=15_000)
    expect(page.locator("#run-artifacts")).not_to_have_attribute("hx-get", re.compile(".*"), timeout=15_000)
    expect(page.locator("#run-events")).not_to_have_attribute("hx-get", re.compile(".*"))
    page.screenshot(path=screenshots / "run-succeeded.png", full_page=True)
    watch.clean("run succeeded")

    # the same page after a reload: everything comes from the server, nothing from the live session
    page.reload()
    expect(page.locator('#run-status[data-status="succeeded"]')).to_have_count(1)
    expect(page.locator('#chart .chart[data-group="loss"] .uplot canvas')).to_have_count(1)
    expect(page.locator("pre#output")).to_contain_text("train_runtime")
    expect(page.locator("#run-artifacts table")).to_contain_text("checkpoint-")
    watch.clean("run page reloaded")

    # ↻ Re-run queues a new run of the project; ■ Stop…, confirmed inline like a delete, stops it
    page.get_by_role("button", name="↻ Re-run", exact=True).click()
    expect(page).to_have_url(RUN_URL)
    second_run = run_id_of(page)
    assert second_run != first_run
    expect(page.locator("#flashes")).to_contain_text("demo #2 queued.")
    # a step done means the script is past installing its signal handlers
    page.wait_for_function(
        "() => document.querySelector('#run-status')?.dataset.status === 'running'"
        " && document.querySelector('#run-progress').value > 0.05", timeout=RUN_SECONDS * 1000, polling=250)
    page.get_by_role("button", name="■ Stop…").click()
    page.wait_for_timeout(2_500)  # a refresh of the status block (every 2 s) keeps the panel open
    page.screenshot(path=screenshots / "run-stop-confirm.png")
    with page.expect_response(lambda r: r.url.endswith(f"/ui/runs/{second_run}/stop")) as stopped:
        page.get_by_role("button", name="Stop demo #2").click()
    assert stopped.value.status == 200, f"stop answered {stopped.value.status}"
    expect(page.locator('#run-status[data-status="cancelled"]')).to_have_count(1, timeout=30_000)
    expect(page.locator("#run-status h1 .badge")).to_have_text("stopped")  # the API still says cancelled
    expect(fact(page, "Exit code")).to_have_text("143")  # 128 + SIGTERM: the demo saved and stopped
    events = page.locator("#run-events ul.events")
    expect(events).to_contain_text(re.compile(r"stop requested( by \S+)?; SIGTERM"), timeout=10_000)
    expect(events).to_contain_text("sent SIGTERM")
    expect(events).to_contain_text("stopped; exit code 143")
    expect(page.locator("pre#output")).to_contain_text("Received SIGTERM")
    # the demo saves a last checkpoint when stopped; the artifacts block shows it on its next refresh
    expect(page.locator("#run-artifacts table")).to_contain_text("checkpoint-", timeout=15_000)
    page.screenshot(path=screenshots / "run-cancelled.png", full_page=True)
    watch.clean("re-run and stop")

    # a failing run, through the Edit form: an unknown flag makes the script exit 2
    page.goto("/ui/projects/demo")
    page.get_by_role("button", name="Edit", exact=True).click()  # <a role="button">
    expect(page).to_have_url(f"{base}/ui/projects/demo/edit")
    command = page.get_by_label("Start command")
    command.fill(command.input_value() + " --no-such-flag")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{base}/ui/projects/demo")
    expect(page.locator("#flashes")).to_contain_text("Project saved.")
    page.get_by_role("button", name="▶ Run").click()
    expect(page).to_have_url(RUN_URL)
    failed_run = run_id_of(page)
    expect(page.locator('#run-status[data-status="failed"]')).to_have_count(1, timeout=RUN_SECONDS * 1000)
    expect(fact(page, "Exit code")).to_have_text("2")
    expect(page.locator("#run-events ul.events")).to_contain_text("failed with exit code 2", timeout=10_000)
    expect(page.locator("pre#output")).to_contain_text("unrecognized arguments: --no-such-flag")
    watch.clean("failing run")

    # Runs: all three with their statuses, and the status tabs filter them
    nav.get_by_role("link", name="Runs", exact=True).click()
    expect(page).to_have_url(f"{base}/ui/runs/")
    run_rows = page.locator("#run-rows table.runs tbody tr")
    expect(run_rows).to_have_count(3)
    for row, (number, run_id, state) in zip(run_rows.all(), [(3, failed_run, "failed"), (2, second_run, "stopped"),
                                                             (1, first_run, "succeeded")]):
        expect(row.get_by_role("link", name=f"demo #{number}", exact=True)).to_have_attribute("href", f"/ui/runs/{run_id}")
        expect(row.locator(".badge")).to_have_text(state)
        expect(row).to_contain_text("demo")
    expect(run_rows.nth(2).locator(".progress-cell")).to_contain_text("100%")
    page.screenshot(path=screenshots / "runs.png", full_page=True)
    tabs = page.get_by_role("navigation", name="Status filter")
    tabs.get_by_role("link", name="Failed / lost").click()
    expect(page).to_have_url(f"{base}/ui/runs/?status=failed")
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Failed / lost")
    expect(run_rows).to_have_count(1)
    expect(run_rows.first.locator(".badge")).to_have_text("failed")
    expect(run_rows.first.get_by_role("link", name="demo #3", exact=True)).to_be_visible()
    tabs.get_by_role("link", name="Ended").click()
    expect(page).to_have_url(f"{base}/ui/runs/?status=ended")
    expect(run_rows).to_have_count(3)
    tabs.get_by_role("link", name="Active").click()
    expect(page).to_have_url(f"{base}/ui/runs/?status=active")
    expect(run_rows).to_have_count(1)
    expect(run_rows.first).to_contain_text("No runs")
    watch.clean("runs page")
    finished.update(storage=context.storage_state(), run_id=first_run)
    context.close()


def test_run_page_on_a_phone(browser, demo_server, screenshots, finished):
    """The finished demo run, the runs list and the project on a 390x844 phone: nothing scrolls sideways."""
    if not finished:
        pytest.skip("needs the finished run of test_demo_run_in_a_browser")
    phone = browser.new_context(base_url=demo_server.base_url, storage_state=finished["storage"],
                                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)
    phone.set_default_timeout(10_000)
    page = phone.new_page()
    watch = Watch(page)
    page.goto(f"/ui/runs/{finished['run_id']}")
    expect(page.locator('#run-status[data-status="succeeded"]')).to_have_count(1)
    expect(page.locator('#chart .chart[data-group="loss"] .uplot canvas')).to_have_count(1)
    expect(page.locator("pre#output")).to_contain_text("train_runtime")
    expect(page.locator("#run-artifacts table")).to_contain_text("checkpoint-")
    page.screenshot(path=screenshots / "run-phone.png", full_page=True)
    chart_width = page.eval_on_selector("#chart .uplot", "u => u.getBoundingClientRect().width")
    box_width = page.eval_on_selector("#chart", "b => b.getBoundingClientRect().width")
    assert chart_width <= box_width + 1, f"the chart ({chart_width}px) overflows its box ({box_width}px)"
    problems = {"run page": sideways(page)}
    for name, path in (("runs page", "/ui/runs/"), ("project page", "/ui/projects/demo")):
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        problems[name] = sideways(page)
    watch.clean("phone pages")
    phone.close()
    problems = {name: problem for name, problem in problems.items() if problem}
    assert not problems, "scrolls sideways on a phone:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())
