"""The supervisor's work on datasets: validate large files in its pool, sweep orphan uploads.

What to validate is read from the rows (`status = 'validating'`) every tick, so a file whose
validation was cut short by a restart is simply validated again by the next supervisor.
"""
import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from portal.datasets import services, transfers
from portal.datasets.models import DatasetFile
from portal.extensions import db
from portal.supervisor import handler
from portal.timeutil import utcnow

log = logging.getLogger("portal.datasets")
SWEEP_SECONDS = 30.0
# a small file is validated by its upload request; one still `validating` this long after
# its last change lost that request, and the pool takes it over
INLINE_GRACE_SECONDS = 120


@handler
class DatasetsHandler:
    def __init__(self):
        self.swept_at = 0.0

    def tick(self, supervisor) -> None:
        settings = current_app.config["PORTAL"]
        grace = utcnow() - timedelta(seconds=INLINE_GRACE_SECONDS)
        waiting = db.session.scalars(select(DatasetFile.id).where(
            DatasetFile.status == "validating",
            or_(DatasetFile.bytes_received > settings.validate_inline_bytes, DatasetFile.updated_at < grace))
            .order_by(DatasetFile.uploaded_at)).all()
        for upload_id in waiting:
            supervisor.submit(("validate", upload_id), services.run_validation, upload_id)
        if time.monotonic() - self.swept_at >= SWEEP_SECONDS:
            self.swept_at = time.monotonic()
            removed = transfers.sweep()
            if removed:
                log.info("swept %d abandoned upload(s)", removed)
