"""Training configs: the original's `/v1/train-config` (one current config) and a library.

`PUT /v1/train-config` takes a multipart `file` (`.yaml`/`.yml`), stores it in the library
under a name taken from the file name (or the form field `name`) and makes it current.
`PUT /v1/train-configs/{name}` takes the YAML either raw (any non-JSON Content-Type, e.g.
`application/yaml`) or as JSON `{"content": "..."}`; saving different content adds a version.
A document that cannot be a config is a 422 in FastAPI's shape, one entry per problem, with
its place in `msg` and as numbers: `{"loc": ["body", "file"], "msg": "line 3, column 5:
mapping values are not allowed here", "type": "yaml", "line": 3, "column": 5}`.
"""
from typing import Any, Literal

from flask import request
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Timestamp
from portal.api.spec import RequestInvalid, _parse_body, operation
from portal.configs import services
from portal.configs.limits import limit_request
from portal.configs.validate import ConfigInvalid

TAG = "train-configs"
NOT_FOUND = {404: "No such training config"}
TOO_LARGE = {413: "Larger than PORTAL_MAX_CONFIG_BYTES"}


class ConfigMeta(BaseModel):
    filename: str = Field(description="the file name it was uploaded as", examples=["finetune.yaml"])
    uploaded_at: Timestamp = Field(description="when its latest version was saved")
    size: int = Field(description="bytes", examples=[2048])
    name: str = Field(description="its name in the library", examples=["finetune"])
    path: str = Field(description="relative to the training dir: a project's training_yaml_name",
                      examples=["configs/finetune.yaml"])
    version: int = Field(description="latest version number")
    sha256: str

    @classmethod
    def of(cls, row, **extra):
        return cls(filename=row.filename, uploaded_at=row.updated_at, size=row.size, name=row.name, path=row.path,
                   version=row.version, sha256=row.sha256, **extra)


class ConfigUploaded(BaseModel):
    train_config: ConfigMeta
    warnings: list[str] = Field(description="what would likely break a run (unknown dataset names, …)")


class ConfigInfo(ConfigMeta):
    current: bool = Field(description="whether GET /v1/train-config answers with this one")
    created_at: Timestamp
    summary: dict[str, Any] = Field(description="the keys people look for first (model, dataset, lr, …)")

    @classmethod
    def of(cls, row, **extra):
        return super().of(row, current=row.is_current, created_at=row.created_at, summary=row.summary or {},
                          **extra)


class VersionInfo(BaseModel):
    version: int
    filename: str
    uploaded_at: Timestamp
    size: int
    sha256: str

    @classmethod
    def of(cls, row, **extra):
        return cls(version=row.number, filename=row.filename, uploaded_at=row.created_at, size=row.size,
                   sha256=row.sha256, **extra)


class VersionDetail(VersionInfo):
    name: str
    content: str


class ConfigDetail(ConfigInfo):
    content: str = Field(description="the YAML of the latest version")
    warnings: list[str]
    problems: list[str] = Field(description="set only when the stored YAML no longer validates")
    disk: Literal["same", "modified", "missing"] = Field(
        description="the file under the training dir compared with the latest version")
    versions: list[VersionInfo] = Field(description="newest first")
    projects: list[str] = Field(description="projects whose training_yaml_name is this config")

    @classmethod
    def of_detail(cls, d: services.Detail) -> "ConfigDetail":
        return cls.of(d.config, content=d.content, warnings=d.warnings, problems=[str(p) for p in d.problems],
                      disk=d.disk, versions=[VersionInfo.of(v) for v in d.versions], projects=d.projects)


class ConfigPut(BaseModel):
    content: str = Field(description="the YAML text", examples=["model_name_or_path: Qwen/Qwen2.5-7B\nstage: sft\n"])


class ConfigQuery(BaseModel):
    q: str = Field("", description="search in names")
    after: str = Field("", description="keyset cursor: the last name of the previous page")
    limit: int = Field(100, ge=1, le=500)


class ConfigPage(BaseModel):
    items: list[ConfigInfo]
    next_after: str | None


class ConfigDeleted(BaseModel):
    status: Literal["train_config_deleted"] = "train_config_deleted"
    name: str


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "a .yaml or .yml file"},
                   "name": {"type": "string", "description": "name in the library; default: from the file name"}},
}}}}
PUT_BODY = {"required": True, "content": {
    "application/json": {"schema": ConfigPut.model_json_schema()},
    "application/yaml": {"schema": {"type": "string", "description": "the YAML itself"}},
}}
_RAW_BODIES = {"api.put_train_config": False}  # endpoint → whether the YAML arrives encoded


def problems(error: ConfigInvalid, loc: list) -> list[dict]:
    """ConfigInvalid as FastAPI-style entries; line and column also as numbers."""
    return [{"loc": loc, "msg": str(p), "type": p.kind, "line": p.line, "column": p.column}
            for p in error.problems]


