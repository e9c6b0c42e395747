"""Comparing runs: curves of each metric key per run, downsampled, and the config difference."""
from typing import Any

from flask import Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

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


class Overview(BaseModel):
    runs: list[RunSummary]
    keys: list[str]
    groups: dict[str, list[str]] = Field(description="the keys by chart group (loss, eval, learning_rate…)")
    config_diff: list[ConfigDifference]


class Comparison(Overview):
    series: dict[str, dict[str, list[tuple[int, float]]]] = Field(
        description="run id → key → [[step, value], …], averaged into at most max_points step buckets")
    times: dict[str, dict[str, list[float]]] = Field(
        description="run id → key → seconds since the run started, one per point of `series`")


def _nested(drawn: dict[str, dict[str, dict]], part: str) -> bytes:
    """`{"<run id>": {"<key>": <the cached JSON of that series' part>}}`."""
    return b"{" + b",".join(to_json(run_id) + b":{" + b",".join(to_json(key) + b":" + series[part]
                                                               for key, series in per_run.items()) + b"}"
                            for run_id, per_run in drawn.items()) + b"}"


@operation(bp, "GET", "/v1/runs/compare", summary="Compare runs", tag="runs", query=CompareQuery,
           response=Comparison, errors={400: "Bad ids or keys", 404: "A run does not exist"})
def compare_runs(query: CompareQuery):
    """Each run's series of each key, downsampled in SQL like a run's metrics, and the config keys that differ."""
    overview, drawn = compare.compare(compare.parse_ids(query.ids), compare.parse_keys(query.keys), query.max_points)
    # Up to 400,000 numbers: each series is kept as JSON in the series cache (portal/runs/metrics.py),
    # so a comparison opened again or polled writes only its overview through the model; the
    # series are spliced in as the model describes them (bench/runs/bench_compare.py measures it)
    head = Overview.model_validate(overview).model_dump_json().encode()
    series, times = _nested(drawn, "pairs_json"), _nested(drawn, "seconds_json")
    return Response(head[:-1] + b',"series":' + series + b',"times":' + times + b"}", mimetype="application/json")
