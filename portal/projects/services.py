"""Every change to projects; the rules for names, paths and execution settings live here."""
import re

from flask import current_app
from sqlalchemy import or_, select

from portal.errors import Conflict, Invalid, found
from portal.extensions import db
from portal.i18n import _l
from portal.projects.models import Project
from portal.runs import command
from portal.storage import resolve_under
from portal.supervisor import executors
from portal.supervisor.executors.slurm_text import VALUE as SBATCH_VALUE

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGABRT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL")
MAX_GPUS = 64
# bytes of UTF-8 each free-text field may hold (the columns' sizes, where they have one)
MAX_BYTES = {"description": 10_000, "owner": 64, "dataset_name": 500, "training_yaml_name": 500, "container": 200,
             "workdir": 500, "start_command": 10_000}
MAX_ENV = 100
MAX_ENV_VALUE_BYTES = 10_000
EDITABLE = ("description", "owner", "tags", "dataset_name", "training_yaml_name", "executor", "container",
            "workdir", "start_command", "gpus_per_run", "env", "stop_signal", "grace_seconds", "slurm",
            "idle_gpu_percent", "idle_gpu_minutes", "cleanup")
IDLE_MINUTES = (0, 7 * 24 * 60)  # the idle-GPU guard's window: off, up to a week
# a checkpoint clean-up policy (portal/runs/cleanup.py applies it): what it keeps, what it does to the rest
CLEANUP_ACTIONS = ("optimizer", "delete")  # drop only the optimizer state (resumable no more), or the whole folder
CLEANUP_MODES = ("min", "max")  # which way the chosen metric is better
CLEANUP_KEEP = (0, 1000)
CLEANUP_DEFAULTS = {"metric": "eval_loss", "mode": "min", "keep_best": 1, "keep_latest": 1, "action": "optimizer"}
METRIC_KEY = re.compile(r"^[\w./-]{1,100}$")
# the Slurm executor's settings of a project: one word each (written into `#SBATCH` lines), or a number
SLURM_WORDS = ("partition", "account", "qos", "time_limit", "memory", "container_image")
SLURM_NUMBERS = {"nodes": (1, 1024), "gpus_per_node": (0, MAX_GPUS), "cpus_per_task": (1, 1024)}
SLURM_LISTS = ("container_mounts", "extra")
SLURM_FIELDS = SLURM_WORDS + tuple(SLURM_NUMBERS) + SLURM_LISTS
SLURM_DEFAULTS = ("partition", "account", "qos", "time_limit")  # the server's PORTAL_SLURM_* settings
MEMORY = re.compile(r"^[0-9]+[KMGT]?$")
# `extra` holds sbatch options from this list only, as `--name` or `--name=value`; the rest
# (output, chdir, export, uid, container…) the portal sets itself or must not be changed
SBATCH_EXTRA = ("--constraint", "--exclusive", "--reservation", "--nodelist", "--exclude", "--gpus-per-task",
                "--mem-per-gpu", "--cpus-per-gpu", "--gres-flags", "--hint", "--distribution", "--comment",
                "--licenses", "--wckey", "--begin", "--deadline", "--signal", "--no-requeue", "--requeue",
                "--switches", "--threads-per-core", "--mail-type", "--mail-user", "--nice", "--gpu-bind")
MAX_SLURM_LIST = 20


def _settings():
    return current_app.config["PORTAL"]


