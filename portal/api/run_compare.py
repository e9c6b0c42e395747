"""Comparing runs: curves of each metric key per run, downsampled, and the config difference."""
from typing import Any

from flask import Response
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Timestamp
from portal.api.spec import operation
from portal.runs import compare


class CompareQuery(BaseModel):
    ids: str = Field(description=f"comma-separated run ids, at most {compare.MAX_RUNS}", max_length=600)
    keys: str = Field("", description="comma-separated metric keys; empty: every key of these runs",
                      max_length=6000)
    max_points: int = Field(2000, ge=10, le=10000, description="most points per series per run")


class RunSummary(BaseModel):
    id: int
    project: str
    number: int
    name: str
    status: str
    duration_seconds: float | None
    started_at: Timestamp | None
    final: dict[str, float] = Field(description="the latest value of each key")
    best: dict[str, float] = Field(description="the lowest value of each key, the highest for accuracy-like keys")


class ConfigDifference(BaseModel):
    key: str = Field(description="a flattened YAML key, e.g. `learning_rate` or `lora.rank`")
    values: dict[str, Any] = Field(description="its value in each run's recorded config, by run id (null: unset)")


class Comparison(BaseModel):
    runs: list[RunSummary]
    keys: list[str]
    groups: dict[str, list[str]] = Field(description="the keys by chart group (loss, eval, learning_rate…)")
    series: dict[str, dict[str, list[tuple[int, float]]]] = Field(
        description="run id → key → [[step, value], …], averaged into at most max_points step buckets")
    times: dict[str, dict[str, list[float]]] = Field(
        description="run id → key → seconds since the run started, one per point of `series`")
    config_diff: list[ConfigDifference]


@operation(bp, "GET", "/v1/runs/compare", summary="Compare runs", tag="runs", query=CompareQuery,
           response=Comparison, errors={400: "Bad ids or keys", 404: "A run does not exist"})
def compare_runs(query: CompareQuery):
    """Each run's series of each key, downsampled in SQL like a run's metrics, and the config keys that differ."""
    found = compare.compare(compare.parse_ids(query.ids), compare.parse_keys(query.keys), query.max_points)
    # tens of thousands of points: pydantic-core writes the JSON itself, some ten times faster than
    # validating into Python objects and handing those to Flask's encoder (bench/runs/bench_compare.py)
    return Response(Comparison.model_validate(found).model_dump_json(), mimetype="application/json")
