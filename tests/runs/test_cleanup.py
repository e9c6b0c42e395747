"""Checkpoint clean-up on a real folder tree: preview, apply, and nothing outside the output dir touched."""
import os
import sys
from pathlib import Path

import pytest

from portal.supervisor.executors.base import LaunchError
from portal.supervisor.executors.local import remove_under
from tests.support import make_project, start, wait_for

PY = sys.executable
# writes checkpoints 10..40 the way the HF Trainer with DeepSpeed does, plus symlinks that point
# out of the output dir (argv[2]), then waits for argv[3] to exist when given
TREE = r"""
import json, os, sys, time
out, outside = sys.argv[1], sys.argv[2]
for step in (10, 20, 30, 40):
    ck = f"{out}/checkpoint-{step}"
    os.makedirs(f"{ck}/global_step{step}", exist_ok=True)
    open(f"{ck}/model.safetensors", "wb").write(b"m" * 1000)
    open(f"{ck}/optimizer.pt", "wb").write(b"o" * 300)
    open(f"{ck}/scheduler.pt", "wb").write(b"s" * 20)
    open(f"{ck}/global_step{step}/mp_rank_00_optim_states.pt", "wb").write(b"g" * 500)
    json.dump({"best_model_checkpoint": f"{out}/checkpoint-20"}, open(f"{ck}/trainer_state.json", "w"))
os.symlink(outside, f"{out}/checkpoint-30/link-out")
os.symlink(f"{outside}/precious.pt", f"{out}/checkpoint-30/optimizer-link.pt")
os.symlink(outside, f"{out}/checkpoint-99")
json.dump({"best_model_checkpoint": f"{out}/checkpoint-20"}, open(f"{out}/trainer_state.json", "w"))
print("written", flush=True)
while len(sys.argv) > 3 and not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
"""


