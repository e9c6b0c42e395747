"""Uploads in flight: the services that begin, stream, finish, fail, cancel and resume them.

Every state change of an upload row is a conditional UPDATE on `status = 'receiving'`, so
a cancel, the orphan sweep and a finishing writer can race without one undoing another:
whoever moves the row first wins, and the loser only removes its bytes.
"""
import fcntl
import hashlib
import os
import threading
import time
import uuid
from datetime import timedelta
from functools import partial
from typing import NamedTuple

from flask import current_app
from sqlalchemy import and_, or_, select, update

from portal import storage
from portal.datasets import inflight, multipart, paths, services, uploads
from portal.datasets.models import COMPLETE, DatasetFile
from portal.errors import Conflict, Invalid, TooLarge, found
from portal.extensions import db
from portal.i18n import _l
from portal.timeutil import utcnow

MULTIPART_SLACK = 1 << 20  # a multipart body is its file plus headers and boundaries
LOCK_WAIT_SECONDS = 15.0
STRAY_PART_SECONDS = 120.0
# resumable uploads: sha256 of the bytes so far, per upload, in this process, with the row's
# write generation it is valid for. Every chunk raises the generation (under the file lock), so a
# chunk written by another worker (or a re-send there) makes this copy stale; a stale or missing
# hasher means completion rehashes the file from disk.
_hashers: dict[str, tuple[int, int, "hashlib._Hash"]] = {}  # upload id → (generation, offset, hasher)
_hashers_lock = threading.Lock()
MAX_HASHERS = 64  # uploads whose last chunk went elsewhere leave theirs here: keep the newest


class Ref(NamedTuple):
    """What names an upload's files; kept as plain values because the row may vanish mid-stream."""
    upload_id: str
    dataset: str
    stored_name: str

    @classmethod
    def of(cls, item: DatasetFile) -> "Ref":
        return cls(item.id, item.dataset.name, item.stored_name)


def _settings():
    return current_app.config["PORTAL"]


def begin(dataset, raw_name: str | None, kind: str, expected: int | None, created_by: int | None) -> DatasetFile:
    """Record a new upload (status `receiving`) after checking its name and announced size."""
    name = paths.sanitize_filename(raw_name)
    limit = _settings().max_upload_bytes
    if expected is not None and expected > limit:
        raise TooLarge(_l("the file is larger than the limit of %(limit)s bytes (PORTAL_MAX_UPLOAD_BYTES)", limit=limit))
    storage.ensure_room(paths.datasets_root(), expected, _settings().disk_reserve_bytes)
    upload_id = str(uuid.uuid4())
    item = DatasetFile(id=upload_id, dataset_id=dataset.id, name=name, stored_name=f"{upload_id}_{name}",
                       kind=kind, bytes_expected=expected, created_by=created_by)
    db.session.add(item)
    db.session.commit()
    paths.dataset_dir(dataset.name).mkdir(parents=True, exist_ok=True)
    return item


def checkpoint(upload_id: str, total: int) -> bool:
    """Record progress; False when the upload is no longer wanted (cancelled, swept, deleted)."""
    result = db.session.execute(update(DatasetFile)
                                .where(DatasetFile.id == upload_id, DatasetFile.status == "receiving")
                                .values(bytes_received=total, updated_at=utcnow()))
    db.session.commit()
    return result.rowcount == 1


def fail(ref: Ref, status: str, error: str) -> None:
    """End an upload that did not complete and remove its bytes."""
    db.session.rollback()
    db.session.execute(update(DatasetFile).where(DatasetFile.id == ref.upload_id, DatasetFile.status == "receiving")
                       .values(status=status, error=error[:500], updated_at=utcnow()))
    db.session.commit()
    paths.part_path(ref.dataset, ref.upload_id).unlink(missing_ok=True)


def finish(ref: Ref, total: int, sha256: str) -> DatasetFile:
    """Rename the part file into place and mark the upload complete, then validate small files.

    The rename comes first: a cancel that wins the race after it removes the final file too.
    """
    part, final = paths.part_path(ref.dataset, ref.upload_id), paths.final_path(ref.dataset, ref.stored_name)
    try:
        os.rename(part, final)
    except FileNotFoundError:
        raise uploads.Cancelled() from None
    now = utcnow()
    result = db.session.execute(update(DatasetFile)
                                .where(DatasetFile.id == ref.upload_id, DatasetFile.status == "receiving")
                                .values(status="validating", bytes_received=total, sha256=sha256,
                                        uploaded_at=now, updated_at=now))
    db.session.commit()
    if result.rowcount != 1:
        final.unlink(missing_ok=True)
        raise uploads.Cancelled()
    if total <= _settings().validate_inline_bytes:
        services.run_validation(ref.upload_id)
    return get_upload(ref.upload_id)