@bp.url_value_preprocessor
def _limit_config_bodies(endpoint, _values):
    if endpoint in _RAW_BODIES:
        limit_request(encoded=_RAW_BODIES[endpoint])
    elif endpoint == "api.save_train_config":
        limit_request(encoded=request.is_json)


@operation(bp, "PUT", "/v1/train-config", summary="Upload a training config and make it current", tag=TAG,
           response=ConfigUploaded, request_body=UPLOAD_BODY, errors={400: "The name is not a slug", **TOO_LARGE})
def put_train_config():
    """The original service's upload (`curl -X PUT -F file=@train.yaml`). A file with the name of
    a config already in the library adds a version to it; earlier versions are kept."""
    upload = request.files.get("file")
    if upload is None:
        raise RequestInvalid([{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}])
    try:
        row, checked = services.upload(upload.filename or "", upload.read(), name=request.form.get("name", ""),
                                       by=current_user.id)
    except ConfigInvalid as error:
        raise RequestInvalid(problems(error, ["body", "file"])) from None
    return ConfigUploaded(train_config=ConfigMeta.of(row), warnings=checked.warnings)


@operation(bp, "GET", "/v1/train-config", summary="The current training config", tag=TAG, response=ConfigMeta,
           errors={404: "No config is current"})
def get_train_config():
    return ConfigMeta.of(services.require_current())


@operation(bp, "DELETE", "/v1/train-config", summary="Delete the current training config", tag=TAG,
           response=ConfigDeleted, errors={404: "No config is current"})
def delete_train_config():
    """Deletes the current config from the library (its file and versions too), as the original
    deleted its one config. To keep it, make another config current instead."""
    return ConfigDeleted(name=services.delete_current())


@operation(bp, "GET", "/v1/train-configs", summary="The config library", tag=TAG, query=ConfigQuery,
           response=ConfigPage)
def list_train_configs(query: ConfigQuery):
    items = services.list_configs(query.q, query.after, query.limit)
    return ConfigPage(items=[ConfigInfo.of(c) for c in items],
                      next_after=items[-1].name if len(items) == query.limit else None)


@operation(bp, "GET", "/v1/train-configs/<name>", summary="A config: metadata, YAML, summary, warnings, versions",
           tag=TAG, response=ConfigDetail, errors=NOT_FOUND)
def get_train_config_detail(name: str):
    """`name`, `name.yaml` and `name.yml` all find the config `name`."""
    return ConfigDetail.of_detail(services.detail(name))


@operation(bp, "PUT", "/v1/train-configs/<name>", summary="Create a config or save a new version", tag=TAG,
           response=ConfigDetail, request_body=PUT_BODY, errors={400: "The name is not a slug", **TOO_LARGE})
def save_train_config(name: str):
    """Raw YAML (e.g. `Content-Type: application/yaml`) or JSON `{"content": "..."}`. Content equal
    to the latest version adds no version."""
    if request.is_json:
        content, loc = _parse_body(ConfigPut, True).content, ["body", "content"]
    else:
        content, loc = request.get_data(), ["body"]
        if not content:
            raise RequestInvalid([{"loc": loc, "msg": "A YAML body is required", "type": "missing"}])
    try:
        row, _checked = services.save_config(name, content, by=current_user.id)
    except ConfigInvalid as error:
        raise RequestInvalid(problems(error, loc)) from None
    return ConfigDetail.of_detail(services.detail(row.name))


@operation(bp, "DELETE", "/v1/train-configs/<name>", summary="Delete a config, its versions and its file",
           tag=TAG, response=ConfigDeleted, errors=NOT_FOUND)
def delete_train_config_named(name: str):
    row = services.get_config(name)
    services.delete_config(row.name)
    return ConfigDeleted(name=row.name)


@operation(bp, "POST", "/v1/train-configs/<name>/current", summary="Make a config the current one", tag=TAG,
           response=ConfigInfo, errors=NOT_FOUND)
def make_train_config_current(name: str):
    """The one `GET /v1/train-config` answers with."""
    return ConfigInfo.of(services.set_current(name))


@operation(bp, "GET", "/v1/train-configs/<name>/versions/<int:number>", summary="One version of a config",
           tag=TAG, response=VersionDetail, errors={404: "No such config or version"})
def get_train_config_version(name: str, number: int):
    version = services.get_version(name, number)
    return VersionDetail.of(version, name=version.config_name, content=version.content)


@operation(bp, "POST", "/v1/train-configs/<name>/versions/<int:number>/restore",
           summary="Save an earlier version again as the newest", tag=TAG, response=ConfigDetail,
           errors={404: "No such config or version"})
def restore_train_config_version(name: str, number: int):
    row = services.restore_version(name, number, by=current_user.id)
    return ConfigDetail.of_detail(services.detail(row.name))