@pytest.fixture
def outside(tmp_path):
    """A folder beside the training dir that runs' symlinks point at: it must survive every clean-up."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.pt").write_bytes(b"p" * 64)
    return folder


def tree_run(client, h, training, ticker, outside, policy, until=("succeeded",), gate=None):
    (training / "tree.py").write_text(TREE)
    make_project(client, h, start_command=f"{PY} tree.py {{output_dir}} {outside}" + (f" {gate}" if gate else ""),
                 cleanup=policy)
    run = start(client, h)
    ticker.until(run["id"], *until)
    if gate is not None:  # running before its tree is written: wait for the file it writes last
        wait_for(lambda: (Path(run["output_dir"]) / "trainer_state.json").exists(), timeout=120)
    return run


def push_eval(client, h, run_id):
    points = [{"key": "eval_loss", "value": v, "step": s} for s, v in ((10, 1.0), (20, 0.5), (30, 0.7), (40, 0.9))]
    assert client.post(f"/v1/runs/{run_id}/metrics", json={"metrics": points}, headers=h).status_code == 200


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def test_artifacts_show_each_checkpoints_folder_size_step_and_metric(client, token, training, ticker, outside):
    h = token["operator"]
    run = tree_run(client, h, training, ticker, outside, {"metric": "eval_loss"})
    push_eval(client, h, run["id"])
    listed = {a["path"]: a for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()}
    out = Path(run["output_dir"])
    assert {p for p in listed if p.startswith("checkpoint-")} == {"checkpoint-10", "checkpoint-20", "checkpoint-30",
                                                                "checkpoint-40"}  # the symlinked one is not ours
    for step, value in ((10, 1.0), (20, 0.5), (30, 0.7), (40, 0.9)):
        entry = listed[f"checkpoint-{step}"]
        assert entry["size"] == folder_bytes(out / f"checkpoint-{step}")  # global_step*/ three deep included
        assert (entry["step"], entry["metric"], entry["metric_value"]) == (step, "eval_loss", value)


def test_preview_then_apply_keeps_best_latest_and_tagged_and_strips_the_rest(client, token, training, ticker,
                                                                             outside):
    h = token["operator"]
    policy = {"metric": "eval_loss", "mode": "min", "keep_best": 1, "keep_latest": 1, "action": "optimizer"}
    run = tree_run(client, h, training, ticker, outside, policy)
    push_eval(client, h, run["id"])
    out = Path(run["output_dir"])
    listed = {a["path"]: a for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()}
    client.patch(f"/v1/artifacts/{listed['checkpoint-10']['id']}", json={"tags": ["paper"]}, headers=h)
    before = {p: folder_bytes(out / p) for p in ("checkpoint-10", "checkpoint-20", "checkpoint-30", "checkpoint-40")}

    preview = client.get("/v1/projects/p1/cleanup", headers=token["viewer"]).get_json()
    plans = {c["path"]: c for c in preview["runs"][0]["checkpoints"]}
    assert plans["checkpoint-20"]["keep"] == ["best"]  # trainer_state.json's pick
    assert plans["checkpoint-40"]["keep"] == ["latest"] and plans["checkpoint-10"]["keep"] == ["tagged"]
    assert plans["checkpoint-30"]["remove"] == ["checkpoint-30/global_step30", "checkpoint-30/optimizer.pt",
                                                "checkpoint-30/scheduler.pt"]
    assert preview["frees"] == plans["checkpoint-30"]["frees"] == 500 + 300 + 20
    assert (out / "checkpoint-30" / "optimizer.pt").exists()  # a preview deletes nothing

    assert client.post("/v1/projects/p1/cleanup", headers=token["viewer"]).status_code == 403
    applied = client.post("/v1/projects/p1/cleanup", headers=h).get_json()
    assert applied["applied"] is True and applied["frees"] == 820
    assert not (out / "checkpoint-30" / "optimizer.pt").exists() and not (out / "checkpoint-30/global_step30").exists()
    assert (out / "checkpoint-30" / "model.safetensors").exists()  # still deployable
    assert {p: folder_bytes(out / p) for p in before} == {**before, "checkpoint-30": before["checkpoint-30"] - 820}
    assert (outside / "precious.pt").read_bytes() == b"p" * 64 and (out / "checkpoint-30" / "link-out").is_symlink()
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert any("checkpoint clean-up by operator" in m and "820 bytes freed" in m for m in events)
    after = {a["path"]: a for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()}
    assert after["checkpoint-30"]["size"] == listed["checkpoint-30"]["size"] - 820
    again = client.get("/v1/projects/p1/cleanup", headers=h).get_json()
    assert again["frees"] == 0  # nothing left to do


def test_delete_removes_whole_checkpoints_but_nothing_a_symlink_points_at(client, token, training, ticker, outside):
    h = token["operator"]
    policy = {"metric": "eval_loss", "keep_best": 1, "keep_latest": 0, "action": "delete"}
    run = tree_run(client, h, training, ticker, outside, policy)
    push_eval(client, h, run["id"])
    out = Path(run["output_dir"])
    applied = client.post("/v1/projects/p1/cleanup", headers=h).get_json()
    assert sorted(c["path"] for c in applied["runs"][0]["checkpoints"] if c["remove"]) == [
        "checkpoint-10", "checkpoint-30", "checkpoint-40"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-20", "checkpoint-99", "trainer_state.json"]
    assert (out / "checkpoint-99").is_symlink()  # never listed as a checkpoint of this run, never followed
    assert sorted(p.name for p in outside.iterdir()) == ["precious.pt"]
    assert (outside / "precious.pt").read_bytes() == b"p" * 64
    paths = [a["path"] for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()]
    assert "checkpoint-30" not in paths and "checkpoint-20" in paths


def test_a_running_runs_newest_checkpoint_is_never_touched(client, token, training, ticker, outside, tmp_path):
    h = token["operator"]
    policy = {"metric": "eval_loss", "keep_best": 0, "keep_latest": 0, "action": "delete"}
    gate = tmp_path / "finish"
    run = tree_run(client, h, training, ticker, outside, policy, until=("running",), gate=gate)
    out = Path(run["output_dir"])
    ticker.sup.tick()
    plans = {c["path"]: c for c in client.get("/v1/projects/p1/cleanup", headers=h).get_json()["runs"][0]["checkpoints"]}
    assert plans["checkpoint-40"]["keep"] == ["running"] and plans["checkpoint-40"]["remove"] == []
    client.post("/v1/projects/p1/cleanup", headers=h)
    assert (out / "checkpoint-40" / "optimizer.pt").exists() and not (out / "checkpoint-10").exists()
    gate.write_text("")
    ticker.until(run["id"], "succeeded")


def test_no_policy_is_a_clear_400(client, token, training):
    make_project(client, token["operator"])
    response = client.get("/v1/projects/p1/cleanup", headers=token["viewer"])
    assert response.status_code == 400 and "no checkpoint clean-up policy" in response.get_json()["detail"]


def test_the_delete_door_refuses_paths_that_leave_the_folder_and_never_follows_symlinks(tmp_path, outside):
    root = tmp_path / "out"
    (root / "checkpoint-1").mkdir(parents=True)
    os.symlink(outside, root / "linked")
    for bad in ("../outside", "/etc", "checkpoint-1/../../outside", ""):
        with pytest.raises(LaunchError):
            remove_under(root, [bad])
    remove_under(root, ["linked/precious.pt"])  # through a symlink: left alone
    assert (outside / "precious.pt").exists()
    remove_under(root, ["linked", "checkpoint-1", "missing"])  # the link itself goes, its target stays
    assert not (root / "linked").exists() and (outside / "precious.pt").exists() and not (root / "checkpoint-1").exists()


def test_the_project_page_shows_disk_use_and_previews_then_applies(client, auth, users, token, training, ticker,
                                                                   outside):
    h = token["operator"]
    run = tree_run(client, h, training, ticker, outside, {"metric": "eval_loss", "keep_best": 0, "keep_latest": 1,
                                                          "action": "delete"})
    out = Path(run["output_dir"])
    auth.login("viewer")
    page = client.get("/ui/projects/p1").get_data(as_text=True)
    assert "Disk" in page and 'id="cleanup-preview"' in page
    preview = client.get("/ui/projects/p1/cleanup", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "checkpoint-10" in preview and "the whole checkpoint" in preview and 'id="cleanup-apply"' not in preview
    auth.logout()
    auth.login("operator")
    preview = client.get("/ui/projects/p1/cleanup", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="cleanup-apply"' in preview and (out / "checkpoint-10").exists()
    done = auth.post("/ui/projects/p1/cleanup", headers={"HX-Request": "true"})
    assert done.status_code == 200 and "Clean-up done" in done.get_data(as_text=True)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-40", "checkpoint-99"]
