"""Finding runs: filters (project, status, user, tag, dates, text), sorts (created, duration, a metric),
and the per-run figures the lists show (best value of a metric, duration)."""
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, cast, func, or_, select

from portal.auth.models import User
from portal.errors import Invalid
from portal.extensions import db
from portal.i18n import _l
from portal.projects.models import Project
from portal.runs.models import Metric, Run

SORTS = ("created", "duration", "metric")
ORDERS = ("desc", "asc")
MAX_LIMIT = 200
MAX_PAGE = 10_000
TAG = re.compile(r'^[^",\\\x00-\x1f]{1,40}$')  # no quote, comma or backslash: a tag is matched in its JSON text
METRIC_KEY = re.compile(r"^[\w./-]{1,100}$")
BEST_KEY = "eval_loss"  # the lists' "best eval loss" column


@dataclass(frozen=True)
class RunFilter:
    project: str = ""
    status: str = ""  # comma-separated
    user: str = ""  # who queued it (username)
    tag: str = ""
    since: date | None = None  # created on or after this day (UTC)
    until: date | None = None  # created on or before this day
    q: str = ""  # project name, note, or a run number (#7)
    sort: str = "created"
    key: str = BEST_KEY  # the metric of sort=metric
    order: str = "desc"
    before: int | None = None  # keyset cursor, sort=created only
    page: int = 0  # the other sorts page by offset
    limit: int = 50

    def check(self) -> "RunFilter":
        if self.sort not in SORTS:
            raise Invalid(_l("sort must be one of %(names)s", names=", ".join(SORTS)))
        if self.order not in ORDERS:
            raise Invalid(_l("order must be one of %(names)s", names=", ".join(ORDERS)))
        if not METRIC_KEY.match(self.key):
            raise Invalid(_l("key: a metric key of letters, digits and . _ / -, at most 100"))
        if self.tag and not TAG.match(self.tag):
            raise Invalid(_l("tag: at most 40 characters, without quotes, commas or backslashes"))
        if len(self.q) > 200 or len(self.user) > 64 or len(self.project) > 64:
            raise Invalid(_l("search texts are at most 200 characters"))
        if not 0 <= self.page <= MAX_PAGE:
            raise Invalid(_l("page must be between 0 and %(max)s", max=MAX_PAGE))
        return self


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def duration_expr():
    """Seconds from start to end (or now), in the database's own date arithmetic."""
    end = func.coalesce(Run.ended_at, func.current_timestamp())
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(Run.started_at)) * 86400.0
    return func.extract("epoch", end - Run.started_at)


def _day(value: date, end: bool = False) -> datetime:
    return datetime.combine(value + timedelta(days=1) if end else value, time.min, tzinfo=UTC)


def find(f: RunFilter) -> list[Run]:
    f = f.check()
    stmt = select(Run)
    if f.project:
        stmt = stmt.join(Project, Project.id == Run.project_id).where(Project.name == f.project)
    if f.status:
        stmt = stmt.where(Run.status.in_(f.status.split(",")))
    if f.user:
        stmt = stmt.where(Run.created_by.in_(select(User.id).where(User.username == f.user)))
    if f.tag:  # tags are a JSON list: its text holds "tag" with the quotes, on SQLite and PostgreSQL alike
        stmt = stmt.where(cast(Run.tags, String).like(_like(f'"{f.tag}"'), escape="\\"))
    if f.since:
        stmt = stmt.where(Run.created_at >= _day(f.since))
    if f.until:
        stmt = stmt.where(Run.created_at < _day(f.until, end=True))
    if f.q:
        text = f.q.strip().lstrip("#")
        named = select(Project.id).where(Project.name.ilike(_like(text), escape="\\"))
        matches = [Run.project_id.in_(named), Run.note.ilike(_like(text), escape="\\")]
        if text.isdigit() and len(text) < 10:
            matches.append(Run.number == int(text))
        stmt = stmt.where(or_(*matches))
    limit = min(max(f.limit, 1), MAX_LIMIT)
    descending = f.order == "desc"
    if f.sort == "created":
        stmt = stmt.order_by(Run.id.desc() if descending else Run.id.asc())
        if f.before:
            stmt = stmt.where(Run.id < f.before if descending else Run.id > f.before)
        else:
            stmt = stmt.offset(f.page * limit)
        return list(db.session.scalars(stmt.limit(limit)))
    if f.sort == "duration":
        value = duration_expr()
        stmt = stmt.where(Run.started_at.is_not(None))
    else:  # the run's best value of the metric: the highest when sorting high first, else the lowest
        # (ix_metrics_key_run_value answers this from the index alone, in run order)
        aggregate = func.max(Metric.value) if descending else func.min(Metric.value)
        best = (select(Metric.run_id, aggregate.label("best")).where(Metric.key == f.key)
                .group_by(Metric.run_id).subquery())
        stmt = stmt.join(best, best.c.run_id == Run.id)
        value = best.c.best
    stmt = stmt.order_by(value.desc() if descending else value.asc(), Run.id.desc())
    return list(db.session.scalars(stmt.offset(f.page * limit).limit(limit)))


def best_values(run_ids: list[int], key: str = BEST_KEY) -> dict[int, float]:
    """Each run's lowest value of `key` (a loss), for the lists' column."""
    if not run_ids:
        return {}
    rows = db.session.execute(select(Metric.run_id, func.min(Metric.value))
                              .where(Metric.run_id.in_(run_ids), Metric.key == key).group_by(Metric.run_id)).all()
    return {run_id: value for run_id, value in rows}


def users_who_queued() -> list[str]:
    """Usernames that queued at least one run, for the list's user filter."""
    return list(db.session.scalars(select(User.username).where(User.id.in_(select(Run.created_by).distinct()))
                                   .order_by(User.username)))


def run_tags() -> list[str]:
    """Every tag in use on runs, for the list's tag filter (bounded: the newest 2,000 runs with tags)."""
    lists = db.session.scalars(select(Run.tags).where(cast(Run.tags, String) != "[]").order_by(Run.id.desc())
                               .limit(2000))
    return sorted({tag for tags in lists for tag in tags or []})
