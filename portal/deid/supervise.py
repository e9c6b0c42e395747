"""The supervisor's work on de-identification jobs: start queued ones in its pool."""
import logging

from flask import Flask, current_app
from sqlalchemy import select

from portal.deid import jobs
from portal.deid.models import DeidJob
from portal.extensions import db
from portal.supervisor import on_tick

log = logging.getLogger("portal.deid.jobs")


def _run(app: Flask, job_id: int, mine: set[int]) -> None:
    with app.app_context():
        try:
            jobs.run(job_id)
        except Exception:
            log.exception("deid job %s crashed", job_id)
        finally:
            db.session.remove()
            mine.discard(job_id)


@on_tick
def supervise_deid_jobs(supervisor) -> None:
    mine = supervisor.__dict__.setdefault("deid_jobs", set())
    for job in db.session.scalars(select(DeidJob).filter_by(status="running")):
        if job.id not in mine:  # a previous supervisor died mid-job; its partial output is swept
            job.status, job.error = "failed", "interrupted by a portal restart; start it again"
    db.session.commit()
    for job in db.session.scalars(select(DeidJob).filter_by(status="queued").order_by(DeidJob.id)).all():
        job.status = "running"
        db.session.commit()
        mine.add(job.id)
        supervisor.pool.submit(_run, current_app._get_current_object(), job.id, mine)
