"""The supervisor's work on de-identification jobs: start queued ones in its pool."""
from sqlalchemy import select

from portal.deid import jobs
from portal.deid.models import DeidJob
from portal.extensions import db
from portal.supervisor import handler


@handler
class DeidJobsHandler:
    def tick(self, supervisor) -> None:
        for job in db.session.scalars(select(DeidJob).filter_by(status="running")):
            if not supervisor.in_pool(("deid", job.id)):  # a previous supervisor died mid-job; its output is swept
                job.status, job.error = "failed", "interrupted by a portal restart; start it again"
        db.session.commit()
        for job in db.session.scalars(select(DeidJob).filter_by(status="queued").order_by(DeidJob.id)).all():
            job.status = "running"
            db.session.commit()
            supervisor.submit(("deid", job.id), jobs.run, job.id)
