"""The Slurm cluster the portal submits to: partitions and nodes from `sinfo`."""
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.spec import operation
from portal.supervisor import executors


class ClusterNode(BaseModel):
    name: str
    state: str = Field(description="Slurm's node state: idle, mixed, allocated, down, drained…")
    cpus_allocated: int
    cpus_total: int
    gpus_allocated: int
    gpus_total: int


class ClusterPartition(BaseModel):
    name: str
    default: bool
    available: str = Field(description="up, down, drain or inact")
    cpus_allocated: int
    cpus_total: int
    gpus_allocated: int
    gpus_total: int
    nodes: list[ClusterNode]


class ClusterInfo(BaseModel):
    available: bool = Field(description="false when this host has no Slurm client tools")
    error: str = Field(description="why sinfo gave no answer (e.g. the controller is down)")
    partitions: list[ClusterPartition]


@operation(bp, "GET", "/v1/cluster", summary="Slurm partitions and nodes (sinfo)", tag="system",
           response=ClusterInfo)
def cluster():
    found = executors.cluster()
    if found is None:
        return ClusterInfo(available=False, error="Slurm's client tools (sinfo) are not installed on this host",
                           partitions=[])
    return ClusterInfo(available=True, **found)
