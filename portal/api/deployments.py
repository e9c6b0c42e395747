"""Deployments (seed-api.md: POST/GET /deployments, GET/DELETE /deployments/{id}) and what we add."""
from typing import Any

from flask import Response, current_app, stream_with_context
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Id, Timestamp
from portal.api.spec import operation
from portal.deployments import command, probe, services
from portal.errors import Conflict
from portal.i18n import _l
from portal.timeutil import as_utc

NOT_FOUND = {404: "No such deployment"}


class LoraAdapter(BaseModel):
    name: str = Field(description="the name clients ask for as `model`", examples=["my-lora"])
    path: str = Field(description="a PEFT adapter folder (adapter_config.json + adapter_model.*), like model_path")
    base_model_name: str | None = Field(None, description="default: the deployment's served model name")


class CreateDeploymentRequest(BaseModel):
    model_path: str = Field(examples=["models/qwen2.5"], description="under the training dir, an absolute path under "
                            "PORTAL_MODEL_ROOTS, or a hub id when PORTAL_ALLOW_HUB_MODELS is on")
    model_version: str = Field("", examples=["v1"])
    tags: list[str] = Field(default_factory=list, examples=[["demo"]])
    extra_args: str = Field("", examples=["--max-num-seqs 4"], description="more vLLM flags, split like a shell "
                            "would (never run by one); flags the portal sets are refused")
    preferred_gpu: int | None = Field(None, ge=0, le=1023, examples=[0], description="GPU index; 409 when held")
    health_path: str = Field("/health", examples=["/health"])
    served_model_name: str | None = Field(None, description="default: the model folder's name")
    tensor_parallel_size: int = Field(1, ge=1, le=services.MAX_TP, description="GPUs")
    gpu_memory_utilization: float = Field(0.9, ge=0.05, le=1.0)
    max_model_len: int | None = Field(None, ge=16, le=10_000_000)
    lora_adapters: list[LoraAdapter] = Field(default_factory=list, max_length=32)
    executor: str = Field("local", description="local")


class DeploymentInfo(BaseModel):
    deployment_id: str
    model_path: str
    model_version: str
    tags: list[str]
    gpu_id: int | None = Field(description="index of the first GPU")
    port: int | None
    pid: int | None = Field(description="the server's pid (its process group's id)")
    status: str = Field(description="pending | starting | running | unhealthy | stopping | stopped | failed")
    started_at: float | None = Field(description="Unix seconds of the current start")
    stopped_at: float | None = Field(description="Unix seconds")
    health_ok: bool
    vllm_cmd: str = Field(description="the exact command line, shell-quoted for display only")
    log_file: str = Field(description="the current start's log")
    health_path: str
    served_model_name: str
    tensor_parallel_size: int
    gpu_memory_utilization: float
    max_model_len: int | None
    lora_adapters: list[dict]
    executor: str
    gpus: list[int] = Field(description="indexes of every GPU it holds")
    extra_args: str
    preferred_gpu: int | None
    restart_count: int
    next_start_at: float | None = Field(description="Unix seconds of the next restart after a crash")
    status_reason: str
    url: str | None = Field(description="the OpenAI-compatible base URL")
    metrics: dict = Field(description="from the server's /metrics: requests running and waiting, KV-cache use, "
                          "tokens per second")
    created_at: Timestamp

    @classmethod
    def of(cls, d) -> "DeploymentInfo":
        epoch = (lambda t: as_utc(t).timestamp() if t else None)
        host = current_app.config["PORTAL"].deploy_host
        return cls(deployment_id=d.id, model_path=d.model_path, model_version=d.model_version, tags=d.tags or [],
                   gpu_id=(d.gpu_indexes or [None])[0], port=d.port, pid=d.pid, status=d.status,
                   started_at=epoch(d.spawned_at), stopped_at=epoch(d.stopped_at), health_ok=d.health_ok,
                   vllm_cmd=command.display(d.argv or []), log_file=str(services.log_path(d)),
                   health_path=d.health_path, served_model_name=d.served_model_name,
                   tensor_parallel_size=d.tensor_parallel_size, gpu_memory_utilization=d.gpu_memory_utilization,
                   max_model_len=d.max_model_len, lora_adapters=d.lora_adapters or [], executor=d.executor,
                   gpus=d.gpu_indexes or [], extra_args=d.extra_args, preferred_gpu=d.preferred_gpu,
                   restart_count=d.restart_count, next_start_at=epoch(d.next_start_at), status_reason=d.status_reason,
                   url=f"http://{host}:{d.port}/v1" if d.port else None, metrics=d.server_metrics or {},
                   created_at=d.created_at)


