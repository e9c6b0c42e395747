"""Dataset jobs: de-identify one file of a dataset into a new file of it, in the supervisor's pool.

The new file (`<name>.deid.jsonl`, or `.deid.txt`) goes through the datasets' own upload path
(`transfers.begin/checkpoint/finish`), so it is named, hashed, validated and swept like any
upload; a cancelled or failed job leaves no bytes behind.
"""
import hashlib
import json
import logging
import os
from pathlib import Path, PurePosixPath

from flask import current_app
from sqlalchemy import select

from portal import storage
from portal.datasets import paths, services as datasets, transfers
from portal.deid import parallel, services
from portal.deid.models import DeidJob
from portal.errors import Conflict, Invalid, NotFound, found
from portal.extensions import db
from portal.i18n import _l
from portal.timeutil import utcnow

log = logging.getLogger("portal.deid.jobs")
SAMPLES = 20  # before/after pairs kept for the report
CHECK_BYTES = 4 * 1024 * 1024  # progress is recorded (and cancellation noticed) this often
KINDS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "lines"}


class Stopped(Exception):
    """The job's output upload was cancelled or swept while the job ran."""


def start(dataset_id: str, upload_id: str, policy_id: str, fields: list[str] | None = None,
          with_mapping: bool = False, seed: int | None = None, created_by: int | None = None) -> DeidJob:
    """Queue a job after checking the file, the policy and the fields."""
    item = datasets.get_file(dataset_id, upload_id)
    if item.status != "ready":
        raise Conflict(_l("only a validated file can be de-identified; this one is %(status)s", status=item.status))
    if PurePosixPath(item.name).suffix.lower() not in KINDS:
        raise Invalid(_l("only .jsonl, .json (one record per line) and .txt files can be de-identified"))
    services.get_policy(policy_id)
    clean = [f.strip() for f in fields or [] if f.strip()]
    if len(clean) > 50 or any(len(f) > 200 for f in clean):
        raise Invalid(_l("fields: at most 50 dotted paths of at most 200 characters"))
    # the copy is about as large as its source (tags are rarely longer than what they replace)
    storage.ensure_room(paths.datasets_root(), item.bytes_received,
                        current_app.config["PORTAL"].disk_reserve_bytes)
    job = DeidJob(dataset_id=dataset_id, source_id=upload_id, policy_id=policy_id, fields=clean or None,
                  with_mapping=with_mapping, seed=seed, bytes_total=item.bytes_received, created_by=created_by)
    db.session.add(job)
    db.session.commit()
    return job


def get_job(job_id: int) -> DeidJob:
    return found(db.session.get(DeidJob, job_id), _l("de-identification job %(id)s not found", id=job_id))


def list_jobs(dataset_id: str) -> list[DeidJob]:
    return list(db.session.scalars(select(DeidJob).filter_by(dataset_id=dataset_id).order_by(DeidJob.id.desc())))


def mapping_of(job: DeidJob) -> dict:
    if not job.mapping_file:
        raise NotFound(_l("this job kept no mapping (ask for one when starting it)"))
    return json.loads(Path(job.mapping_file).read_text(encoding="utf-8"))


class _HashingWriter:
    """Writes bytes while counting and hashing them, for the upload record."""

    def __init__(self, handle):
        self.handle, self.sha256, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)
        self.handle.write(data)


class _Progress:
    """Records progress (and notices cancellation) every ``CHECK_BYTES``."""

    def __init__(self, job_id: int, output_id: str):
        self.job_id, self.output_id, self.mark = job_id, output_id, CHECK_BYTES

    def __call__(self, done: int) -> None:
        if done < self.mark:
            return
        self.mark = done + CHECK_BYTES
        db.session.execute(db.update(DeidJob).where(DeidJob.id == self.job_id).values(bytes_done=done))
        if not transfers.checkpoint(self.output_id, done):  # commits; False once cancelled or swept
            raise Stopped()


def _output_name(name: str) -> str:
    path = PurePosixPath(name)
    suffix = f".deid{'.txt' if path.suffix.lower() == '.txt' else '.jsonl'}"
    stem = path.stem.encode("utf-8")[:paths.MAX_FILENAME_BYTES - len(suffix)].decode("utf-8", "ignore")
    return stem + suffix


def run(job_id: int) -> None:
    """Carry out a `running` job (in the supervisor's pool, inside an app context)."""
    job = get_job(job_id)
    source = datasets.get_file(job.dataset_id, job.source_id)
    target = transfers.begin(source.dataset, _output_name(source.name), "generated", None, job.created_by)
    ref = transfers.Ref.of(target)
    try:
        engine = services.deidentifier(job.policy_id)
        with open(datasets.file_path(source), "rb") as src, \
                open(paths.part_path(ref.dataset, ref.upload_id), "wb") as out:
            writer = _HashingWriter(out)
            counts, samples, session = parallel.deidentify(
                engine, src, writer, KINDS[PurePosixPath(source.name).suffix.lower()], fields=job.fields,
                seed=job.seed, jobs=parallel.workers(source.bytes_received), splitting="lf", samples=SAMPLES,
                mapping=job.with_mapping, progress=_Progress(job.id, ref.upload_id))
        transfers.finish(ref, writer.size, writer.sha256.hexdigest())
    except Exception as error:  # any failure ends the job and removes its partial output
        if isinstance(error, Stopped):
            message = "the output file was cancelled"
        elif storage.is_disk_full(error):
            message = str(storage.disk_full(paths.datasets_root()).message)
        else:
            message = str(error) or type(error).__name__
        transfers.fail(ref, "aborted", f"de-identification failed: {message}")
        _end(job_id, "failed", error=message[:500])
        log.warning("deid job %s failed: %s", job_id, message)
        return
    mapping_file = _write_mapping(job.id, session.mapping) if job.with_mapping else None
    _end(job_id, "succeeded", output_id=ref.upload_id, counts=counts,
         samples=[{"before": before, "after": after} for before, after in samples],
         mapping_file=mapping_file, bytes_done=job.bytes_total)


def _write_mapping(job_id: int, mapping: dict) -> str:
    """The mapping restores originals: it lives outside the training dir, readable by the portal only."""
    folder = current_app.config["PORTAL"].data_dir / "deid-mappings"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"job-{job_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(mapping, handle, ensure_ascii=False)
    return str(path)


def _end(job_id: int, status: str, **values) -> None:
    db.session.rollback()
    db.session.execute(db.update(DeidJob).where(DeidJob.id == job_id).values(status=status, ended_at=utcnow(),
                                                                            **values))
    db.session.commit()
