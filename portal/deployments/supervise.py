"""The supervisor's work on deployments: spawn, health-check, restart with back-off, stop for sure.

Like runs, every step is driven by the rows: the back-off's next start is in the row, a
spawned server is found again by pid + start time, and an intent is committed (fenced) before
its effect. Spawns, health probes and signals run in the pool; the tick applies what they saw.
"""
import logging
import time
from concurrent.futures import wait
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from portal.deployments import command, probe
from portal.deployments.models import LIVE, SPAWNED, Deployment
from portal.deployments.services import log_path
from portal.deployments.transitions import log_event, transition
from portal.extensions import db
from portal.i18n import N_
from portal.supervisor import executors, handler, lease, ports
from portal.supervisor.executors.base import ServerState, ServeSpec
from portal.supervisor.transition import reason
from portal.timeutil import as_utc, utcnow

log = logging.getLogger("portal.deployments")
CHECK_SECONDS = 2.0
METRICS_SECONDS = 10.0
UNHEALTHY_AFTER = 3  # failed health checks in a row
PORT_BUSY_RETRY_SECONDS = 10
KILL_AFTER_GRACES = 4  # without force, SIGKILL after this many grace periods


def backoff(restart: int) -> float:
    """Seconds before restart number `restart` (1, 2, …): 10, 20, 40, … at most 300."""
    return min(10.0 * 2 ** (restart - 1), 300.0)


def _settings():
    return current_app.config["PORTAL"]


