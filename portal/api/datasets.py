"""Datasets (seed-api.md: POST /v1/datasets, GET /v1/datasets/{id}, PUT …/files), preview, registration."""
from datetime import datetime
from typing import Annotated, Any

from flask import request
from flask_login import current_user
from pydantic import BaseModel, BeforeValidator, Field

from portal.api import bp
from portal.api.schemas import Timestamp, _iso_z
from portal.api.spec import operation
from portal.datasets import paths, preview, services, transfers, uploads
from portal.datasets.models import Dataset, DatasetFile

NOT_FOUND = {404: "No such dataset"}
FILE_NOT_FOUND = {404: "No such dataset or file"}
# the configs package writes times as strings already; a datetime is written the API's way
TimeText = Annotated[str | None, BeforeValidator(lambda v: _iso_z(v) if isinstance(v, datetime) else v)]


class DatasetCreateRequest(BaseModel):
    name: str = Field(description="letters, digits, . _ - (also the folder under datasets/)",
                      examples=["chatglm_pairs_v1"])
    type: str = Field("", examples=["text2text"])
    description: str = Field("", examples=["object-storage"])
    task_type: str = Field("", examples=["sft"])
    metadata: dict[str, Any] = Field(default_factory=dict, examples=[{"language": "zh", "records": 1024}])


class DatasetCreated(BaseModel):
    id: str
    created_at: Timestamp


class DatasetPatch(BaseModel):
    """Only the fields sent change; `null` is refused except for train_config (the `None`
    defaults are never validated: they only mark a field as not sent)."""

    type: str = None
    description: str = None
    task_type: str = None
    metadata: dict[str, Any] = None
    train_config: str | None = Field(None, description="link a training config by name; null or \"\" unlinks")


class DatasetFileInfo(BaseModel):
    upload_id: str
    name: str
    stored_name: str
    bytes: int
    uploaded_at: Timestamp | None
    path: str = Field(description="what a project's dataset_name uses, relative to the training dir")
    sha256: str | None
    status: str = Field(description="validating | ready | invalid")
    format: str | None = Field(description="alpaca | sharegpt | openai | text | parquet")
    records: int | None
    bad_records: int | None
    validated_bytes: int
    registered_as: str | None = Field(description="its entry name in datasets/dataset_info.json")

    @classmethod
    def of(cls, f: DatasetFile, dataset_name: str) -> "DatasetFileInfo":
        return cls(upload_id=f.id, name=f.name, stored_name=f.stored_name, bytes=f.bytes_received,
                   uploaded_at=f.uploaded_at, path=paths.relative(dataset_name, f.stored_name), sha256=f.sha256,
                   status=f.status, format=f.format, records=f.records,
                   bad_records=(f.report or {}).get("bad_records"), validated_bytes=f.validated_bytes,
                   registered_as=f.registered_as)


class FileDetail(DatasetFileInfo):
    report: dict | None = Field(description="kind, errors [{line, message}] (the first 100), bad_records, notes")
    stats: dict | None = Field(description="records and, per field, avg/max characters")


class UploadInFlight(BaseModel):
    upload_id: str
    filename: str
    kind: str = Field(description="multipart | raw | resumable")
    bytes_received: int
    bytes_expected: int | None
    updated_at: Timestamp


class UploadProgress(BaseModel):
    files_count: int
    uploads_in_flight: int
    bytes_received: int = Field(description="of the uploads in flight")
    bytes_expected: int | None = Field(description="of the uploads in flight; null when one has no length")
    validating: int
    uploads: list[UploadInFlight]


class TrainConfigRef(BaseModel):
    name: str
    filename: str | None
    uploaded_at: TimeText
    size: int | None


