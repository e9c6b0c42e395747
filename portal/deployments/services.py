"""Every change to deployments made on a user's behalf: create (with GPUs and a port), stop, restart, adapters.

The supervisor (`portal/deployments/supervise.py`) spawns, health-checks, restarts and stops
them. GPUs and the port are held from creation, so the answer to POST names them and a
conflict is a 409 at once; they are released with the transition that ends the deployment.
"""
import re
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.deployments import command
from portal.deployments.models import LIVE, Deployment, DeploymentEvent
from portal.deployments.transitions import log_event, transition
from portal.errors import Conflict, Invalid, found
from portal.extensions import db
from portal.i18n import N_, _l, gettext, run_name
from portal.runs.models import Run
from portal.supervisor import executors, gpus as gpu_probe, placement, ports
from portal.timeutil import utcnow

MAX_TP = 16
TAG = re.compile(r"^[\w.:-]{1,40}$")


def _settings():
    return current_app.config["PORTAL"]


def gpu_holders() -> dict[str, Deployment]:
    """The deployment holding each allocated GPU of this host (by UUID), for the GPU panel."""
    held = {uuid: holder for uuid, (kind, holder) in placement.held().items() if kind == "deployment"}
    items = {d.id: d for d in db.session.scalars(select(Deployment).where(Deployment.id.in_(set(held.values()))))}
    return {uuid: items[holder] for uuid, holder in held.items() if holder in items}


def _holder_text(kind: str, holder: str) -> str:
    """Who holds a GPU, in the reader's words: a run by its name, a deployment by its id."""
    if kind == "run":
        run = db.session.get(Run, int(holder))
        return gettext("run %(name)s", name=run_name(run) if run else holder)
    return gettext("deployment %(id)s", id=holder)


def _adapters(adapters: list[dict], served_name: str) -> list[dict]:
    settings, out, names = _settings(), [], {served_name}
    for given in adapters:
        name = str(given.get("name") or "")
        if not command.NAME.match(name) or name in names:
            raise Invalid(_l("lora_adapters: each needs a unique name of letters, digits, . _ : - (got %(name)s)",
                             name=repr(name)))
        names.add(name)
        path = Path(command.resolve_model(str(given.get("path") or ""), settings.training_dir, settings.model_roots,
                                          allow_hub=False))
        facts = command.inspect_adapter(path)
        out.append({"name": name, "path": str(path), "base_model_name": given.get("base_model_name") or served_name,
                    "rank": facts["rank"]})
    if out:
        command.max_lora_rank([a["rank"] for a in out])  # refuses a rank vLLM cannot take
    return out


