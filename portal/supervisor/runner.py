"""The supervisor loop: hold the fenced lease, tick the handlers, hand slow work to a pool.

Each kind of work (runs, dataset validation, de-identification jobs, later deployments) is a
handler class registered with `@handler`; every Supervisor makes its own instance of each, so
their in-memory state belongs to one supervisor and is dropped when it stands by. What must
survive a restart lives in the rows. The tick thread reads rows, hands out work and writes
results; slow calls (launch, docker exec, probes) run in the pool, so a tick stays far below
the lease time. Every commit made while acting is fenced by the lease epoch.
"""
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Protocol

from flask import Flask

from portal.extensions import db
from portal.supervisor import lease

log = logging.getLogger("portal.supervisor")


class Handler(Protocol):
    """One kind of work; one instance per supervisor."""

    def tick(self, supervisor: "Supervisor") -> None:
        """Reconcile rows with the world once (in the app context, fenced)."""


_handler_types: list[type] = []


def handler(cls: type) -> type:
    """Register a handler class; each Supervisor builds its own instance of it."""
    _handler_types.append(cls)
    return cls


class Supervisor:
    """One instance per process; the database lease decides which instance acts."""

    def __init__(self, app: Flask, pool_size: int = 4):
        settings = app.config["PORTAL"]
        self.app = app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl = settings.lease_seconds
        self.interval = settings.tick_seconds
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="supervisor-pool")
        self.fence: lease.Fence | None = None
        self.handlers: list = []
        self.ticks = 0
        self.longest_tick = 0.0
        self._in_pool: set = set()
        self._pool_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.fence is not None

    def tick(self) -> bool:
        """Renew or take the lease, then run the handlers if we hold it. Returns `active`."""
        started = time.monotonic()
        with self.app.app_context():
            # One session per tick, dropped at its end, so what a tick loads is fresh. Commits keep
            # it loaded: expiring every row at each of a tick's many commits made each commit cost
            # as much as all the rows (and reloaded each run). State changes are conditional
            # UPDATEs in the database, so a row a user changed meanwhile is never overwritten.
            db.session().expire_on_commit = False
            try:
                self.hold()
                if self.active:
                    self.act()
            finally:
                db.session.remove()
        self.longest_tick = max(self.longest_tick, time.monotonic() - started)
        return self.active

    def hold(self) -> None:
        """Renew or take the lease (in the app context); a change of epoch rebuilds the handlers."""
        try:
            epoch = lease.try_acquire(self.holder, self.ttl)
        except Exception:  # a database hiccup must not kill the loop; we retry next tick
            log.exception("supervisor %s could not reach the lease", self.holder)
            db.session.rollback()
            epoch = None
        if epoch is None:
            if self.active:
                self.stand_by("another supervisor holds it now")
        elif self.fence is None or self.fence.epoch != epoch:
            if self.fence is not None:  # we lost it and took it back: what we knew may be stale
                self.stand_by(f"epoch {self.fence.epoch} ended")
            self.fence = lease.Fence(self.holder, epoch)
            self.handlers = [cls() for cls in _handler_types]
            log.info("supervisor %s is now active (lease epoch %d)", self.holder, epoch)

    def act(self) -> None:
        """Tick every handler under our fence (in the app context); a refused write stands us by."""
        self.ticks += 1
        with lease.acting(self.fence):
            for item in self.handlers:
                try:
                    item.tick(self)
                except lease.LeaseLost:
                    db.session.rollback()
                    self.stand_by("a fenced write was refused")
                    return
                except Exception:
                    log.exception("tick handler %s failed", type(item).__name__)
                    db.session.rollback()

    def stand_by(self, why: str) -> None:
        """Stop acting at once: forget every handler's state; the rows tell the next holder."""
        if self.fence is not None:
            log.warning("supervisor %s lost the lease (epoch %d): %s; standing by", self.holder,
                        self.fence.epoch, why)
        self.fence = None
        self.handlers = []

    def call(self, fn: Callable, *args) -> Future:
        """Run a slow call (no database) in the pool; the tick collects the future's result."""
        return self.pool.submit(fn, *args)

    def submit(self, key, work: Callable, *args) -> bool:
        """Run `work(*args)` in the pool, in the app context and under this tick's fence, at most
        once per `key` at a time. Returns False when that key is still in the pool. Failures are
        logged, never raised.
        """
        with self._pool_lock:
            if key in self._in_pool:
                return False
            self._in_pool.add(key)
        self.pool.submit(self._in_app, key, work, args, self.fence)
        return True

    def in_pool(self, key) -> bool:
        with self._pool_lock:
            return key in self._in_pool

    def _in_app(self, key, work: Callable, args: tuple, fence: lease.Fence | None) -> None:
        with self.app.app_context(), lease.acting(fence):
            try:
                work(*args)
            except lease.LeaseLost:
                log.warning("pool work %s stopped: this supervisor lost the lease", key)
            except Exception:
                log.exception("pool work %s failed", key)
            finally:
                db.session.remove()
                with self._pool_lock:
                    self._in_pool.discard(key)

    def run_forever(self) -> None:
        log.info("supervisor %s starting (lease %.0fs, tick %.1fs)", self.holder, self.ttl, self.interval)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.tick()
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            self._shutdown()

    def start_in_thread(self) -> threading.Thread:
        """Run embedded (in a gunicorn worker) on a daemon thread."""
        self._thread = threading.Thread(target=self.run_forever, name="supervisor", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Stop a supervisor that was ticked by hand (not via run_forever)."""
        self._stop.set()
        self._shutdown()

    def _shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        log.info("supervisor %s stopping after %d ticks; longest tick %.3f s", self.holder, self.ticks,
                 self.longest_tick)
        if self.active:
            with self.app.app_context():
                try:
                    lease.release(self.holder)
                    log.info("supervisor %s released the lease", self.holder)
                except Exception:
                    log.exception("supervisor %s could not release the lease", self.holder)
                finally:
                    db.session.remove()
            self.fence = None
