"""The GPUs the probe sees, and who holds each (from placement)."""
from flask import current_app
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.spec import operation
from portal.supervisor import gpus, placement


class GpuHolder(BaseModel):
    kind: str = Field(description="run | deployment")
    id: str


class GpuInfo(BaseModel):
    uuid: str
    index: int
    name: str
    memory_total: int
    memory_used: int
    utilization: int | None
    source: str
    processes: list[str]
    held_by: GpuHolder | None = Field(None, description="the run or deployment the portal placed on it")


@operation(bp, "GET", "/v1/gpus", summary="GPUs on this host and who holds them", tag="system",
           response=list[GpuInfo])
def list_gpus():
    held = placement.held()
    return [GpuInfo(**{**g.__dict__, "processes": list(g.processes)},
                    held_by=GpuHolder(kind=held[g.uuid][0], id=held[g.uuid][1]) if g.uuid in held else None)
            for g in gpus.probe(current_app.config["PORTAL"].fake_gpus)]
