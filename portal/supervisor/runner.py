"""The supervisor loop: hold the lease, tick, hand long work to a thread pool."""
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from flask import Flask

from portal.extensions import db
from portal.supervisor import lease

log = logging.getLogger("portal.supervisor")

TickHandler = Callable[["Supervisor"], None]
_handlers: list[TickHandler] = []


def on_tick(handler: TickHandler) -> TickHandler:
    """Register `handler(supervisor)` to run every tick while this instance is active."""
    _handlers.append(handler)
    return handler


class Supervisor:
    """One instance per process; the database lease decides which instance acts."""

    def __init__(self, app: Flask, pool_size: int = 4):
        settings = app.config["PORTAL"]
        self.app = app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl = settings.lease_seconds
        self.interval = settings.tick_seconds
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="supervisor-pool")
        self.active = False
        self.ticks = 0
        self._in_pool: set = set()
        self._pool_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Renew or take the lease, then run the handlers if we hold it. Returns `active`."""
        with self.app.app_context():
            try:
                holding = lease.try_acquire(self.holder, self.ttl)
            except Exception:  # a database hiccup must not kill the loop; we retry next tick
                log.exception("supervisor %s could not reach the lease", self.holder)
                db.session.rollback()
                holding = False
            if holding != self.active:
                log.info("supervisor %s is now %s", self.holder, "active" if holding else "standing by")
                self.active = holding
            if holding:
                self.ticks += 1
                for handler in list(_handlers):
                    try:
                        handler(self)
                    except Exception:
                        log.exception("tick handler %s failed", getattr(handler, "__name__", handler))
                        db.session.rollback()
            db.session.remove()
        return self.active

    def submit(self, key, work: Callable, *args) -> bool:
        """Run `work(*args)` in the pool, in the app context, at most once per `key` at a time.

        Returns False when that key is still in the pool. Failures are logged, never raised.
        """
        with self._pool_lock:
            if key in self._in_pool:
                return False
            self._in_pool.add(key)
        self.pool.submit(self._in_app, key, work, args)
        return True

    def in_pool(self, key) -> bool:
        with self._pool_lock:
            return key in self._in_pool

    def _in_app(self, key, work: Callable, args: tuple) -> None:
        with self.app.app_context():
            try:
                work(*args)
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
        if self.active:
            with self.app.app_context():
                try:
                    lease.release(self.holder)
                    log.info("supervisor %s released the lease", self.holder)
                except Exception:
                    log.exception("supervisor %s could not release the lease", self.holder)
                finally:
                    db.session.remove()
            self.active = False