class DatasetRecord(BaseModel):
    id: str
    name: str
    type: str
    description: str
    task_type: str
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp
    status: str = Field(description="empty | uploading | validating | invalid | ready")
    files: list[DatasetFileInfo]
    train_config: TrainConfigRef | None
    upload_progress: UploadProgress

    @classmethod
    def of(cls, d: Dataset) -> "DatasetRecord":
        done = [f for f in d.files if f.complete]
        flying = [f for f in d.files if f.in_flight]
        expected = [f.bytes_expected for f in flying]
        progress = UploadProgress(
            files_count=len(done), uploads_in_flight=len(flying),
            bytes_received=sum(f.bytes_received for f in flying),
            bytes_expected=None if None in expected else sum(expected),
            validating=sum(f.status == "validating" for f in done),
            uploads=[UploadInFlight(upload_id=f.id, filename=f.name, kind=f.kind, bytes_received=f.bytes_received,
                                    bytes_expected=f.bytes_expected, updated_at=f.updated_at) for f in flying])
        return cls(id=d.id, name=d.name, type=d.type, description=d.description, task_type=d.task_type,
                   metadata=d.meta or {}, created_at=d.created_at, updated_at=d.updated_at,
                   status=services.status(d), files=[DatasetFileInfo.of(f, d.name) for f in done],
                   train_config=services.train_config(d), upload_progress=progress)


class DatasetQuery(BaseModel):
    q: str = Field("", description="search in name and description")
    task_type: str = ""
    after: str = Field("", description="keyset cursor: the last name of the previous page")
    limit: int = Field(50, ge=1, le=200)


class DatasetPage(BaseModel):
    items: list[DatasetRecord]
    next_after: str | None


class DatasetDeleted(BaseModel):
    detail: str
    id: str


class UploadResult(BaseModel):
    upload_id: str
    dataset_id: str
    bytes: int
    filename: str
    stored_name: str
    path: str
    sha256: str | None
    status: str = Field(description="validating (large files: the supervisor validates) | ready | invalid")
    format: str | None
    records: int | None


class PreviewQuery(BaseModel):
    cursor: str = Field("", description="next_cursor of the previous page; empty: the first page")
    limit: int = Field(20, ge=1, le=100)


class PreviewItem(BaseModel):
    line: int
    record: Any = Field(description="the parsed record, or null when it does not parse")
    raw: str | None = Field(description="the start of a record that does not parse")
    error: str | None


class PreviewPage(BaseModel):
    items: list[PreviewItem]
    next_cursor: str | None
    note: str | None = None


class RegisterRequest(BaseModel):
    name: str | None = Field(None, description="entry name in dataset_info.json; default: the dataset's name")


class Registered(BaseModel):
    name: str
    entry: dict
    dataset_info: str = Field(description="the file written, relative to the training dir")


MULTIPART_BODY = {"required": True, "description": "multipart/form-data with the file in field `file`; or the raw "
                  "bytes as application/octet-stream with the name in `X-Filename`, `Upload-Filename` or "
                  "`?filename=`. Streamed to disk; the size limit is PORTAL_MAX_UPLOAD_BYTES.",
                  "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                      "file": {"type": "string", "format": "binary"}}}},
                      "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@operation(bp, "POST", "/v1/datasets", summary="Create a dataset", tag="datasets", body=DatasetCreateRequest,
           response=DatasetCreated, errors={400: "A field breaks a rule", 409: "The name is taken"})
def create_dataset(body: DatasetCreateRequest):
    dataset = services.create_dataset(body.name, created_by=current_user.id, **body.model_dump(exclude={"name"}))
    return DatasetCreated(id=dataset.id, created_at=dataset.created_at)


@operation(bp, "GET", "/v1/datasets", summary="List datasets", tag="datasets", query=DatasetQuery,
           response=DatasetPage)
def list_datasets(query: DatasetQuery):
    items = services.list_datasets(query.q, query.task_type, query.after, query.limit)
    return DatasetPage(items=[DatasetRecord.of(d) for d in items],
                       next_after=items[-1].name if len(items) == query.limit else None)


@operation(bp, "GET", "/v1/datasets/<dataset_id>", summary="A dataset", tag="datasets", response=DatasetRecord,
           errors=NOT_FOUND)
def get_dataset(dataset_id: str):
    return DatasetRecord.of(services.get_dataset(dataset_id))


@operation(bp, "PATCH", "/v1/datasets/<dataset_id>", summary="Change a dataset or link a training config",
           tag="datasets", body=DatasetPatch, response=DatasetRecord,
           errors={**NOT_FOUND, 400: "A field breaks a rule, or no such training config"})