def _choose_gpus(item: Deployment, inventory) -> list:
    """The preferred GPU when free, else the free ones with the most free memory."""
    held = placement.held()
    by_index = {g.index: g for g in inventory}
    if item.preferred_gpu is not None:
        gpu = by_index.get(item.preferred_gpu)
        if gpu is None:
            raise Invalid(_l("preferred_gpu %(index)s: this host has GPUs %(indexes)s", index=item.preferred_gpu,
                             indexes=", ".join(map(str, sorted(by_index))) or "none"))
        if gpu.uuid in held:
            raise Conflict(_l("GPU %(index)s is held by %(holder)s", index=gpu.index, holder=_holder_text(*held[gpu.uuid])))
        chosen = [gpu] + sorted((g for g in inventory if g.uuid not in held and g is not gpu),
                                key=lambda g: g.memory_used - g.memory_total)[:item.tensor_parallel_size - 1]
    else:
        chosen = sorted((g for g in inventory if g.uuid not in held),
                        key=lambda g: g.memory_used - g.memory_total)[:item.tensor_parallel_size]
    if len(chosen) < item.tensor_parallel_size:
        free = len([g for g in inventory if g.uuid not in held])
        raise Conflict(_l("needs %(count)s free GPUs; %(free)s of %(total)s are free", count=item.tensor_parallel_size,
                          free=free, total=len(inventory)))
    for gpu in chosen:
        need = command.gpu_memory_needed(gpu.memory_total, item.gpu_memory_utilization)
        if gpu.memory_total - gpu.memory_used < need:
            raise Conflict(_l("GPU %(index)s has %(free)s MiB free; --gpu-memory-utilization %(util)s needs %(need)s MiB",
                              index=gpu.index, free=(gpu.memory_total - gpu.memory_used) // 2**20,
                              util=item.gpu_memory_utilization, need=need // 2**20))
    return chosen


def check(fields: dict) -> Deployment:
    """An unsaved deployment from request fields, every rule checked (no GPUs or port yet)."""
    settings = _settings()
    executor = fields.get("executor") or "local"
    if executor not in executors.NAMES or not executors.get(executor).serves:
        raise Invalid(_l("executor %(name)s cannot serve models; use local", name=executor))
    tags = [str(t).strip() for t in fields.get("tags") or [] if str(t).strip()]
    if len(tags) > 20 or not all(TAG.match(t) for t in tags):
        raise Invalid(_l("tags: at most 20 tags of letters, digits, . _ : - (40 at most)"))
    tp = int(fields.get("tensor_parallel_size") or 1)
    if not 1 <= tp <= MAX_TP:
        raise Invalid(_l("tensor_parallel_size must be between 1 and %(max)s", max=MAX_TP))
    util = float(fields.get("gpu_memory_utilization") or 0.9)
    if not 0.05 <= util <= 1.0:
        raise Invalid(_l("gpu_memory_utilization must be between 0.05 and 1"))
    health = fields.get("health_path") or "/health"
    if not re.match(r"^/[\w./-]{0,199}$", health):
        raise Invalid(_l("health_path must be a path such as /health"))
    model_path = str(fields.get("model_path") or "")
    model = command.resolve_model(model_path, settings.training_dir, settings.model_roots, settings.allow_hub_models)
    served = fields.get("served_model_name") or Path(model_path.rstrip("/")).name or "model"
    if not command.NAME.match(served):
        raise Invalid(_l("served_model_name: letters, digits, . _ : - (at most 128)"))
    version = str(fields.get("model_version") or "")
    if len(version.encode()) > 100 or "\x00" in version:
        raise Invalid(_l("model_version: at most 100 bytes"))
    item = Deployment(id=str(uuid.uuid4()), model_path=model_path, model=model, model_version=version, tags=list(dict.fromkeys(tags)),
                      extra_args=fields.get("extra_args") or "", preferred_gpu=fields.get("preferred_gpu"),
                      health_path=health, served_model_name=served, tensor_parallel_size=tp,
                      gpu_memory_utilization=util, max_model_len=fields.get("max_model_len"), executor=executor,
                      lora_adapters=_adapters(fields.get("lora_adapters") or [], served))
    command.split_extra_args(item.extra_args)
    return item


def create(fields: dict, created_by: int | None = None) -> Deployment:
    """Check, place on GPUs, reserve a port and record the deployment `pending` for the supervisor."""
    settings = _settings()
    item = check(fields)
    item.created_by = created_by
    inventory = gpu_probe.probe(settings.fake_gpus)
    for _ in range(5):  # GPUs taken at the same instant by another process: choose again
        port = ports.reserve("deployment", item.id, settings.deploy_ports)
        if port is None:
            raise Conflict(_l("no free port in PORTAL_DEPLOY_PORTS %(first)s-%(last)s",
                              first=settings.deploy_ports.start, last=settings.deploy_ports.stop - 1))
        chosen = _choose_gpus(item, inventory)
        if not placement.record("deployment", item.id, [g.uuid for g in chosen]):
            continue  # rolled back, the port too
        item.gpus, item.gpu_indexes, item.port = [g.uuid for g in chosen], [g.index for g in chosen], port
        item.argv = command.argv(settings.vllm_bin, item, settings.deploy_host)
        db.session.add(item)
        db.session.flush()
        log_event(item, N_("created; GPUs %(gpus)s, port %(port)s", gpus=", ".join(map(str, item.gpu_indexes)), port=port)
                  if item.gpu_indexes else N_("created; no GPUs, port %(port)s", port=port))
        db.session.commit()
        return item
    raise Conflict(_l("the GPUs or ports changed while placing this deployment; try again"))


def get(deployment_id: str) -> Deployment:
    return found(db.session.get(Deployment, deployment_id) if deployment_id else None,
                 _l("deployment %(id)s not found", id=deployment_id))


def list_deployments(model: str = "", tag: str = "", status: str = "", limit: int = 200) -> list[Deployment]:
    stmt = select(Deployment).order_by(Deployment.created_at.desc()).limit(min(max(limit, 1), 500))
    if model:
        stmt = stmt.where(Deployment.model_path.contains(model) | Deployment.served_model_name.contains(model))
    if status:
        stmt = stmt.where(Deployment.status.in_(status.split(",")))
    items = list(db.session.scalars(stmt))
    return [d for d in items if tag in (d.tags or [])] if tag else items


def request_stop(deployment_id: str, force: bool = False) -> Deployment:
    """Stop it for sure: SIGTERM to its process group, SIGKILL after the grace with `force`."""
    item = get(deployment_id)
    now = utcnow()
    if transition(item, "stopped", ("pending",), N_("stopped before it started"), stop_requested_at=now):
        db.session.commit()
        return item
    if transition(item, "stopping", ("starting", "running", "unhealthy"),
                  N_("stop requested (force)") if force else N_("stop requested"), stop_requested_at=now,
                  stop_force=force):
        db.session.commit()
        return item
    if item.status == "stopping" and force and not item.stop_force:
        item.stop_force = True
        log_event(item, N_("stop: force"))
        db.session.commit()
    return item


def restart(deployment_id: str) -> Deployment:
    """A new start of a live deployment (same GPUs and port), counted, with its own log."""
    item = get(deployment_id)
    if item.status not in LIVE or item.status in ("pending", "stopping"):
        raise Conflict(_l("deployment %(id)s is %(status)s; only a started one can be restarted", id=item.id,
                          status=item.status))
    if transition(item, "stopping", ("starting", "running", "unhealthy"), N_("restart requested"),
                  stop_requested_at=utcnow(), stop_force=False, restart_requested=True):
        db.session.commit()
    return item


def add_adapter(deployment_id: str, adapter: dict) -> Deployment:
    """Serve one more LoRA adapter: the server restarts with it (vLLM loads adapters at start)."""
    item = get(deployment_id)
    if item.status not in ("starting", "running", "unhealthy"):
        raise Conflict(_l("deployment %(id)s is %(status)s; add adapters to a started one", id=item.id,
                          status=item.status))
    known = [{k: a[k] for k in ("name", "path", "base_model_name")} for a in item.lora_adapters or []]
    item.lora_adapters = _adapters(known + [adapter], item.served_model_name)
    item.argv = command.argv(_settings().vllm_bin, item, _settings().deploy_host)
    db.session.flush()
    return restart(deployment_id)


def events(deployment_id: str, limit: int = 100) -> list[DeploymentEvent]:
    get(deployment_id)
    return list(reversed(db.session.scalars(select(DeploymentEvent).filter_by(deployment_id=deployment_id)
                                            .order_by(DeploymentEvent.id.desc()).limit(limit)).all()))


def log_path(item: Deployment, restart: int | None = None) -> Path:
    number = item.restart_count if restart is None else restart
    return _settings().data_dir / "deployments" / item.id / f"{number}.log"


def read_log(deployment_id: str, restart: int | None, offset: int, limit: int = 256 * 1024) -> dict:
    item = get(deployment_id)
    if restart is not None and not 0 <= restart <= item.restart_count:
        raise Invalid(_l("restart must be between 0 and %(count)s", count=item.restart_count))
    path = log_path(item, restart)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(max(0, min(offset, size)))
            data = handle.read(max(1, min(limit, 256 * 1024)))
    except FileNotFoundError:
        size, data = 0, b""
    start = max(0, min(offset, size))
    return {"restart": item.restart_count if restart is None else restart, "offset": start,
            "next_offset": start + len(data), "size": size, "data": data.decode("utf-8", errors="replace")}


MAX_OFFERED = 200


def gpu_choices() -> list[dict]:
    """This host's GPUs for the form's picker: free memory and who holds each."""
    held = placement.held()
    choices = []
    for gpu in gpu_probe.probe(_settings().fake_gpus):
        free = (gpu.memory_total - gpu.memory_used) / 2**30
        holder = _holder_text(*held[gpu.uuid]) if gpu.uuid in held else None
        label = gettext("GPU %(index)s · %(name)s · %(free)s GiB free", index=gpu.index, name=gpu.name,
                        free=f"{free:.1f}") + (f" · {holder}" if holder else "")
        choices.append({"index": gpu.index, "label": label, "held": holder is not None})
    return choices


def _relative(path: Path) -> str:
    training = _settings().training_dir
    return str(path.relative_to(training)) if path.is_relative_to(training) else str(path)


def model_folders() -> list[str]:
    """Folders that hold a model (a config.json) in the model roots, and the runs' checkpoints."""
    settings, found = _settings(), []
    for root in dict.fromkeys((settings.training_dir / "models", *settings.model_roots)):
        if root.is_dir():
            found += [_relative(c.parent) for c in sorted(root.glob("*/config.json"))[:MAX_OFFERED]]
    return list(dict.fromkeys(found + checkpoint_folders()))[:MAX_OFFERED]


def checkpoint_folders(adapters_only: bool = False) -> list[str]:
    """Checkpoint artifacts of runs whose output dir is on this host, newest first."""
    from portal.runs.models import Artifact, Run
    rows = db.session.execute(select(Run.output_dir, Artifact.path).join(Run, Run.id == Artifact.run_id)
                              .where(Artifact.kind == "checkpoint").order_by(Artifact.id.desc()).limit(MAX_OFFERED))
    found = []
    for output_dir, path in rows:
        folder = Path(output_dir) / path
        if folder.is_dir() and (not adapters_only or (folder / "adapter_config.json").is_file()):
            found.append(_relative(folder))
    return found


def adapter_folders() -> list[str]:
    return checkpoint_folders(adapters_only=True)


def deploy_link(run, artifact) -> dict | None:
    """The new-deployment form's fields for a run's checkpoint: an adapter on its base, or the model itself."""
    if artifact.kind != "checkpoint":
        return None
    folder = Path(run.output_dir) / artifact.path
    config = folder / "adapter_config.json"
    if config.is_file():
        try:
            base = command.inspect_adapter(folder)["base_model_name_or_path"]
        except Invalid:
            return None
        return {"model": base, "adapter": _relative(folder), "adapter_name": f"{run.project.name}-{run.number}"}
    if (folder / "config.json").is_file():
        return {"model": _relative(folder)}
    return None
