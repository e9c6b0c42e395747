"""Accessibility and the phone layout in a real browser (issue 15.22, 15.27, 15.30, 15.33).

axe-core (tests/e2e/vendor, from npm; the test injects it, users never load it) runs on every
page of ours, signed in as an administrator, with demo data: a finished run with artifacts, a
stopped run, a dataset with a file and an empty one, a config, a de-identification job, a
deployment of the stand-in vLLM of tests/fixtures. Then every page on a 390 px phone in English
and 中文, and the keyboard: focus ring, skip link, user menu, nav menu, artifact tags, chart
legend, live regions. Screenshots land in var/screenshots/a11y/.
"""
import json
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from portal import ROOT
from tests.e2e.conftest import _flask, _free_port, _running_portal, _server_env, VENV_BIN, sign_in
from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow
AXE = ROOT / "tests" / "e2e" / "vendor" / "axe-core-4.14.1.min.js"
ADMIN = ("admin", "correct-horse-9")
PHONE = {"width": 390, "height": 844}
DATA_SECONDS = 120  # a 6-step demo run takes some 10 s; the deployment's stand-in starts at once
CHAT = "\n".join(json.dumps({"instruction": f"问题 {i}", "input": "", "output": f"回答 {i}，手机号 13812345678"},
                            ensure_ascii=False) for i in range(5)) + "\n"
CONFIG = "model_name_or_path: models/qwen2.5\nstage: sft\ndo_train: true\nfinetuning_type: lora\n" \
         "dataset: chat_zh\ntemplate: qwen\noutput_dir: outputs/sft\n"


@pytest.fixture(scope="module")
def a11y_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-a11y")
    port = _free_port()
    base = 18800 + port % 150
    env = _server_env(tmp, port) | {"PORTAL_VLLM_BIN": str(ROOT / "tests" / "fixtures" / "bin" / "vllm"),
                                    "PORTAL_DEPLOY_PORTS": f"{base}-{base + 4}", "PORTAL_DEPLOY_GRACE_SECONDS": "2"}
    model = tmp / "training" / "models" / "qwen2.5"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "qwen2"}')
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "--steps", "6")
    _flask(env, "users", "create", ADMIN[0], "--role", "admin", "--password-stdin", stdin=ADMIN[1] + "\n")
    token = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "tokens", "create", ADMIN[0]], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    with _running_portal(tmp, env, port) as server:
        server.token = token
        yield server


