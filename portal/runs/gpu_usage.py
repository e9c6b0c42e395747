"""GPU use per run: the GPUs a run holds, sampled into its `system/gpu<i>.*` metrics, and the idle-GPU guard.

The probe runs in the supervisor's pool (NVML can be slow on a busy host); the tick records one
sample per run and GPU, `i` being the GPU's place in the run's list, which is how
CUDA_VISIBLE_DEVICES numbers it inside the run. The guard judges from the recorded samples, so it
keeps no memory of its own and a restarted supervisor judges the same window.
"""
import logging
import math
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.i18n import N_
from portal.notify import rules
from portal.runs import metrics, services
from portal.runs.models import Metric, Run
from portal.supervisor import gpus as gpu_probe
from portal.supervisor.gpus import Gpu
from portal.timeutil import utcnow

log = logging.getLogger("portal.runs.gpus")
READINGS = {"util": "utilization", "mem_used": "memory_used", "power": "power"}  # metric name -> Gpu field
SAMPLED = ("running", "stopping")  # the states in which a run's process uses its GPUs


def key(index: int, reading: str) -> str:
    return f"system/gpu{index}.{reading}"


def sample(run: Run, by_uuid: dict[str, Gpu]) -> dict[str, float]:
    """The run's metric values from one probe; GPUs the probe cannot see (a scheduler's node) are left out."""
    values = {}
    for index, uuid in enumerate(run.gpus or []):
        gpu = by_uuid.get(uuid)
        if gpu is None:
            continue
        for reading, attribute in READINGS.items():
            value = getattr(gpu, attribute)
            if value is not None:
                values[key(index, reading)] = float(value)
    return values


def idle(run: Run, percent: int, minutes: int, now: datetime) -> bool:
    """Every GPU of the run was sampled before the last `minutes` began and stayed below `percent` since."""
    start = now - timedelta(minutes=minutes)
    for index in range(len(run.gpus or [])):
        where = (Metric.run_id == run.id, Metric.key == key(index, "util"))
        if db.session.scalar(select(Metric.id).where(*where, Metric.created_at <= start).limit(1)) is None:
            return False  # not watched for the whole window (just started, or the supervisor was away)
        high, count = db.session.execute(select(func.max(Metric.value), func.count())
                                         .where(*where, Metric.created_at > start)).one()
        if not count or high >= percent:
            return False
    return bool(run.gpus)


def guard(run: Run, now: datetime) -> bool:
    """Stop `run` through the ordinary stop path when its project's idle guard says so. True if stopped."""
    project = run.project
    if run.status != "running" or not project.idle_gpu_percent or not project.idle_gpu_minutes:
        return False
    if not idle(run, project.idle_gpu_percent, project.idle_gpu_minutes, now):
        return False
    services.request_stop(run.id, because=N_(
        "stopped by the idle-GPU guard: all its GPUs stayed below %(percent)s%% for %(minutes)s minutes; "
        "%(signal)s, then SIGKILL after %(seconds)ss", percent=project.idle_gpu_percent,
        minutes=project.idle_gpu_minutes, signal=run.stop_signal, seconds=run.grace_seconds))
    return True


class Sampler:
    """Owned by the runs handler: at most one probe in the pool, one every PORTAL_GPU_SAMPLE_SECONDS."""

    def __init__(self):
        self.future = None
        self.asked_at = -math.inf

    def tick(self, supervisor) -> None:
        settings = current_app.config["PORTAL"]
        if self.future is None:
            due = time.monotonic() - self.asked_at >= settings.gpu_sample_seconds
            if due and db.session.scalar(select(Run.id).where(Run.status.in_(SAMPLED), Run.gpu_count > 0).limit(1)):
                self.asked_at = time.monotonic()
                self.future = supervisor.call(gpu_probe.probe, settings.fake_gpus)
            return
        if not self.future.done():
            return
        future, self.future = self.future, None
        try:
            found = future.result()
        except Exception:
            log.exception("sampling the GPUs failed")
            return
        self.record(found)

    @staticmethod
    def record(found: list[Gpu]) -> None:
        by_uuid, now = {gpu.uuid: gpu for gpu in found}, utcnow()
        for run in db.session.scalars(select(Run).where(Run.status.in_(SAMPLED), Run.gpu_count > 0)).all():
            values = sample(run, by_uuid)
            if values:
                metrics.record(run, run.step, values)
                rules.idle_gpus(run, lambda percent, minutes, run=run: idle(run, percent, minutes, now))
                db.session.commit()
                guard(run, now)