def update_dataset(dataset_id: str, body: DatasetPatch):
    return DatasetRecord.of(services.update_dataset(dataset_id, **body.model_dump(exclude_unset=True)))


@operation(bp, "DELETE", "/v1/datasets/<dataset_id>", summary="Delete a dataset and its files", tag="datasets",
           response=DatasetDeleted, errors=NOT_FOUND)
def delete_dataset(dataset_id: str):
    services.delete_dataset(dataset_id)
    return DatasetDeleted(detail="dataset deleted", id=dataset_id)


def _header_text(value: str | None) -> str | None:
    """A file name from a header: percent-encoded, or UTF-8 bytes that WSGI read as latin-1."""
    from urllib.parse import unquote

    if not value:
        return None
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return unquote(value)


@operation(bp, "PUT", "/v1/datasets/<dataset_id>/files", summary="Upload a file (streamed)", tag="datasets",
           response=UploadResult, request_body=MULTIPART_BODY,
           errors={**NOT_FOUND, 400: "Bad file name, empty file, malformed body, or the client went away",
                   409: "The upload was cancelled while it streamed", 413: "Larger than PORTAL_MAX_UPLOAD_BYTES",
                   429: "Too many uploads in flight (PORTAL_MAX_UPLOADS_PER_USER)",
                   507: "Not enough free space on the training disk"})
def upload_file(dataset_id: str):
    """Small files (PORTAL_VALIDATE_INLINE_BYTES) come back validated (`ready`/`invalid`);
    larger ones come back `validating` and the supervisor validates them, with progress."""
    filename = (_header_text(request.headers.get("X-Filename") or request.headers.get("Upload-Filename"))
                or request.args.get("filename"))
    item = transfers.receive(dataset_id, uploads.body_of(request), request.content_type or "", request.content_length,
                             filename, current_user.id)
    return UploadResult(upload_id=item.id, dataset_id=dataset_id, bytes=item.bytes_received, filename=item.name,
                        stored_name=item.stored_name, path=paths.relative(item.dataset.name, item.stored_name),
                        sha256=item.sha256, status=item.status, format=item.format, records=item.records)


upload_file._portal_streaming = True  # the CSRF check must not parse the body as a form


@operation(bp, "GET", "/v1/datasets/<dataset_id>/files/<upload_id>", summary="A file with its validation report",
           tag="datasets", response=FileDetail, errors=FILE_NOT_FOUND)
def get_file(dataset_id: str, upload_id: str):
    item = services.get_file(dataset_id, upload_id)
    base = DatasetFileInfo.of(item, item.dataset.name).model_dump()
    report = item.report and {**item.report, "errors": [{"line": e["line"], "message": e["message"]}
                                                        for e in item.report.get("errors", [])]}  # English, as always
    return FileDetail(**base, report=report, stats=item.stats)


@operation(bp, "GET", "/v1/datasets/<dataset_id>/files/<upload_id>/preview", summary="A page of records",
           tag="datasets", query=PreviewQuery, response=PreviewPage, errors=FILE_NOT_FOUND)
def preview_file(dataset_id: str, upload_id: str, query: PreviewQuery):
    item = services.get_file(dataset_id, upload_id)
    return preview.page(services.file_path(item), query.cursor, query.limit)


@operation(bp, "POST", "/v1/datasets/<dataset_id>/files/<upload_id>/register",
           summary="Register the file in LLaMA-Factory's dataset_info.json", tag="datasets", body=RegisterRequest,
           body_required=False, response=Registered,
           errors={**FILE_NOT_FOUND, 409: "The file is not validated, or dataset_info.json is not valid JSON"})
def register_file(dataset_id: str, upload_id: str, body: RegisterRequest):
    """Writes or replaces the entry (`file_name`, `formatting`, `columns`, `tags`) atomically,
    keeping every other entry; `file_name` is relative to the datasets/ folder."""
    name, entry = services.register_file(dataset_id, upload_id, body.name)
    return Registered(name=name, entry=entry, dataset_info="datasets/dataset_info.json")
