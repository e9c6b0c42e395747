"""Executors by name; each is built once per supervisor process."""
from functools import lru_cache

from flask import current_app

from portal.supervisor.executors.base import Executor


@lru_cache(maxsize=None)
def _build(name: str, runs_dir: str) -> Executor:
    from pathlib import Path

    if name == "local":
        from portal.supervisor.executors.local import LocalExecutor
        return LocalExecutor(Path(runs_dir))
    if name == "docker":
        from portal.supervisor.executors.docker import DockerExecutor
        return DockerExecutor()
    raise ValueError(f"unknown executor {name!r}")


def get(name: str) -> Executor:
    return _build(name, str(current_app.config["PORTAL"].data_dir / "runs"))
