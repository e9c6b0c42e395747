"""Executors by name; each is built once per set of settings.

This package is the only place that knows executor names: the rest of the portal asks the
executor a run names what it can do (`places_gpus`, `host_workdir`, …) and how its runs look.
"""
from functools import lru_cache

from flask import current_app

from portal.supervisor.executors.base import Executor

NAMES = ("local", "docker", "slurm")


@lru_cache(maxsize=None)
def _build(name: str, settings) -> Executor:
    if name == "local":
        from portal.supervisor.executors.local import LocalExecutor
        return LocalExecutor(settings.data_dir / "runs", settings.training_dir, settings.run_user)
    if name == "docker":
        from portal.supervisor.executors.docker import DockerExecutor
        host = str(settings.docker_run_dir_host) if settings.docker_run_dir_host else None
        return DockerExecutor(settings.docker_run_dir, host, settings.data_dir / "runs")
    if name == "slurm":
        from portal.supervisor.executors.slurm import SlurmExecutor
        return SlurmExecutor(settings.shared_dir, settings.training_dir, settings.slurm_timeout_seconds)
    raise ValueError(f"unknown executor {name!r}")


def get(name: str) -> Executor:
    return _build(name, current_app.config["PORTAL"])


def cluster() -> dict | None:
    """The Slurm cluster this host submits to (partitions, nodes, CPUs, GPUs); None when it has no Slurm."""
    return get("slurm").cluster()
