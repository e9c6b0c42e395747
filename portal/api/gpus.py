"""The GPUs the probe sees."""
from flask import current_app
from pydantic import BaseModel

from portal.api import bp
from portal.api.spec import operation
from portal.supervisor import gpus


class GpuInfo(BaseModel):
    uuid: str
    index: int
    name: str
    memory_total: int
    memory_used: int
    utilization: int | None
    source: str
    processes: list[str]


@operation(bp, "GET", "/v1/gpus", summary="GPUs on this host", tag="system", response=list[GpuInfo])
def list_gpus():
    return [GpuInfo(**{**g.__dict__, "processes": list(g.processes)})
            for g in gpus.probe(current_app.config["PORTAL"].fake_gpus)]
