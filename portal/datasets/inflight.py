"""How many uploads stream at once in this process: per user, and in all.

Each streaming upload holds a worker thread for as long as its client sends. A few clients
that send a little and stall could otherwise take every thread of a worker, and health checks
and pages would wait behind them. So one user may stream PORTAL_MAX_UPLOADS_PER_USER uploads
at once, and all uploads together leave two threads of each worker for everything else;
beyond that an upload is answered 429 at once.
"""
import threading
from collections import Counter
from contextlib import contextmanager

from flask import current_app

from portal.errors import TooMany
from portal.i18n import _l

FREE_THREADS = 2  # kept for pages, the API and health checks


class Admission:
    def __init__(self):
        self._lock = threading.Lock()
        self._per_user: Counter = Counter()
        self._total = 0

    @contextmanager
    def admit(self, user_id, per_user: int, total: int, on_refuse=None):
        with self._lock:
            refused = self._per_user[user_id] >= per_user or self._total >= total
            if refused and on_refuse is not None:
                on_refuse()
            if self._per_user[user_id] >= per_user:
                raise TooMany(_l("you already have %(count)s uploads in flight (PORTAL_MAX_UPLOADS_PER_USER); "
                                 "wait for one to finish", count=per_user))
            if self._total >= total:
                raise TooMany(_l("the server is receiving as many uploads as it can; retry in a moment"))
            self._per_user[user_id] += 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._per_user[user_id] -= 1
                if not self._per_user[user_id]:
                    del self._per_user[user_id]
                self._total -= 1


def admit(user_id, on_refuse=None):
    """Context manager: one upload of `user_id` streams inside it, or TooMany (429) after
    `on_refuse()` (which lets go of the request's body)."""
    settings = current_app.config["PORTAL"]
    admission = current_app.extensions.setdefault("portal_upload_admission", Admission())
    return admission.admit(user_id, settings.max_uploads_per_user, max(1, settings.threads - FREE_THREADS),
                           on_refuse)
