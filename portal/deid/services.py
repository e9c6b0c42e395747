"""Every change to de-identification policies, and every run of the engine from the portal.

Built-in policies live in code and are read-only; user policies are rows whose YAML was
validated on save. Views, the JSON API and the CLI all come through here.
"""
import hashlib
import hmac
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from portal.deid.engine import DeidResult, Deidentifier
from portal.deid.engine import reidentify as restore
from portal.deid.models import DeidPolicy
from portal.deid.policies import Policy, PolicyError, builtin_policies, parse_policy
from portal.errors import Conflict, Invalid, TooLarge, found
from portal.extensions import db
from portal.i18n import _l
from portal.timeutil import utcnow

SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_YAML_CHARS = 200_000
CACHE_SIZE = 32  # engines kept per process; a policy edit makes a new key, old ones age out

log = logging.getLogger("portal.deid")
_lock = threading.Lock()


class PolicyInvalid(Invalid):
    """The YAML of a policy does not validate; `errors` lists every problem with its place."""

    status = 422

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as pages and the API show it, built-in or stored."""

    id: str
    yaml: str
    description: str
    builtin: bool
    entities: list[str] = field(default_factory=list)
    created_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _builtin_info(policy_id: str, policy: Policy) -> PolicyInfo:
    return PolicyInfo(policy_id, policy.to_yaml(), policy.description, True, list(policy.rules))


def _row_info(row: DeidPolicy) -> PolicyInfo:
    try:
        entities = list(parse_policy(row.yaml).rules)
    except PolicyError:  # stored before a stricter engine; still listed so it can be fixed
        entities = []
    return PolicyInfo(row.id, row.yaml, row.description, False, entities, row.created_by,
                      row.created_at, row.updated_at)


def list_policies() -> list[PolicyInfo]:
    """Built-ins first (in their fixed order), then user policies by id."""
    builtins = [_builtin_info(pid, p) for pid, p in builtin_policies().items()]
    rows = db.session.scalars(select(DeidPolicy).order_by(DeidPolicy.id))
    return builtins + [_row_info(row) for row in rows]


def policy_ids() -> list[str]:
    """The ids alone, in list order: the playground's choices on every keystroke parse no YAML."""
    return list(builtin_policies()) + list(db.session.scalars(select(DeidPolicy.id).order_by(DeidPolicy.id)))


def _row(policy_id: str) -> DeidPolicy:
    return found(db.session.get(DeidPolicy, policy_id), _l("policy %(name)s not found", name=repr(policy_id)))


def get_policy(policy_id: str) -> PolicyInfo:
    builtin = builtin_policies().get(policy_id)
    if builtin is not None:
        return _builtin_info(policy_id, builtin)
    row = _row(policy_id)
    return _row_info(row)


def check_yaml(yaml_text: str) -> Policy:
    """Parse a policy; raise PolicyInvalid listing every problem."""
    if len(yaml_text) > MAX_YAML_CHARS:
        raise PolicyInvalid([f"policy: longer than {MAX_YAML_CHARS} characters"])
    try:
        return parse_policy(yaml_text)
    except PolicyError as error:
        raise PolicyInvalid(error.errors) from None


def check_id(policy_id: str) -> None:
    """A user policy id: a free slug that is not a built-in's."""
    if policy_id in builtin_policies():
        raise Conflict(_l("policy %(name)s is built in and read-only", name=repr(policy_id)))
    if not SLUG.fullmatch(policy_id or ""):  # fullmatch: `$` would let a trailing newline in
        raise Invalid(_l("policy id must be a slug: lowercase letters, digits, '.', '_' or '-', at most 64"))


def save_policy(policy_id: str, yaml_text: str, by: int | None = None) -> tuple[PolicyInfo, bool]:
    """Create or replace user policy `policy_id`; returns it and whether it is new."""
    check_id(policy_id)
    policy = check_yaml(yaml_text)
    row = db.session.get(DeidPolicy, policy_id)
    created = row is None
    if created:
        row = DeidPolicy(id=policy_id, created_by=by)
        db.session.add(row)
    row.yaml = yaml_text
    row.description = policy.description
    row.updated_at = utcnow()  # set even when nothing changed: a save is a new cache key everywhere
    db.session.commit()
    return _row_info(row), created


def create_policy(policy_id: str, yaml_text: str, by: int | None = None) -> PolicyInfo:
    """Like save_policy, but an existing policy is a conflict (the editor's "new" must not overwrite)."""
    check_id(policy_id)
    if db.session.get(DeidPolicy, policy_id) is not None:
        raise Conflict(_l("policy %(name)s already exists", name=repr(policy_id)))
    return save_policy(policy_id, yaml_text, by)[0]


