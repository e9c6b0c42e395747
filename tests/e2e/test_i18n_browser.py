"""The portal in Chinese, in a real browser: one click switches, the choice sticks, every page fits.

Against the demo server (conftest.py `demo_server`: the `demo` project and an administrator).
Every page of the main navigation, and the demo project's page, is opened in 中文 at desktop
width and on a 390 px phone; screenshots land in var/screenshots/zh-*.png. As in the other
browser tests, any console error, failed request or 4xx/5xx answer fails the test.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_ADMIN, choose_files, sign_in
from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow

# main navigation in Chinese: label -> screenshot name
NAV = {"概览": "dashboard", "项目": "projects", "训练任务": "runs", "数据集": "datasets", "训练配置": "configs",
       "部署": "deployments", "数据脱敏": "deid", "管理": "admin"}
CJK = re.compile(r"[\u4e00-\u9fff]")
RUN_SECONDS = 90  # the demo run takes some 20 s
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def uses_a_chinese_font(page) -> bool:
    """The heading is drawn with a Simplified-Chinese face (the first family the page asks for that exists)."""
    return page.evaluate("""() => {
        const family = getComputedStyle(document.querySelector("main h1")).fontFamily;
        return /PingFang SC|Hiragino Sans GB|Microsoft YaHei|Noto Sans CJK SC|Source Han Sans SC/.test(family);
    }""")


@pytest.fixture(scope="module")
def pages() -> dict:
    """Pages the desktop test made (the demo run's), for the phone test to visit too."""
    return {}


@pytest.fixture(scope="module")
def chinese_session(browser, demo_server, screenshots) -> dict:
    """A signed-in admin who switched to 中文 with one click in a browser that asks for English."""
    context = browser.new_context(base_url=demo_server.base_url, locale="en-US",
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="中文").click()  # the sign-in page switches too
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.screenshot(path=screenshots / "zh-login.png", full_page=True)
    page.get_by_label("用户名").fill(DEMO_ADMIN[0])
    page.get_by_label("密码").fill(DEMO_ADMIN[1])
    page.get_by_role("button", name="登录").click()
    expect(page.locator("main h1")).to_have_text("概览")
    watch.clean("switch and sign in")
    state = context.storage_state()
    context.close()
    return state


def test_every_page_in_chinese_on_desktop(browser, demo_server, chinese_session, screenshots, pages, tmp_path):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, locale="en-US", storage_state=chinese_session,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/")
    nav = page.locator("nav.mainnav")
    labels = [a.inner_text().strip() for a in nav.locator("a").all()]
    assert set(NAV) <= set(labels), labels
    for label in labels:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(nav.locator('a[aria-current="page"]')).to_have_text(label)
        page.wait_for_load_state("load")  # the stylesheets too: the font check reads computed styles
        heading = page.locator("main h1").inner_text()
        assert CJK.search(heading), f"{label}: heading {heading!r} is not Chinese"
        assert uses_a_chinese_font(page), f"{label}: no Simplified-Chinese font"
        page.screenshot(path=screenshots / f"zh-{NAV.get(label, 'page')}.png", full_page=True)
        watch.clean(f"nav {label}")
    page.goto("/ui/projects/demo")
    expect(page.locator("#run-button")).to_contain_text("开始训练")
    page.screenshot(path=screenshots / "zh-project.png", full_page=True)
    page.locator("#run-button").click()  # the run page, live: its status block polls itself in 中文
    expect(page).to_have_url(re.compile(r"/ui/runs/\d+$"))
    pages["run"] = page.url.removeprefix(base)
    expect(page.locator("#run-status h1")).to_contain_text("demo #1")
    expect(page.locator("#run-status .badge")).to_have_text("已完成", timeout=RUN_SECONDS * 1000)
    expect(page.locator("#run-artifacts table")).to_contain_text("checkpoint-", timeout=15_000)
    page.screenshot(path=screenshots / "zh-run.png", full_page=True)
    page.goto("/ui/deployments/new")
    expect(page.locator("main h1")).to_have_text("新建部署")
    page.screenshot(path=screenshots / "zh-deployment-new.png", full_page=True)
    page.goto("/ui/account/")
    expect(page.locator("main h1")).to_have_text("语言和时区")
    page.screenshot(path=screenshots / "zh-preferences.png", full_page=True)
    watch.clean("project and preferences")

    # a dataset, and a file dropped on it: the upload widget speaks the page's language too
    page.goto("/ui/datasets/new")
    page.get_by_label("名称").fill("zh-pairs")
    page.get_by_role("button", name="创建数据集").click()
    expect(page.locator("main h1")).to_contain_text("zh-pairs")
    pages["dataset"] = page.url.removeprefix(base)
    sample = tmp_path / "pairs.jsonl"
    sample.write_text('{"instruction": "把这句话翻译成英文", "input": "你好", "output": "Hello"}\n' * 200, "utf-8")
    choose_files(page, str(sample))
    expect(page.locator("#upload-list li").first).to_contain_text("已上传")
    expect(page.locator("#upload-list li").first).to_contain_text("就绪")
    expect(page.locator("#dataset-files .status-ready")).to_have_count(1)
    page.screenshot(path=screenshots / "zh-dataset.png", full_page=True)
    page.locator("#dataset-files").get_by_role("link", name="pairs.jsonl").click()
    expect(page.locator("main h1")).to_contain_text("pairs.jsonl")
    pages["file"] = page.url.removeprefix(base)
    page.screenshot(path=screenshots / "zh-dataset-file.png", full_page=True)
    watch.clean("dataset and upload")
    context.close()


def test_every_page_in_chinese_fits_a_phone(browser, demo_server, chinese_session, screenshots, pages):
    context = browser.new_context(base_url=demo_server.base_url, locale="en-US", storage_state=chinese_session,
                                  **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/")
    visits = {NAV.get(a.inner_text().strip(), "page"): a.get_attribute("href")
              for a in page.locator("nav.mainnav a").all()}
    visits |= {"project": "/ui/projects/demo", "deployment-new": "/ui/deployments/new", "preferences": "/ui/account/",
               **pages}
    problems = {}
    for name, href in visits.items():
        page.goto(href)
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.screenshot(path=screenshots / f"zh-phone-{name}.png", full_page=True)
        if (problem := sideways(page)) is not None:
            problems[href] = problem
        watch.clean(f"phone {href}")
    context.close()
    assert not problems, "scrolls sideways on a phone:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_choice_sticks_and_english_is_one_click_back(browser, demo_server, chinese_session):
    base = demo_server.base_url
    context = browser.new_context(base_url=base, locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/login?next=/ui/runs/")  # a fresh browser asks for English and gets it until the user signs in
    sign_in(page, DEMO_ADMIN)
    expect(page.locator("main h1")).to_have_text("训练任务")  # the user's choice, not the browser's
    page.wait_for_load_state("networkidle")  # the favicon too, or leaving the page aborts it
    page.get_by_role("button", name="English").click()
    expect(page).to_have_url(f"{base}/ui/runs/")
    expect(page.locator("main h1")).to_have_text("Runs")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    watch.clean("back to English")
    context.close()