def _stream_errors(ref_of, run):
    """Run `run()`; translate the streaming outcomes, failing the upload `ref_of()` names."""
    try:
        return run()
    except uploads.Cancelled:
        if ref_of():
            fail(ref_of(), "aborted", "cancelled")
        raise Conflict(_l("the upload was cancelled")) from None
    except uploads.Disconnected:
        if ref_of():
            fail(ref_of(), "failed", "the client disconnected")
        raise Invalid(_l("the client disconnected before the end of the body")) from None
    except BaseException as error:
        full = storage.disk_full(paths.datasets_root()) if storage.is_disk_full(error) else None
        if ref_of():
            fail(ref_of(), "failed", str(full.message) if full else getattr(error, "message", None)
                 or type(error).__name__)
        if full is not None:
            raise full from None
        raise


def receive(dataset_id: str, stream, content_type: str, length: int | None, filename: str | None,
            created_by: int | None) -> DatasetFile:
    """One request, one file: multipart (field `file`) or a raw body with its file name."""
    dataset = services.get_dataset(dataset_id)
    limit = _settings().max_upload_bytes
    is_multipart = content_type.startswith("multipart/")
    if length is not None and length > limit + (MULTIPART_SLACK if is_multipart else 0):
        raise TooLarge(_l("the file is larger than the limit of %(limit)s bytes (PORTAL_MAX_UPLOAD_BYTES)", limit=limit))
    if length == 0:
        raise Invalid(_l("the file is empty"))
    storage.ensure_room(paths.datasets_root(), length, _settings().disk_reserve_bytes)
    state: dict = {}

    def open_writer(raw_name: str, kind: str, expected: int | None) -> uploads.Writer:
        ref = state["ref"] = Ref.of(begin(dataset, raw_name, kind, expected, created_by))
        state["fd"] = os.open(paths.part_path(ref.dataset, ref.upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                              0o644)
        return uploads.Writer(state["fd"], limit=limit, checkpoint=partial(checkpoint, ref.upload_id))

    def run() -> DatasetFile:
        try:
            if is_multipart:
                writer = multipart.copy_multipart(stream, content_type, length,
                                                  lambda name: open_writer(name, "multipart", None))
            else:
                writer = open_writer(filename, "raw", length)
                uploads.copy_body(stream, writer, length)
        finally:
            if "fd" in state:
                os.close(state.pop("fd"))
        if writer.total == 0:
            raise Invalid(_l("the file is empty"))
        return finish(state["ref"], writer.total, writer.hexdigest())

    with inflight.admit(created_by, on_refuse=partial(uploads.abandon, stream)):
        return _stream_errors(lambda: state.get("ref"), run)


def get_upload(upload_id: str) -> DatasetFile:
    return found(db.session.get(DatasetFile, upload_id), _l("upload %(id)s not found", id=repr(upload_id)))


def cancel(upload_id: str) -> DatasetFile:
    """Abort an upload (a streaming writer notices within a few MB) or remove a finished file."""
    item = get_upload(upload_id)
    if item.status not in ("aborted", "failed"):
        services.delete_file(item, "cancelled")
    with _hashers_lock:
        _hashers.pop(upload_id, None)
    return item


def create_resumable(dataset_id: str, raw_name: str | None, length: int | None, created_by: int | None) -> DatasetFile:
    if not length or length < 0:
        raise Invalid(_l("the upload length must be a positive number of bytes (empty files are refused)"))
    item = begin(services.get_dataset(dataset_id), raw_name, "resumable", length, created_by)
    open(paths.part_path(item.dataset.name, item.id), "xb").close()
    return item


def _lock(fd: int) -> None:
    """Wait for the previous writer of this upload (one whose client vanished) to let go."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise Conflict(_l("another request is still writing this upload; retry later")) from None
            time.sleep(0.05)


def append(upload_id: str, stream, offset: int, length: int | None, by: int | None = None) -> DatasetFile:
    """Write a chunk at `offset` (at most the server's offset: bytes past it are sent again)."""
    with inflight.admit(by, on_refuse=partial(uploads.abandon, stream)):
        return _append(upload_id, stream, offset, length)


def _append(upload_id: str, stream, offset: int, length: int | None) -> DatasetFile:
    item = get_upload(upload_id)
    if item.kind != "resumable":
        raise Conflict(_l("only resumable uploads take chunks"))
    try:
        fd = os.open(paths.part_path(item.dataset.name, upload_id), os.O_WRONLY)
    except FileNotFoundError:
        raise Conflict(_l("the upload is %(status)s; start a new one", status=item.status)) from None
    try:
        _lock(fd)
        db.session.refresh(item)  # the previous writer may have recorded a later offset meanwhile
        if item.status != "receiving":
            raise Conflict(_l("the upload is %(status)s", status=item.status))
        if offset > item.bytes_received:
            raise Conflict(_l("offset %(offset)s is past the %(received)s bytes received", offset=offset,
                              received=item.bytes_received))
        if length is not None and offset + length > item.bytes_expected:
            raise Invalid(_l("the chunk ends past the upload length of %(length)s bytes", length=item.bytes_expected))
        generation = item.write_generation
        db.session.execute(update(DatasetFile).where(DatasetFile.id == upload_id)
                           .values(write_generation=DatasetFile.write_generation + 1),
                           execution_options={"synchronize_session": False})
        db.session.commit()
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        with _hashers_lock:
            known = _hashers.pop(upload_id, None)
        hasher = known[2] if known and known[:2] == (generation, offset) else (
            hashlib.sha256() if offset == 0 else None)
        writer = uploads.Writer(fd, limit=item.bytes_expected, checkpoint=partial(checkpoint, upload_id),
                                offset=offset, hasher=hasher)

        def run():
            try:
                uploads.copy_body(stream, writer, length)
            finally:  # keep what arrived, even from a client that vanished mid-chunk
                writer.settle()
                if checkpoint(upload_id, writer.total) and hasher is not None:
                    _keep_hasher(upload_id, generation + 1, writer.total, writer.hasher)
        _stream_errors(lambda: None, run)
        db.session.refresh(item)
        # completed while the lock is held: a chunk waiting for it must find the upload finished,
        # not rewrite the file between our hash and the rename
        return _complete_locked(item) if item.bytes_received == item.bytes_expected else item
    finally:
        os.close(fd)


def _keep_hasher(upload_id: str, generation: int, offset: int, hasher) -> None:
    with _hashers_lock:
        _hashers[upload_id] = (generation, offset, hasher)
        while len(_hashers) > MAX_HASHERS:
            del _hashers[next(iter(_hashers))]


def _sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(uploads.CHUNK):
            digest.update(block)
    return digest.hexdigest()


def complete(upload_id: str) -> DatasetFile:
    """Finish a resumable upload whose bytes are all there (again: answers as it is)."""
    item = get_upload(upload_id)
    if item.status in COMPLETE:
        return item
    try:
        fd = os.open(paths.part_path(item.dataset.name, upload_id), os.O_RDONLY)
    except FileNotFoundError:  # finished (renamed) or removed meanwhile
        db.session.refresh(item)
        if item.status in COMPLETE:
            return item
        raise Conflict(_l("the upload is %(status)s", status=item.status)) from None
    try:
        _lock(fd)
        db.session.refresh(item)
        return _complete_locked(item)
    finally:
        os.close(fd)


def _complete_locked(item: DatasetFile) -> DatasetFile:
    """`complete`, by the holder of the part file's lock."""
    upload_id = item.id
    if item.status in COMPLETE:
        return item
    if item.status != "receiving":
        raise Conflict(_l("the upload is %(status)s", status=item.status))
    if item.bytes_received != item.bytes_expected:
        raise Conflict(_l("%(received)s of %(expected)s bytes received", received=item.bytes_received,
                          expected=item.bytes_expected))
    with _hashers_lock:
        known = _hashers.pop(upload_id, None)
    ref = Ref.of(item)
    fresh = known and known[:2] == (item.write_generation, item.bytes_received)
    sha = known[2].hexdigest() if fresh else _sha256_of(paths.part_path(ref.dataset, upload_id))
    return _stream_errors(lambda: None, lambda: finish(ref, item.bytes_received, sha))


def sweep() -> int:
    """Fail uploads whose writer is gone or that nobody resumed; remove stray part files."""
    settings, now = _settings(), utcnow()
    stale = now - timedelta(seconds=settings.upload_stale_seconds)
    expired = now - timedelta(seconds=settings.upload_resume_seconds)
    rows = db.session.scalars(select(DatasetFile).where(DatasetFile.status == "receiving", or_(
        and_(DatasetFile.kind != "resumable", DatasetFile.updated_at < stale),
        and_(DatasetFile.kind == "resumable", DatasetFile.updated_at < expired)))).all()
    for ref in [Ref.of(item) for item in rows]:
        fail(ref, "failed", "abandoned: no bytes arrived for too long")
    removed = len(rows)
    for part in paths.datasets_root().glob("*/.*.part"):
        row = db.session.get(DatasetFile, part.name[1:-len(".part")])
        try:
            old = time.time() - part.stat().st_mtime > STRAY_PART_SECONDS
        except FileNotFoundError:
            continue
        if old and (row is None or row.status != "receiving"):
            part.unlink(missing_ok=True)
            removed += 1
    return removed