def delete_policy(policy_id: str) -> None:
    if policy_id in builtin_policies():
        raise Conflict(_l("policy %(name)s is built in and read-only", name=repr(policy_id)))
    row = _row(policy_id)
    db.session.delete(row)
    db.session.commit()


def secret() -> bytes:
    """The engine's key, derived from SECRET_KEY (persisted), so hashes and pseudonyms stay
    the same across calls and restarts while the session key itself is never used for them."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"deid", hashlib.sha256).digest()


def _source(policy_id: str):
    """(cache key, a function building the Policy) for a policy id; NotFound when unknown."""
    builtin = builtin_policies().get(policy_id)
    if builtin is not None:
        return (policy_id, None), lambda: builtin
    row = _row(policy_id)
    yaml_text = row.yaml

    def build() -> Policy:
        try:
            return parse_policy(yaml_text)
        except PolicyError as error:
            raise Conflict(_l("stored policy %(name)s no longer validates, edit it: %(error)s", name=repr(policy_id),
                              error=error)) from None

    return (policy_id, row.updated_at), build


def deidentifier(policy_id: str) -> Deidentifier:
    """The engine for a policy, built once per (policy id, updated_at) in this process.

    Engines are shared between threads: each `run` opens its own Session, and the detectors
    only read what they built.
    """
    key, build = _source(policy_id)
    engines = current_app.extensions.setdefault("deid_engines", OrderedDict())  # per app: tests differ
    with _lock:
        engine = engines.get(key)
        if engine is not None:
            engines.move_to_end(key)
            return engine
    engine = Deidentifier(build(), secret())
    with _lock:
        engines[key] = engine
        while len(engines) > CACHE_SIZE:
            engines.popitem(last=False)
    return engine


def warm_up() -> list[str]:
    """Load jieba now when a policy finds person names (`strict` always does), so that no call
    waits seconds for it; returns those policies' ids. A worker runs this in a thread at start."""
    from portal.deid import person
    from portal.deid.entities import PERSON

    needing = []
    for policy_id in policy_ids():
        try:
            if PERSON in _source(policy_id)[1]().rules:
                needing.append(policy_id)
        except Conflict:  # a stored policy that no longer validates says so when it is used
            continue
    if needing:
        started = time.perf_counter()
        person.load()
        log.info("deid: jieba loaded in %.1f s for policies %s", time.perf_counter() - started, ", ".join(needing))
    return needing


def start_warm_up(app) -> threading.Thread:
    """`warm_up()` in a thread of its own (gunicorn's post_worker_init): the worker serves meanwhile."""
    def run():
        with app.app_context():
            try:
                warm_up()
            except Exception:  # a failed warm-up only means the first call loads jieba itself
                log.exception("deid: warm-up failed")

    thread = threading.Thread(target=run, name="deid-warm-up", daemon=True)
    thread.start()
    return thread


def check_limits(texts: list[str], extra_chars: int = 0) -> None:
    """Raise TooLarge naming the setting when a call sends too much for one request."""
    settings = current_app.config["PORTAL"]
    if len(texts) > settings.deid_max_texts:
        raise TooLarge(_l("%(count)s texts is more than PORTAL_DEID_MAX_TEXTS allows (%(limit)s); split the call "
                          "or use `flask deid` for files", count=len(texts), limit=settings.deid_max_texts))
    chars = sum(len(t) for t in texts) + extra_chars
    if chars > settings.deid_max_chars:
        raise TooLarge(_l("%(count)s characters is more than PORTAL_DEID_MAX_CHARS allows (%(limit)s); split the "
                          "call or use `flask deid` for files", count=chars, limit=settings.deid_max_chars))


def deidentify(policy_id: str, texts: list[str], seed: int | None = None,
               return_mapping: bool = False) -> DeidResult:
    """De-identify `texts` as one document; same texts, policy and seed → same result."""
    check_limits(texts)
    result = deidentifier(policy_id).run(texts, seed=seed, return_mapping=return_mapping)
    found = Counter(e["type"] for r in result.results for e in r["entities"])
    log.info("deidentify policy=%s texts=%d entities=%s", policy_id, len(texts), dict(found))  # no content
    return result


def try_policy(yaml_text: str, texts: list[str], seed: int | None = None) -> DeidResult:
    """Run an unsaved policy (the editor's preview); nothing is cached or stored."""
    check_limits(texts)
    return Deidentifier(check_yaml(yaml_text), secret()).run(texts, seed=seed, return_mapping=True)


def reidentify(texts: list[str], mapping: dict[str, str]) -> list[str]:
    """Put originals back from a mapping a deidentify call returned."""
    check_limits(texts, sum(len(k) + len(v) for k, v in mapping.items()))
    return restore(texts, mapping)
