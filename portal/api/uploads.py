"""Uploads: cancel (seed-api.md: DELETE /v1/uploads/{id}) and resumable uploads, tus-style.

Create with `POST /v1/datasets/{id}/uploads` (`{"filename", "length"}`, or tus's
`Upload-Length` and `Upload-Metadata: filename <base64>`), send chunks with `PATCH` and an
`Upload-Offset` header (or `PUT` with `Content-Range: bytes START-END/TOTAL`), ask
`HEAD`/`GET /v1/uploads/{id}` for the offset after a break. The last chunk completes the
upload; `POST /v1/uploads/{id}/complete` does it again idempotently.
"""
import base64
import re

from flask import jsonify, request, url_for
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Int64, Timestamp
from portal.api.spec import operation
from portal.datasets import paths, transfers, uploads
from portal.datasets.models import DatasetFile
from portal.errors import Invalid
from portal.i18n import _l
from portal.routing import INT64_MAX

NOT_FOUND = {404: "No such upload"}
# ASCII digits, at most 19: what isdigit() accepts ("²", "٣") is not a number of bytes
CONTENT_RANGE = re.compile(r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)$")
_BYTES = re.compile(r"[0-9]{1,19}")
CHUNK_BODY = {"required": True, "description": "the chunk's bytes (application/offset+octet-stream or "
              "application/octet-stream); PATCH: `Upload-Offset: N`; PUT: `Content-Range: bytes START-END/TOTAL`",
              "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}},
                          "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
CHUNK_ERRORS = {**NOT_FOUND, 400: "Missing or bad offset, or the chunk ends past the length",
                409: "The offset is past the server's (ask HEAD), or the upload is no longer receiving",
                429: "Too many uploads in flight (PORTAL_MAX_UPLOADS_PER_USER)",
                507: "Not enough free space on the training disk"}


class ResumableCreate(BaseModel):
    filename: str | None = Field(None, examples=["train.jsonl"])
    length: Int64 | None = Field(None, gt=0, description="the file's size in bytes")


class UploadInfo(BaseModel):
    upload_id: str
    dataset_id: str
    filename: str
    stored_name: str
    path: str
    kind: str
    status: str = Field(description="receiving | validating | ready | invalid | aborted | failed")
    offset: int = Field(description="bytes received so far: send the next chunk from here")
    length: int | None
    sha256: str | None
    error: str
    created_at: Timestamp
    updated_at: Timestamp
    uploaded_at: Timestamp | None

    @classmethod
    def of(cls, f: DatasetFile) -> "UploadInfo":
        return cls(upload_id=f.id, dataset_id=f.dataset_id, filename=f.name, stored_name=f.stored_name,
                   path=paths.relative(f.dataset.name, f.stored_name), kind=f.kind, status=f.status,
                   offset=f.bytes_received, length=f.bytes_expected, sha256=f.sha256, error=f.error,
                   created_at=f.created_at, updated_at=f.updated_at, uploaded_at=f.uploaded_at)


class UploadAborted(BaseModel):
    upload_id: str
    status: str


def _answer(item: DatasetFile, status: int = 200):
    """UploadInfo with tus's headers, so tus-style clients need not read the JSON."""
    response = jsonify(UploadInfo.of(item).model_dump(mode="json"))
    response.status_code = status
    response.headers["Upload-Offset"] = str(item.bytes_received)
    if item.bytes_expected is not None:
        response.headers["Upload-Length"] = str(item.bytes_expected)
    response.headers["Tus-Resumable"] = "1.0.0"
    response.headers["Location"] = url_for("api.get_upload", upload_id=item.id)
    return response


def _tus_filename(metadata: str) -> str | None:
    for pair in metadata.split(","):
        key, _, value = pair.strip().partition(" ")
        if key == "filename":
            try:
                return base64.b64decode(value).decode("utf-8")
            except ValueError:
                raise Invalid(_l("Upload-Metadata: filename is not base64 of UTF-8")) from None
    return None


def _int_header(name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not _BYTES.fullmatch(raw.strip()) or int(raw) > INT64_MAX:
        raise Invalid(_l("%(header)s must be a number of bytes", header=name))
    return int(raw)


@operation(bp, "POST", "/v1/datasets/<dataset_id>/uploads", summary="Start a resumable upload", tag="uploads",
           body=ResumableCreate, body_required=False, response=UploadInfo, status=201,
           errors={404: "No such dataset", 400: "Bad file name or length", 413: "Larger than PORTAL_MAX_UPLOAD_BYTES",
                   507: "Not enough free space on the training disk"})
def create_upload(dataset_id: str, body: ResumableCreate):
    filename = body.filename or _tus_filename(request.headers.get("Upload-Metadata", ""))
    length = body.length or _int_header("Upload-Length")
    return _answer(transfers.create_resumable(dataset_id, filename, length, current_user.id), 201)


@operation(bp, "GET", "/v1/uploads/<upload_id>", summary="An upload and its offset (HEAD: headers only)",
           tag="uploads", response=UploadInfo, errors=NOT_FOUND)
def get_upload(upload_id: str):
    return _answer(transfers.get_upload(upload_id))


@operation(bp, "PATCH", "/v1/uploads/<upload_id>", summary="Send a chunk at Upload-Offset", tag="uploads",
           response=UploadInfo, request_body=CHUNK_BODY, errors=CHUNK_ERRORS)
def patch_upload(upload_id: str):
    offset = _int_header("Upload-Offset")
    if offset is None:
        raise Invalid(_l("Upload-Offset is required"))
    return _answer(transfers.append(upload_id, uploads.body_of(request), offset, request.content_length,
                                    current_user.id))


@operation(bp, "PUT", "/v1/uploads/<upload_id>", summary="Send a chunk with Content-Range", tag="uploads",
           response=UploadInfo, request_body=CHUNK_BODY, errors=CHUNK_ERRORS)
def put_upload(upload_id: str):
    match = CONTENT_RANGE.match(request.headers.get("Content-Range", ""))
    if not match:
        offset = _int_header("Upload-Offset")
        if offset is None:
            raise Invalid(_l("Content-Range: bytes START-END/TOTAL (or Upload-Offset) is required"))
        return _answer(transfers.append(upload_id, uploads.body_of(request), offset, request.content_length,
                                        current_user.id))
    start, end = int(match.group(1)), int(match.group(2))
    if end < start or end > INT64_MAX or (request.content_length is not None and request.content_length != end - start + 1):
        raise Invalid(_l("Content-Range does not match the body's length"))
    return _answer(transfers.append(upload_id, uploads.body_of(request), start, end - start + 1, current_user.id))


for _view in (patch_upload, put_upload):
    _view._portal_streaming = True  # the CSRF check must not parse the body as a form


@operation(bp, "POST", "/v1/uploads/<upload_id>/complete", summary="Complete a resumable upload", tag="uploads",
           response=UploadInfo, errors={**NOT_FOUND, 409: "Bytes are missing, or the upload was cancelled"})
def complete_upload(upload_id: str):
    return _answer(transfers.complete(upload_id))


@operation(bp, "DELETE", "/v1/uploads/<upload_id>", summary="Cancel an upload", tag="uploads",
           response=UploadAborted, errors=NOT_FOUND)
def cancel_upload(upload_id: str):
    """Stops an upload in flight (also mid-stream: the writer stops within a few MB) and removes
    its bytes; on a finished file it removes the file and its dataset_info.json entry."""
    transfers.cancel(upload_id)
    return UploadAborted(upload_id=upload_id, status="aborted")