def _api(server, method: str, path: str, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(server.direct_url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {server.token}", "Accept": "application/json",
        **({"Content-Type": "application/json"} if isinstance(body, (dict, list)) else {}), **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _wait_status(server, run_id: int, wanted: set[str]) -> None:
    deadline = time.monotonic() + DATA_SECONDS
    while (status := _api(server, "GET", f"/v1/runs/{run_id}")["status"]) not in wanted:
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def pages(a11y_server):
    """Name -> path of every page of ours, with the rows that fill them made through the API."""
    server = a11y_server
    finished = _api(server, "POST", "/projects/demo/runs", {})["id"]
    _wait_status(server, finished, {"succeeded"})
    stopped = _api(server, "POST", "/projects/demo/runs", {})["id"]
    _api(server, "POST", f"/v1/runs/{stopped}/stop", {})
    _wait_status(server, stopped, {"cancelled"})
    dataset = _api(server, "POST", "/v1/datasets", {"name": "chat_zh", "description": "中文对话样例"})["id"]
    upload = _api(server, "PUT", f"/v1/datasets/{dataset}/files", CHAT.encode(),
                  {"X-Filename": "chat.jsonl", "Content-Type": "application/octet-stream"})["upload_id"]
    empty = _api(server, "POST", "/v1/datasets", {"name": "empty_set"})["id"]
    _api(server, "PUT", "/v1/train-configs/sft_demo", CONFIG.encode(), {"Content-Type": "application/yaml"})
    job = _api(server, "POST", f"/v1/datasets/{dataset}/files/{upload}/deidentify", {"policy_id": "default"})["id"]
    deployment = _api(server, "POST", "/deployments", {"model_path": "models/qwen2.5"})["deployment_id"]
    yield {
        "dashboard": "/", "projects": "/ui/projects/", "project": "/ui/projects/demo",
        "project-edit": "/ui/projects/demo/edit", "project-new": "/ui/projects/new",
        "runs": "/ui/runs/", "run": f"/ui/runs/{finished}", "run-stopped": f"/ui/runs/{stopped}",
        "datasets": "/ui/datasets/", "dataset": f"/ui/datasets/{dataset}", "dataset-empty": f"/ui/datasets/{empty}",
        "dataset-new": "/ui/datasets/new", "file": f"/ui/datasets/{dataset}/files/{upload}",
        "configs": "/ui/configs/", "config": "/ui/configs/sft_demo", "config-edit": "/ui/configs/sft_demo/edit",
        "config-version": "/ui/configs/sft_demo/versions/1", "config-new": "/ui/configs/new",
        "config-upload": "/ui/configs/upload",
        "deid": "/ui/deid/", "deid-policies": "/ui/deid/policies", "deid-policy": "/ui/deid/policies/default",
        "deid-new": "/ui/deid/new", "deid-job": f"/ui/deid/jobs/{job}",
        "deployments": "/ui/deployments/", "deployment": f"/ui/deployments/{deployment}",
        "deployment-new": "/ui/deployments/new",
        "users": "/ui/admin/users", "tokens": "/ui/tokens", "preferences": "/ui/account/",
    }
    # the stand-in vLLM runs in its own session: stop it before the portal goes, or it outlives the test
    _api(server, "DELETE", f"/deployments/{deployment}")
    deadline = time.monotonic() + DATA_SECONDS
    while _api(server, "GET", f"/deployments/{deployment}")["status"] not in ("stopped", "failed"):
        assert time.monotonic() < deadline, "the deployment did not stop"
        time.sleep(0.5)


def open_signed_in(page: Page, base: str) -> None:
    page.goto("/login")
    sign_in(page, ADMIN)
    expect(page).to_have_url(f"{base}/")


def settle(page: Page, path: str, chart: bool = False) -> None:
    """The page and what its scripts draw (the run chart, when the run has metrics) are there."""
    page.goto(path)
    page.wait_for_load_state("networkidle")
    if chart:
        expect(page.locator("#chart .uplot").first).to_be_visible(timeout=15_000)


def axe(page: Page, context=None) -> list[dict]:
    """axe-core's violations on the page (all rules, best practices included)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluate is not subject to the page's CSP; a <script> would be
    return page.evaluate("async (context) => (await axe.run(context || document, {resultTypes: ['violations']}))"
                         ".violations.map((v) => ({id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')"
                         " + ': ' + n.failureSummary.split('\\n').slice(0, 2).join(' '))}))", context)


def described(violations: dict[str, list[dict]]) -> str:
    return "\n".join(f"{page}: {v['id']} ({v['help']}): {'; '.join(v['nodes'][:4])}"
                     for page, found in violations.items() for v in found)


@pytest.fixture(scope="module")
def shots(screenshots):
    folder = screenshots / "a11y"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def session(browser, a11y_server, pages):
    """A signed-in administrator's cookies (the pages' data exists by then)."""
    context = browser.new_context(base_url=a11y_server.base_url)
    page = context.new_page()
    open_signed_in(page, a11y_server.base_url)
    state = context.storage_state()
    context.close()
    return state


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_no_axe_violations_on_any_page(browser, a11y_server, pages, session, shots, locale):
    context = browser.new_context(base_url=a11y_server.base_url, viewport={"width": 1280, "height": 900},
                                  storage_state=session, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch(page)
    found = {}
    for name, path in pages.items():
        settle(page, path, chart=name == "run")
        assert page.get_attribute("html", "lang") == locale, f"{name} is not in {locale}"
        found[name] = axe(page)
        page.screenshot(path=shots / f"{name}-{locale}.png", full_page=True)
    watch.clean("every page")
    context.close()
    found = {name: violations for name, violations in found.items() if violations}
    assert not found, "axe violations:\n" + described(found)


def test_no_axe_violations_in_our_parts_of_the_api_docs(browser, a11y_server, session, shots):
    """Swagger UI is not ours; our stylesheet's method labels, the back link and <main> are."""
    context = browser.new_context(base_url=a11y_server.base_url, storage_state=session)
    page = context.new_page()
    page.goto("/docs")
    expect(page.locator(".opblock-summary-method").first).to_be_visible(timeout=15_000)
    violations = axe(page)
    ours = [v for v in violations if v["id"] in ("landmark-one-main", "region", "color-contrast")]
    ours = [dict(v, nodes=[n for n in v["nodes"] if v["id"] == "landmark-one-main" or "opblock-summary-method" in n
                           or "docs-back" in n]) for v in ours]
    page.screenshot(path=shots / "docs.png")
    context.close()
    ours = [v for v in ours if v["nodes"]]
    assert not ours, "axe violations in our parts of /docs:\n" + described({"/docs": ours})


def test_setup_and_sign_in_pages(browser, portal_server, shots):
    """Signed out: /setup (no user yet) and /login have no violations; the new admin has signed in (15.27)."""
    context = browser.new_context(base_url=portal_server.base_url)
    page = context.new_page()
    page.goto("/setup")
    found = {"setup": axe(page)}
    page.screenshot(path=shots / "setup.png", full_page=True)
    page.get_by_label("Administrator username").fill(ADMIN[0])
    page.locator("input[type=password]").nth(0).fill(ADMIN[1])
    page.locator("input[type=password]").nth(1).fill(ADMIN[1])
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{portal_server.base_url}/")
    page.goto("/ui/admin/users")
    last = page.locator("tbody tr").filter(has_text=ADMIN[0]).locator("td").nth(3)
    expect(last.locator("time")).to_have_attribute("title", re_utc())
    page.locator("details.usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.goto("/login")
    found["login"] = axe(page)
    page.screenshot(path=shots / "login.png", full_page=True)
    context.close()
    found = {name: violations for name, violations in found.items() if violations}
    assert not found, "axe violations:\n" + described(found)


def re_utc():
    import re

    return re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


CLIPPED_TABLES = """() => {
    const width = document.documentElement.clientWidth;
    const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
    return [...document.querySelectorAll('main table')].flatMap((table) => {
        const box = table.getBoundingClientRect();
        if (box.width === 0 || box.right <= width + 1) return [];
        let holder = table.parentElement;
        while (holder && holder !== document.body && !scrolls(holder)) holder = holder.parentElement;
        if (holder && holder !== document.body && holder.getBoundingClientRect().right <= width + 1) return [];
        return [(table.closest('[id]')?.id || '') + ' table.' + [...table.classList].join('.')
                + ' reaches ' + Math.round(box.right) + 'px'];
    });
}"""


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_page_fits_a_phone(browser, a11y_server, pages, session, shots, locale):
    """390 px: nothing sticks out or is cut off; wide tables scroll in their own box; the nav folds."""
    context = browser.new_context(base_url=a11y_server.base_url, viewport=PHONE, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, storage_state=session, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = {}
    for name, path in pages.items():
        settle(page, path, chart=name == "run")
        wrong = [sideways(page)] + page.evaluate(CLIPPED_TABLES)
        bar = page.locator("header.topbar").bounding_box()
        if bar["height"] > 64:
            wrong.append(f"the top bar is {bar['height']:.0f}px high (more than one row)")
        if page.locator("#mainnav").is_visible():
            wrong.append("the nav is not folded")
        if wrong := [w for w in wrong if w]:
            problems[name] = "; ".join(wrong)
        page.screenshot(path=shots / f"{name}-phone-{locale}.png", full_page=True)
    # the menu button opens and closes the nav from the keyboard
    toggle = page.locator("button.navtoggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#mainnav a").first).to_be_visible()
    page.screenshot(path=shots / f"nav-open-phone-{locale}.png")
    page.keyboard.press("Tab")
    expect(page.locator("#mainnav a").first).to_be_focused()
    toggle.focus()
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#mainnav")).to_be_hidden()
    context.close()
    assert not problems, "on a phone:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


FOCUS_RING = """() => {
    const e = document.activeElement;
    const style = getComputedStyle(e);
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    function f(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }
    let behind = e.parentElement, bg = null;
    while (behind) {
        const c = rgb(getComputedStyle(behind).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) { bg = c.slice(0, 3); break; }
        behind = behind.parentElement;
    }
    bg = bg || [255, 255, 255];
    const ring = rgb(style.outlineColor).slice(0, 3);
    const [a, b] = [lum(ring), lum(bg)].sort((x, y) => y - x);
    return {name: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim().slice(0, 20),
            style: style.outlineStyle, width: parseFloat(style.outlineWidth), contrast: (a + 0.05) / (b + 0.05)};
}"""


def test_keyboard_focus_skip_link_and_user_menu(browser, a11y_server, pages, session, shots):
    context = browser.new_context(base_url=a11y_server.base_url, viewport={"width": 1280, "height": 900},
                                  storage_state=session)
    page = context.new_page()
    page.goto(pages["project"])
    # 33b: the first Tab stop skips to the content
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    assert page.locator("a.skip-link").bounding_box()["y"] >= 0, "the focused skip link is off screen"
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # 33a: a solid ring of 3:1 or more on every stop, the top bar's and the page's
    page.goto(pages["project"])
    weak, shot = [], {}
    for step in range(24):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring["name"].startswith("body"):
            break  # past the last stop
        where = "page" if page.evaluate("() => !!document.activeElement.closest('main')") else "topbar"
        if step > 1 and where not in shot:
            shot[where] = page.screenshot(path=shots / f"focus-ring-{where}.png")
        if ring["style"] != "solid" or ring["width"] < 2 or ring["contrast"] < 3:
            weak.append(ring)
    assert not weak, f"weak focus rings: {weak}"
    # 33b: the user menu is named by what it shows, aligned as the page, closes with Escape and on focus-out
    summary = page.locator("details.usermenu summary")
    assert summary.get_attribute("aria-label") is None
    assert page.locator("details.usermenu ul").get_attribute("dir") is None
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details.usermenu")).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    page.screenshot(path=shots / "user-menu-open.png")
    page.keyboard.press("Escape")
    expect(page.locator("details.usermenu")).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(6):
        page.keyboard.press("Tab")
    expect(page.locator("details.usermenu")).not_to_have_attribute("open", "")
    context.close()


def test_run_page_for_keyboards_and_screen_readers(browser, a11y_server, pages, session, shots):
    context = browser.new_context(base_url=a11y_server.base_url, viewport={"width": 1280, "height": 900},
                                  storage_state=session)
    page = context.new_page()
    watch = Watch(page)
    settle(page, pages["run"], chart=True)
    # 33d: the output is a named, focusable log; the chart has a table in words and legend buttons
    output = page.locator("pre#output")
    assert (output.get_attribute("tabindex"), output.get_attribute("role")) == ("0", "log")
    assert output.get_attribute("aria-label").startswith("Output of demo #")
    expect(page.locator("#chart .chart-data table").first).to_contain_text("loss")
    entry = page.locator("#chart .u-legend th[role=button]").first
    expect(entry).to_have_attribute("aria-pressed", "true")
    entry.focus()
    page.keyboard.press("Enter")
    expect(entry).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Space")
    expect(entry).to_have_attribute("aria-pressed", "true")
    # 33c: each tag input is named for its artifact; saving keeps the focus and says so
    inputs = page.locator("#run-artifacts input[name=tags]")
    names = [inputs.nth(i).get_attribute("aria-label") for i in range(inputs.count())]
    assert names and len(set(names)) == len(names) and all(n.startswith("Tags for ") for n in names), names
    page.evaluate("() => { document.getElementById('artifact-status').dataset.kept = 'yes'; }")
    first = inputs.first
    first_id = first.get_attribute("id")
    first.fill("best, release")
    first.press("Enter")
    status = page.locator("#artifact-status")
    expect(status).to_contain_text("Tags saved for")
    expect(status).to_have_attribute("data-kept", "yes")  # the same element: its news is announced
    expect(page.locator(f"#{first_id}")).to_be_focused()
    expect(page.locator(f"#{first_id}")).to_have_value("best, release")
    page.screenshot(path=shots / "run-tags-saved.png", full_page=True)
    # 22: a stopped run reads `stopped` (the API keeps `cancelled`)
    page.goto(pages["run-stopped"])
    expect(page.locator("#run-status h1 .badge")).to_have_text("stopped")
    watch.clean("run page")
    context.close()


def test_deid_results_swap_inside_one_live_region(browser, a11y_server, session):
    """33e: the aria-live element stays; only its content changes."""
    context = browser.new_context(base_url=a11y_server.base_url, storage_state=session)
    page = context.new_page()
    page.goto("/ui/deid/")
    page.evaluate("() => { document.getElementById('deid-output').dataset.kept = 'yes'; }")
    page.get_by_label("Text").fill("客户手机号 13812345678")
    region = page.locator("#deid-output")
    expect(region.locator("mark.ent-PHONE").first).to_be_visible()
    expect(region).to_have_attribute("data-kept", "yes")
    expect(region).to_have_attribute("aria-live", "polite")
    page.goto("/ui/deid/new")
    page.evaluate("() => { document.getElementById('policy-check').dataset.kept = 'yes'; }")
    page.locator("#yaml").fill("entities:\n  FOO: tag\n")
    check = page.locator("#policy-check")
    expect(check).to_contain_text("problem")
    expect(check).to_have_attribute("data-kept", "yes")
    context.close()