def spawn(deployment_id: str) -> None:
    """In the pool (app context, fenced): start the server of a `starting` deployment."""
    item = db.session.get(Deployment, deployment_id)
    if item is None or item.status != "starting" or item.handle is not None:
        return
    if not lease.may_act():
        return
    settings = _settings()
    if ports.in_use(item.port):  # a stranger (or a server an earlier portal lost) holds it: wait, never double-bind
        transition(item, "pending", ("starting",), N_("port %(port)s is in use by another process; waiting", port=item.port),
                   "warning", next_start_at=utcnow() + timedelta(seconds=PORT_BUSY_RETRY_SECONDS))
        db.session.commit()
        return
    executor = executors.get(item.executor)
    line = command.argv(settings.vllm_bin, item, settings.deploy_host)
    env = {**executor.base_env(), "CUDA_VISIBLE_DEVICES": ",".join(item.gpus), "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
           "PYTHONUNBUFFERED": "1", "PORTAL_DEPLOYMENT_ID": item.id}
    try:
        handle = executor.serve(ServeSpec(key=item.id, argv=line, env=env, log_path=str(log_path(item)),
                                          workdir=str(settings.training_dir)))
    except Exception as error:
        transition(item, "failed", ("starting",), N_("failed to start: %(error)s", error=str(error)), "error")
        db.session.commit()
        return
    now = utcnow()
    with lease.recorded_or_undone(lambda: executor.signal_group(handle, "SIGKILL"), f"the server of {deployment_id}"):
        item.handle, item.argv, item.spawned_at = handle, line, now
        item.env = {k: v for k, v in env.items() if k in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
        item.started_at = item.started_at or now
        log_event(item, N_("started (pid %(pid)s, start %(start)s)", pid=handle["pid"], start=item.restart_count + 1))


def look(executor, handle: dict, host: str, port: int, health_path: str, scrape: bool):
    """In the pool: is the process there, and what does its health endpoint say?"""
    state = executor.server_state(handle)
    if state.state != "running":
        return state, None
    return state, probe.check(host, port, health_path, scrape)


@handler
class DeploymentsHandler:
    def __init__(self):
        self.checking: dict[str, object] = {}  # deployment id -> Future of look()
        self.checked_at: dict[str, float] = {}
        self.scraped_at: dict[str, float] = {}
        self.to_kill: list[tuple[str, str, dict]] = []  # (deployment id, executor, handle) of crashed servers

    def tick(self, supervisor) -> None:
        items = db.session.scalars(select(Deployment).where(Deployment.status.in_(LIVE))).all()
        for item in items:
            if item.status == "pending":
                self._start(supervisor, item)
            elif item.status in SPAWNED:
                self._ask(supervisor, item)
        self._collect(supervisor)
        for item in items:
            if item.status == "stopping":
                self._stop(supervisor, item)

    def _start(self, supervisor, item: Deployment) -> None:
        if item.next_start_at is not None and utcnow() < as_utc(item.next_start_at):
            return
        if transition(item, "starting", ("pending",), N_("starting"), handle=None, next_start_at=None,
                      health_ok=False, health_failures=0, **reason("")):
            db.session.commit()  # before the spawn: a crash never starts it twice
            supervisor.submit(("spawn", item.id), spawn, item.id)

    def _ask(self, supervisor, item: Deployment) -> None:
        if item.handle is None:
            if not supervisor.in_pool(("spawn", item.id)):  # the portal died between `starting` and the spawn
                transition(item, "pending", ("starting",), N_("the portal stopped while starting it; starting again"),
                           "warning", when=Deployment.handle.is_(None))
                db.session.commit()
            return
        now = time.monotonic()
        # half a tick of slack: checks 2 s apart on a 1 s tick must not slip to every third tick
        due = CHECK_SECONDS - supervisor.interval / 2
        if item.id in self.checking or now - self.checked_at.get(item.id, 0.0) < due:
            return
        scrape = item.status == "running" and now - self.scraped_at.get(item.id, 0.0) >= METRICS_SECONDS
        self.checked_at[item.id] = now
        if scrape:
            self.scraped_at[item.id] = now
        self.checking[item.id] = supervisor.call(look, executors.get(item.executor), item.handle,
                                                 _settings().deploy_host, item.port, item.health_path, scrape)

    def _collect(self, supervisor) -> None:
        if self.checking:
            wait(list(self.checking.values()), timeout=min(1.0, supervisor.ttl / 6))
        for deployment_id, future in list(self.checking.items()):
            if not future.done():
                continue
            del self.checking[deployment_id]
            try:
                state, health = future.result()
            except Exception:
                log.exception("checking deployment %s failed", deployment_id)
                continue
            item = db.session.get(Deployment, deployment_id)
            if item is not None and item.status in SPAWNED and item.handle is not None:
                self._apply(supervisor, item, state, health)
        db.session.commit()  # one fenced commit for every answer of this tick
        for deployment_id, name, handle in self.to_kill:  # after the fenced commit that recorded the crash
            supervisor.submit(("kill", deployment_id, handle["pid"]), executors.get(name).signal_group, handle,
                              "SIGKILL")
        self.to_kill.clear()

    def _apply(self, supervisor, item: Deployment, state: ServerState, health) -> None:
        settings = _settings()
        if state.state != "running":
            self._crashed(supervisor, item, N_("the server exited") if state.exit_code is None
                          else N_("the server exited with code %(code)s", code=state.exit_code))
            return
        item.last_health_at = utcnow()
        if health.http == "ok":
            item.health_ok, item.health_failures = True, 0
            if health.metrics:
                item.server_metrics = probe.with_throughput(health.metrics, item.server_metrics or {})
            if item.status != "running":
                transition(item, "running", ("starting", "unhealthy"),
                           N_("ready") if item.status == "starting" else N_("healthy again"))
            return
        item.health_ok = False
        if item.status == "starting":
            waited = (utcnow() - as_utc(item.spawned_at)).total_seconds() if item.spawned_at else 0
            if waited > settings.deploy_startup_seconds:
                self._crashed(supervisor, item, N_(
                    "not ready after %(seconds)ss (PORTAL_DEPLOY_STARTUP_SECONDS); last health check: %(health)s",
                    seconds=settings.deploy_startup_seconds, health=health.http))
            return
        item.health_failures += 1
        if item.health_failures >= UNHEALTHY_AFTER and item.status == "running":
            transition(item, "unhealthy", ("running",), N_("%(count)s health checks failed in a row (%(health)s)",
                                                           count=item.health_failures, health=health.http), "warning")

    def _crashed(self, supervisor, item: Deployment, why: dict) -> None:
        """Restart with back-off, or give up after PORTAL_DEPLOY_MAX_RESTARTS; what is left of its group
        (engine workers keep GPU memory) is killed."""
        self.to_kill.append((item.id, item.executor, item.handle))
        limit = _settings().deploy_max_restarts
        if item.restart_count >= limit:
            transition(item, "failed", SPAWNED, N_("%(why)s; gave up after %(limit)s restarts", why=why, limit=limit),
                       "error", **reason(why))
            return
        number = item.restart_count + 1
        wait_seconds = backoff(number)
        transition(item, "pending", SPAWNED, N_("%(why)s; restart %(number)s of %(limit)s in %(seconds)ss", why=why,
                                               number=number, limit=limit, seconds=round(wait_seconds)),
                   "warning", handle=None, health_ok=False, restart_count=number, **reason(why),
                   next_start_at=utcnow() + timedelta(seconds=wait_seconds))

    def _stop(self, supervisor, item: Deployment) -> None:
        """SIGTERM to the group, SIGKILL after the grace (force) or a longer limit; done when none is left."""
        executor = executors.get(item.executor)
        if item.handle is None:
            if supervisor.in_pool(("spawn", item.id)):
                return  # its spawn is in flight: stopped once it is recorded
            self._stopped(item)
            return
        now, grace = utcnow(), _settings().deploy_grace_seconds
        if item.stop_sent_at is None:
            item.stop_sent_at = now
            log_event(item, N_("sent SIGTERM to the server's process group"))
            db.session.commit()  # fenced: a supervisor that lost the lease signals nothing
            supervisor.submit(("signal", item.id, "SIGTERM"), executor.signal_group, item.handle, "SIGTERM")
            return
        waited = (now - as_utc(item.stop_sent_at)).total_seconds()
        left = executor.group_left(item.handle)
        if not left:
            self._stopped(item)
            return
        if item.kill_sent_at is None and waited >= (grace if item.stop_force else grace * KILL_AFTER_GRACES):
            item.kill_sent_at = now
            log_event(item, N_("%(count)s process(es) still running %(seconds)ss after SIGTERM: sent SIGKILL",
                               count=len(left), seconds=round(waited)), "warning")
            db.session.commit()
            supervisor.submit(("signal", item.id, "SIGKILL"), executor.signal_group, item.handle, "SIGKILL")

    def _stopped(self, item: Deployment) -> None:
        """The group is gone: a restart starts again on the same GPUs and port; a stop releases them."""
        if item.restart_requested:
            transition(item, "pending", ("stopping",), N_("stopped for the restart"), handle=None,
                       restart_count=item.restart_count + 1, restart_requested=False, stop_requested_at=None,
                       stop_sent_at=None, kill_sent_at=None, stop_force=False, next_start_at=None)
        else:
            transition(item, "stopped", ("stopping",), N_("stopped; no process of its group is left"))
        db.session.commit()
        self.checked_at.pop(item.id, None)