def check_fields(fields: dict) -> dict:
    """Normalise and check project fields; raises Invalid naming the field."""
    out = dict(fields)
    for key, limit in MAX_BYTES.items():
        if out.get(key) is not None:
            _text(key, out[key], limit)
    if "tags" in out:
        tags = [str(t).strip() for t in out["tags"] or [] if str(t).strip()]
        if len(tags) > 20 or any(len(t) > 40 for t in tags):
            raise Invalid(_l("tags: at most 20 tags of at most 40 characters"))
        out["tags"] = list(dict.fromkeys(tags))
    for key in ("dataset_name", "training_yaml_name"):
        if out.get(key):
            resolve_under(_settings().training_dir, out[key], key)
    if out.get("executor") and out["executor"] not in executors.NAMES:
        raise Invalid(_l("executor must be one of %(names)s", names=", ".join(executors.NAMES)))
    if out.get("start_command"):
        command.parse_template(out["start_command"])
    if out.get("workdir") and executors.get(out.get("executor") or _settings().executor).host_workdir:
        resolve_under(_settings().training_dir, out["workdir"], "workdir")
    if "gpus_per_run" in out and not 0 <= int(out["gpus_per_run"] or 0) <= MAX_GPUS:
        raise Invalid(_l("gpus_per_run must be between 0 and %(max)s", max=MAX_GPUS))
    if "env" in out:
        env = out["env"] or {}
        bad = [k for k in env if not ENV_NAME.match(str(k))]
        if bad:
            raise Invalid(_l("env: invalid variable name %(name)s", name=repr(bad[0])))
        if len(env) > MAX_ENV:
            raise Invalid(_l("env: at most %(max)s variables", max=MAX_ENV))
        out["env"] = {str(k): _text(f"env {k}", str(v), MAX_ENV_VALUE_BYTES) for k, v in env.items()}
    if "slurm" in out:
        out["slurm"] = check_slurm(out["slurm"] or {})
    if "idle_gpu_percent" in out and not 0 <= int(out["idle_gpu_percent"] or 0) <= 100:
        raise Invalid(_l("idle_gpu_percent must be between 0 and 100"))
    if "idle_gpu_minutes" in out and not IDLE_MINUTES[0] <= int(out["idle_gpu_minutes"] or 0) <= IDLE_MINUTES[1]:
        raise Invalid(_l("idle_gpu_minutes must be between %(low)s and %(high)s", low=IDLE_MINUTES[0],
                         high=IDLE_MINUTES[1]))
    if "cleanup" in out:
        out["cleanup"] = check_cleanup(out["cleanup"] or {})
    if "stop_signal" in out and out["stop_signal"] not in STOP_SIGNALS:
        raise Invalid(_l("stop_signal must be one of %(names)s", names=", ".join(STOP_SIGNALS)))
    if "grace_seconds" in out and not 0 <= int(out["grace_seconds"]) <= 3600:
        raise Invalid(_l("grace_seconds must be between 0 and 3600"))
    for key in ("executor", "container", "workdir", "start_command"):
        if key in out and not out[key]:
            out[key] = None  # empty means "use the server's setting"
    return out


