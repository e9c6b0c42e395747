"""De-identification jobs on dataset files. Samples and mappings hold originals: admins only."""
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Int32, Timestamp
from portal.api.spec import operation
from portal.deid import jobs

NOT_FOUND = {404: "No such job, dataset, file or policy"}


class JobCreate(BaseModel):
    policy_id: str = Field("default", examples=["default"])
    fields: list[str] | None = Field(None, description="dotted paths of string fields (e.g. instruction, "
                                                       "conversations.value); empty: every string value")
    with_mapping: bool = Field(False, description="keep a mapping file (admins only) to restore originals")
    seed: Int32 | None = None


class JobInfo(BaseModel):
    id: int
    dataset_id: str
    upload_id: str = Field(description="the file it reads")
    policy_id: str
    fields: list[str] | None
    status: str = Field(description="queued, running, succeeded or failed")
    progress: float
    bytes_done: int
    bytes_total: int
    output_upload_id: str | None = Field(description="the new file of the dataset (<name>.deid.jsonl)")
    counts: dict | None = Field(description="records, entities per type, per field")
    samples: list[dict] | None = Field(description="before/after pairs; admins only, else null")
    has_mapping: bool
    error: str
    created_at: Timestamp
    ended_at: Timestamp | None

    @classmethod
    def of(cls, job) -> "JobInfo":
        return cls(id=job.id, dataset_id=job.dataset_id, upload_id=job.source_id, policy_id=job.policy_id,
                   fields=job.fields, status=job.status, progress=job.progress, bytes_done=job.bytes_done,
                   bytes_total=job.bytes_total, output_upload_id=job.output_id, counts=job.counts,
                   samples=job.samples if current_user.can("admin") else None,
                   has_mapping=bool(job.mapping_file), error=job.error, created_at=job.created_at,
                   ended_at=job.ended_at)


@operation(bp, "POST", "/v1/datasets/<dataset_id>/files/<upload_id>/deidentify", summary="De-identify a file",
           tag="deid", body=JobCreate, response=JobInfo, status=202,
           errors={**NOT_FOUND, 409: "The file is not validated yet",
                   507: "Not enough free space for the de-identified copy"})
def start_job(dataset_id: str, upload_id: str, body: JobCreate):
    """Queues a job; the supervisor writes `<name>.deid.jsonl` as a new file of the dataset."""
    return JobInfo.of(jobs.start(dataset_id, upload_id, body.policy_id, body.fields, body.with_mapping,
                                 body.seed, created_by=current_user.id))


@operation(bp, "GET", "/v1/deid-jobs/<int:job_id>", summary="A de-identification job", tag="deid",
           response=JobInfo, errors=NOT_FOUND)
def get_job(job_id: int):
    return JobInfo.of(jobs.get_job(job_id))


@operation(bp, "GET", "/v1/datasets/<dataset_id>/deid-jobs", summary="De-identification jobs of a dataset",
           tag="deid", response=list[JobInfo])
def dataset_jobs(dataset_id: str):
    return [JobInfo.of(j) for j in jobs.list_jobs(dataset_id)]


@operation(bp, "GET", "/v1/deid-jobs/<int:job_id>/mapping", summary="The job's mapping (admins)", tag="deid",
           response=dict[str, str], role="admin", errors=NOT_FOUND)
def job_mapping(job_id: int):
    return jobs.mapping_of(jobs.get_job(job_id))