class DeploymentQuery(BaseModel):
    model: str = Field("", description="part of the model path or served name")
    tag: str = ""
    status: str = Field("", description="comma-separated statuses")


class DeleteQuery(BaseModel):
    force: bool = Field(False, description="SIGKILL the process group after the grace period")


class Removed(BaseModel):
    detail: str
    deployment_id: str


class LogQuery(BaseModel):
    restart: Id | None = Field(None, description="which start (0 = the first); default: the current one")
    offset: Id = Field(0, description="byte offset to read from")


class LogPage(BaseModel):
    restart: int
    offset: int
    next_offset: int
    size: int
    data: str


class ChatRequest(BaseModel, extra="allow"):
    """An OpenAI chat-completions body, passed through; `model` defaults to the served name."""
    model: str | None = None
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    stream: bool = False


@operation(bp, "POST", "/deployments", summary="Deploy a model with vLLM", tag="deployments",
           body=CreateDeploymentRequest, response=DeploymentInfo,
           errors={400: "A field breaks a rule (model path, extra_args, adapter)", 409: "The GPU or ports are taken"})
def create_deployment(body: CreateDeploymentRequest):
    """Checks the model and flags, holds GPUs and a port, and records it `pending`; the supervisor
    starts the server (`starting`) and marks it `running` once its health path answers 200."""
    return DeploymentInfo.of(services.create(body.model_dump(), created_by=current_user.id))


@operation(bp, "GET", "/deployments", summary="List deployments", tag="deployments", query=DeploymentQuery,
           response=list[DeploymentInfo])
def list_deployments(query: DeploymentQuery):
    return [DeploymentInfo.of(d) for d in services.list_deployments(query.model, query.tag, query.status)]


@operation(bp, "GET", "/deployments/<deployment_id>", summary="A deployment", tag="deployments",
           response=DeploymentInfo, errors=NOT_FOUND)
def get_deployment(deployment_id: str):
    return DeploymentInfo.of(services.get(deployment_id))


@operation(bp, "DELETE", "/deployments/<deployment_id>", summary="Stop a deployment", tag="deployments",
           query=DeleteQuery, response=Removed, errors=NOT_FOUND)
def delete_deployment(deployment_id: str, query: DeleteQuery):
    """Stops it for sure (SIGTERM to its process group; SIGKILL after the grace period with
    `force`); it stays in the history as `stopped`."""
    item = services.request_stop(deployment_id, force=query.force)
    return Removed(detail="deployment removed", deployment_id=item.id)


@operation(bp, "POST", "/deployments/<deployment_id>/restart", summary="Restart a deployment's server",
           tag="deployments", response=DeploymentInfo, errors={**NOT_FOUND, 409: "Not started"})
def restart_deployment(deployment_id: str):
    return DeploymentInfo.of(services.restart(deployment_id))


@operation(bp, "POST", "/deployments/<deployment_id>/adapters", summary="Serve one more LoRA adapter",
           tag="deployments", body=LoraAdapter, response=DeploymentInfo, errors={**NOT_FOUND, 409: "Not started"})
def add_adapter(deployment_id: str, body: LoraAdapter):
    """vLLM loads adapters at start: the server restarts with the adapter added."""
    return DeploymentInfo.of(services.add_adapter(deployment_id, body.model_dump()))


@operation(bp, "GET", "/deployments/<deployment_id>/logs", summary="A deployment's log, per start",
           tag="deployments", query=LogQuery, response=LogPage, errors=NOT_FOUND)
def deployment_logs(deployment_id: str, query: LogQuery):
    return services.read_log(deployment_id, query.restart, query.offset)


@operation(bp, "POST", "/deployments/<deployment_id>/chat", summary="Chat with a deployment (OpenAI format)",
           tag="deployments", body=ChatRequest, role="viewer",
           errors={**NOT_FOUND, 409: "Not running", 502: "The server did not answer"})
def chat(deployment_id: str, body: ChatRequest):
    """Proxies `/v1/chat/completions` to the server; with `stream: true` its SSE chunks are passed
    through as they come."""
    item = services.get(deployment_id)
    if item.status not in ("running", "unhealthy"):
        raise Conflict(_l("deployment %(id)s is %(status)s, not running", id=item.id, status=item.status))
    payload = body.model_dump(exclude_none=True)
    payload.setdefault("model", item.served_model_name)
    try:
        status, content_type, chunks = probe.chat(current_app.config["PORTAL"].deploy_host, item.port, payload)
    except OSError as error:
        return {"detail": f"the server did not answer: {error}"}, 502
    response = Response(stream_with_context(chunks), status=status, content_type=content_type)
    response.headers["X-Accel-Buffering"] = "no"  # a buffering proxy in front must pass the stream on
    return response