def check_slurm(slurm: dict) -> dict:
    """A project's Slurm settings: known keys, one-word values, numbers in range, allowed options."""
    if not isinstance(slurm, dict):
        raise Invalid(_l("slurm: must be an object"))
    unknown = sorted(set(slurm) - set(SLURM_FIELDS))
    if unknown:
        raise Invalid(_l("slurm: unknown setting %(name)s; known: %(known)s", name=repr(unknown[0]),
                         known=", ".join(SLURM_FIELDS)))
    out = {}
    for key in SLURM_WORDS:
        if slurm.get(key):
            out[key] = _slurm_word(f"slurm.{key}", slurm[key])
    if out.get("memory") and not MEMORY.match(out["memory"]):
        raise Invalid(_l("slurm.memory: a size like 64G, 512M or 1T (per node)"))
    for key, (low, high) in SLURM_NUMBERS.items():
        if slurm.get(key) not in (None, ""):
            value = slurm[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Invalid(_l("slurm.%(key)s: a whole number between %(low)s and %(high)s",
                                 key=key, low=low, high=high))
            out[key] = value
    for key in SLURM_LISTS:
        items = slurm.get(key) or []
        if not isinstance(items, list) or len(items) > MAX_SLURM_LIST:
            raise Invalid(_l("slurm.%(key)s: a list of at most %(max)s entries", key=key, max=MAX_SLURM_LIST))
        if items:
            out[key] = [_slurm_word(f"slurm.{key}", item) for item in items]
    for option in out.get("extra", []):
        if option.partition("=")[0] not in SBATCH_EXTRA:
            raise Invalid(_l("slurm.extra: %(option)s is not allowed; allowed: %(allowed)s", option=repr(option),
                             allowed=", ".join(SBATCH_EXTRA)))
    return out


def check_cleanup(policy: dict) -> dict:
    """A clean-up policy with every key set ({} when none is wanted)."""
    if not isinstance(policy, dict):
        raise Invalid(_l("cleanup: must be an object"))
    if not policy:
        return {}
    unknown = sorted(set(policy) - set(CLEANUP_DEFAULTS))
    if unknown:
        raise Invalid(_l("cleanup: unknown setting %(name)s; known: %(known)s", name=repr(unknown[0]),
                         known=", ".join(CLEANUP_DEFAULTS)))
    out = {**CLEANUP_DEFAULTS, **{k: v for k, v in policy.items() if v is not None}}
    if not isinstance(out["metric"], str) or not METRIC_KEY.match(out["metric"]):
        raise Invalid(_l("cleanup.metric: a metric key of letters, digits and . _ / -, at most 100"))
    if out["mode"] not in CLEANUP_MODES:
        raise Invalid(_l("cleanup.mode must be one of %(names)s", names=", ".join(CLEANUP_MODES)))
    if out["action"] not in CLEANUP_ACTIONS:
        raise Invalid(_l("cleanup.action must be one of %(names)s", names=", ".join(CLEANUP_ACTIONS)))
    for key in ("keep_best", "keep_latest"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) or not CLEANUP_KEEP[0] <= value <= CLEANUP_KEEP[1]:
            raise Invalid(_l("cleanup.%(key)s: a whole number between %(low)s and %(high)s", key=key,
                             low=CLEANUP_KEEP[0], high=CLEANUP_KEEP[1]))
    return out


def _slurm_word(field: str, value) -> str:
    if not isinstance(value, str) or not SBATCH_VALUE.match(value):
        raise Invalid(_l("%(field)s: one word of letters, digits and . _ : , = / @ %% + - [ ], got %(value)s",
                         field=field, value=repr(value)))
    return value


def slurm_options(project: Project) -> dict:
    """The Slurm settings a new run of `project` gets: its own, else the server's defaults.

    Without `gpus_per_node` a job asks for the run's GPU count (GPUs per run, or the start's `gpus`).
    """
    settings = _settings()
    options = {key: getattr(settings, f"slurm_{key}") for key in SLURM_DEFAULTS if getattr(settings, f"slurm_{key}")}
    options.update(project.slurm or {})
    return options


def _text(field: str, value, limit: int) -> str:
    """A free-text value: a string with no NUL (argv and environments cannot hold one), bounded."""
    if not isinstance(value, str):
        raise Invalid(_l("%(field)s: must be text", field=field))
    if "\x00" in value:
        raise Invalid(_l("%(field)s: must not contain a NUL character", field=field))
    if len(value.encode()) > limit:
        raise Invalid(_l("%(field)s: at most %(limit)s bytes of UTF-8", field=field, limit=limit))
    return value


def check_new(name: str, **fields) -> dict:
    """Check a would-be project without saving it; returns its normalised fields."""
    if not NAME.match(name or ""):
        raise Invalid(_l("name must be a slug: lowercase letters, digits, '.', '_' or '-', at most 64"))
    if db.session.scalar(select(Project.id).filter_by(name=name)):
        raise Conflict(_l("project %(name)s already exists", name=repr(name)))
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise Invalid(_l("unknown project field %(name)s", name=repr(sorted(unknown)[0])))
    return check_fields(fields)


def create_project(name: str, created_by: int | None = None, **fields) -> Project:
    project = Project(name=name, created_by=created_by, **check_new(name, **fields))
    db.session.add(project)
    db.session.commit()
    return project


def get_project(name: str) -> Project:
    return found(db.session.scalar(select(Project).filter_by(name=name)),
                 _l("project %(name)s not found", name=repr(name)))


def update_project(name: str, **fields) -> Project:
    project = get_project(name)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise Invalid(_l("unknown project field %(name)s", name=repr(sorted(unknown)[0])))
    merged = {"executor": project.executor, **fields}  # workdir is checked against the new executor
    for key, value in check_fields(merged).items():
        if key in fields:
            setattr(project, key, value)
    db.session.commit()
    return project


def set_archived(name: str, archived: bool) -> Project:
    project = get_project(name)
    project.status = "archived" if archived else "active"
    db.session.commit()
    return project


def list_projects(q: str = "", tag: str = "", status: str = "", after: str = "", limit: int = 50) -> list[Project]:
    """Projects by name, searched by name/owner/description, filtered by tag; keyset-paginated."""
    stmt = select(Project).order_by(Project.name).limit(min(max(limit, 1), 200))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(Project.name.like(like), Project.owner.ilike(like), Project.description.ilike(like)))
    if status:
        stmt = stmt.where(Project.status == status)
    if after:
        stmt = stmt.where(Project.name > after)
    projects = list(db.session.scalars(stmt))
    if tag:  # tags are a JSON list; filtering in Python keeps this portable across databases
        projects = [p for p in projects if tag in (p.tags or [])]
    return projects


def all_tags() -> list[str]:
    return sorted({t for tags in db.session.scalars(select(Project.tags)) for t in tags or []})


def effective(project: Project) -> dict:
    """The execution settings a run of `project` gets: its own, else the server's."""
    settings = _settings()
    return {
        "executor": project.executor or settings.executor,
        "container": project.container or settings.docker_container,
        "workdir": project.workdir or settings.workdir,
        "start_command": project.start_command or settings.start_command,
        "gpus_per_run": project.gpus_per_run,
        "env": dict(project.env or {}),
        "stop_signal": project.stop_signal,
        "grace_seconds": project.grace_seconds,
        "slurm": slurm_options(project),
    }


def resources(project: Project) -> list[dict]:
    """Whether the project's dataset and config exist under the training dir."""
    found = []
    for key, label in (("dataset_name", "dataset"), ("training_yaml_name", "training config")):
        value = getattr(project, key)
        entry = {"field": key, "label": label, "path": value, "exists": False, "error": ""}
        if not value:
            entry["error"] = "not set"
        else:
            try:
                entry["exists"] = resolve_under(_settings().training_dir, value, key).is_file()
            except Invalid as error:
                entry["error"] = error.message
        found.append(entry)
    return found


def preview(fields: dict) -> Project:
    """An unsaved project with `fields`, for checks like `resources` while a form is filled in."""
    return Project(**{k: v for k, v in fields.items() if k in EDITABLE})
