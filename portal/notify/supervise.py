"""The supervisor's work on notifications: fan events out, deliver them, judge stall rules.

Each tick applies the answers that came back (one fenced commit), fans new outbox events out
into deliveries, and hands each channel's oldest due delivery to the senders. The request is
built here (texts in the channel's language, signatures) and sent by a sender thread, so a
slow or dead receiver costs the tick nothing: at most one request per channel is in flight,
and the senders are a pool of their own, so receivers never hold the threads the runs' polls
and launches need. A delivery is recorded only after its answer; a supervisor that dies in
between sends it again (same event id): at least once, never lost.
"""
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.notify import formats, rules, services
from portal.notify.models import Channel
from portal.runs.models import Run
from portal.supervisor import executors, handler
from portal.timeutil import as_utc, utcnow

log = logging.getLogger("portal.notify")
SENDERS = 16  # channels served at once
STALL_CHECK_SECONDS = 10.0
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def senders() -> ThreadPoolExecutor:
    """One pool per process, made on first use (create_app starts no thread)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="notify-send")
        return _pool


def output_age(run: Run) -> float:
    """Seconds since the run's output file last grew (since it started, before any output)."""
    path = executors.get(run.executor).log_path(run.folder)
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        started = run.started_at or run.created_at
        return (utcnow() - as_utc(started)).total_seconds()


@handler
class NotifyHandler:
    def __init__(self):
        self.sending: dict[int, tuple[int, Future]] = {}  # delivery id -> (channel id, future of formats.send)
        self.stalls_checked = 0.0

    def tick(self, supervisor) -> None:
        self._collect()
        services.fan_out()
        self._send()
        self._check_stalls()

    def _collect(self) -> None:
        done = [(delivery_id, future) for delivery_id, (_channel, future) in self.sending.items() if future.done()]
        for delivery_id, future in done:
            del self.sending[delivery_id]
            try:
                result = future.result()
            except Exception as error:  # a bug in a format must not stop the others
                log.exception("delivery %s failed", delivery_id)
                result = formats.Result(False, None, f"{type(error).__name__}: {error}")
            services.record(delivery_id, result.ok, result.status, result.reply)
        if done:
            db.session.commit()

    def _send(self) -> None:
        room = SENDERS - len(self.sending)
        if room <= 0:
            return
        busy = {channel_id for channel_id, _future in self.sending.values()}
        settings = current_app.config["PORTAL"]
        for delivery in services.due(busy, limit=room):
            channel = db.session.get(Channel, delivery.channel_id)
            try:
                outgoing = formats.build(channel, delivery.event)
            except Exception as error:
                log.exception("building delivery %s failed", delivery.id)
                services.record(delivery.id, False, None, f"{type(error).__name__}: {error}")
                db.session.commit()
                continue
            self.sending[delivery.id] = (channel.id, senders().submit(formats.send, outgoing, settings))

    def _check_stalls(self) -> None:
        now = time.monotonic()
        if now - self.stalls_checked < STALL_CHECK_SECONDS:
            return
        self.stalls_checked = now
        watched = any(rule["kind"] == "stalled" for channel in
                      db.session.scalars(select(Channel).where(Channel.enabled)) for rule in channel.rules or [])
        if not watched:
            return
        for run in db.session.scalars(select(Run).where(Run.status == "running")).all():
            rules.stalled(run, output_age(run))
        db.session.commit()

