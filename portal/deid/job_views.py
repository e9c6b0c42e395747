"""Pages of dataset de-identification jobs: the panel on a file's page, and a job's report."""
from flask import request
from flask_login import current_user

from portal.datasets import services as datasets
from portal.deid import jobs, services
from portal.deid.views import bp
from portal.errors import PortalError
from portal.rendering import render


def _panel(dataset_id: str, upload_id: str, error: str | None = None, status: int = 200):
    item = datasets.get_file(dataset_id, upload_id)
    file_jobs = [j for j in jobs.list_jobs(dataset_id) if j.source_id == upload_id]
    return render("deid/_file_jobs.html", item=item, jobs=file_jobs, policies=services.policy_ids(),
                  error=error, live=any(j.status in ("queued", "running") for j in file_jobs), http_status=status)


@bp.get("/files/<dataset_id>/<upload_id>/jobs")
def file_jobs(dataset_id: str, upload_id: str):
    """The panel on a dataset file's page; it polls itself while a job is under way."""
    return _panel(dataset_id, upload_id)


@bp.post("/files/<dataset_id>/<upload_id>/jobs")
def start_job(dataset_id: str, upload_id: str):
    fields = [f for f in request.form.get("fields", "").split(",") if f.strip()]
    try:
        jobs.start(dataset_id, upload_id, request.form.get("policy", "default"), fields,
                   with_mapping=request.form.get("with_mapping") == "y",
                   created_by=current_user.id)
    except PortalError as error:
        return _panel(dataset_id, upload_id, error.message, 400)
    return _panel(dataset_id, upload_id)


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    found = jobs.get_job(job_id)
    return render("deid/job.html", job=found, item=datasets.get_file(found.dataset_id, found.source_id),
                  output=datasets.get_file(found.dataset_id, found.output_id) if found.output_id else None,
                  section="datasets")
