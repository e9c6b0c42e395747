"""Comparing runs in a real browser: tick three runs on the runs list, open the comparison, see
three lines per chart and the config difference; the run page's grouped charts and snapshot.

The runs belong to a project that asks for more GPUs than the server has, so they wait in the
queue while the test pushes their metrics: nothing depends on how fast a run goes.
"""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_ADMIN, sign_in
from tests.e2e.watch import Watch, sideways

pytestmark = pytest.mark.slow


def api(page: Page, method: str, path: str, headers: dict | None = None, **kwargs):
    """A JSON call with the signed-in session (and its CSRF token, as the portal's own fetches send it)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.fetch(path, method=method, headers={"X-CSRFToken": token, **(headers or {})}, **kwargs)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json()


def test_select_three_runs_and_compare_them(browser, demo_server, screenshots):
    context = browser.new_context(base_url=demo_server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch(page)
    page.goto("/login")
    sign_in(page, DEMO_ADMIN)
    expect(page).not_to_have_url(re.compile(r"/login"))

    demo = api(page, "GET", "/projects/demo")
    api(page, "POST", "/projects", data={"name": "cmp", "dataset_name": demo["dataset_name"],
                                         "training_yaml_name": "configs/cmp.yaml", "executor": "local",
                                         "workdir": ".", "gpus_per_run": 8})  # more than the server has: they wait
    ids = []
    for i, rate in enumerate(("1.0e-5", "2.0e-5", "5.0e-5")):
        api(page, "PUT", "/v1/train-configs/cmp", headers={"Content-Type": "application/yaml"},
            data=f"learning_rate: {rate}\nnum_train_epochs: 3\n")
        run = api(page, "POST", "/projects/cmp/runs")
        points = [{"key": key, "value": (3.0 - i * 0.3) / (1 + step / 10) * scale, "step": step}
                  for step in range(0, 200, 2) for key, scale in (("loss", 1.0), ("eval_loss", 1.2))]
        points += [{"key": "learning_rate", "value": float(rate) * (1 - step / 200), "step": step}
                   for step in range(0, 200, 10)]
        for start in range(0, len(points), 1000):
            api(page, "POST", f"/v1/runs/{run['id']}/metrics", data={"metrics": points[start:start + 1000]})
        ids.append(run["id"])

    page.goto("/ui/runs/")
    for run_id in ids:
        page.locator(f'input.select-run[value="{run_id}"]').check()
    page.get_by_role("button", name="Compare selected runs").click()
    expect(page).to_have_url(re.compile(r"/ui/runs/compare\?ids=" + ",".join(map(str, ids)) + "$"))
    expect(page.locator("main h1")).to_have_text("Compare runs")
    charts = page.locator("#compare-charts .chart")
    expect(charts).to_have_count(3)  # loss, eval_loss, learning_rate
    for key in ("loss", "eval_loss", "learning_rate"):
        chart = page.locator(f'#compare-charts .chart[data-key="{key}"]')
        expect(chart).to_have_attribute("data-lines", "3")
        expect(chart.locator(".u-legend")).to_contain_text("cmp #3")
    diff = page.locator("#config-diff")
    expect(diff.locator("tbody tr")).to_have_count(1)  # only learning_rate differs
    expect(diff.locator("tbody tr")).to_contain_text("learning_rate")
    expect(diff.locator("tbody tr")).to_contain_text("5e-05")
    expect(page.locator("#compare-table tbody tr")).to_have_count(3)
    expect(page.locator("#parallel svg polyline")).to_have_count(3)
    page.locator(".x-axis").select_option("time")
    page.locator(".smoothing").fill("0.6")
    page.locator(".log-scale").check()
    expect(page.locator('#compare-charts .chart[data-key="loss"]')).to_have_attribute("data-lines", "3")
    page.screenshot(path=screenshots / "runs-compare.png", full_page=True)
    watch.clean("comparison")

    # the run page: every recorded key offered in groups, a chart per group, the snapshot
    page.goto(f"/ui/runs/{ids[0]}")
    expect(page.locator('#chart .chart[data-group="loss"]')).to_have_attribute("data-lines", "1")
    expect(page.locator('#chart .chart[data-group="eval"]')).to_be_visible()
    expect(page.locator('#chart .chart[data-group="learning_rate"]')).to_be_visible()
    expect(page.locator("#metric-keys legend")).to_have_count(3)
    page.locator("#run-snapshot summary").click()
    expect(page.locator("#snapshot-config")).to_contain_text("learning_rate: 1.0e-5")
    expect(page.locator("#snapshot-config-link")).to_have_text("cmp version 1")
    page.screenshot(path=screenshots / "run-snapshot.png", full_page=True)
    watch.clean("run page")

    phone = browser.new_context(base_url=demo_server.base_url, viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state())
    small = phone.new_page()
    small_watch = Watch(small)
    small.goto("/ui/runs/compare?ids=" + ",".join(map(str, ids)))
    expect(small.locator("#compare-charts .chart")).to_have_count(3)
    assert sideways(small) is None, sideways(small)
    small.screenshot(path=screenshots / "runs-compare-phone.png", full_page=True)
    small_watch.clean("comparison on a phone")
    phone.close()
    context.close()
