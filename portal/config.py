"""Settings read from the environment, in one place, with their defaults and checks.

Every setting is documented in `.env.example` and the README. `load_settings` turns the
environment into a frozen `Settings`; a bad value raises `ConfigError` whose message is one
line naming the variable, which the CLI and gunicorn print before refusing to start.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from portal.runuser import RunUser, RunUserError
from portal.supervisor.gpus import FakeGpus
from portal.supervisor.executors import NAMES as EXECUTORS
from portal.supervisor.executors.slurm_text import VALUE as SBATCH_VALUE

LOCALES = ("en", "zh_CN")  # the languages with a catalog in portal/translations
_FAKE_GPUS = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+(?:\.\d+)?)\s*(GiB|GB|MiB|MB)\s*$")
_UNITS = {"GiB": 1024**3, "GB": 1000**3, "MiB": 1024**2, "MB": 1000**2}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(GiB|GB|MiB|MB|KiB|KB|B)?\s*$")


class ConfigError(ValueError):
    """A setting has a value the portal cannot start with."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    training_dir: Path
    database_url: str
    secret_key: str
    bind: str
    workers: int
    threads: int
    embedded_supervisor: bool
    executor: str
    docker_container: str
    docker_run_dir: str
    docker_run_dir_host: Path | None
    shared_dir: Path  # slurm: run folders on a path the portal host and the compute nodes share
    slurm_partition: str  # slurm defaults a project may override ("" = the cluster's own)
    slurm_account: str
    slurm_qos: str
    slurm_time_limit: str
    slurm_timeout_seconds: float  # for every Slurm CLI call
    run_user: RunUser | None  # who local runs execute as (None: the portal's own user)
    workdir: str
    start_command: str
    fake_gpus: FakeGpus | None  # (count, bytes of memory each, the readings file)
    gpu_sample_seconds: float  # how often the GPUs a run holds are sampled into its metrics
    secure_cookies: bool
    lease_seconds: float
    tick_seconds: float
    login_max_failures: int
    login_lockout_seconds: int
    login_address_max_failures: int
    log_level: str
    deid_max_texts: int
    deid_max_chars: int
    max_upload_bytes: int
    validate_inline_bytes: int
    upload_stale_seconds: int
    upload_resume_seconds: int
    max_config_bytes: int
    vllm_bin: str
    model_roots: tuple[Path, ...]
    allow_hub_models: bool
    deploy_ports: range
    deploy_host: str
    deploy_startup_seconds: int
    deploy_max_restarts: int
    deploy_grace_seconds: int
    max_uploads_per_user: int
    upload_idle_seconds: int
    disk_reserve_bytes: int
    snapshot_hash_bytes: int  # datasets up to this size are hashed before a run launches
    default_locale: str
    timezone: str
    smtp_url: str  # e-mail notifications: smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]
    smtp_from: str
    public_url: str  # the portal's address in notification links ("" = no link)
    notify_allow_private: bool  # may channels call loopback, link-local and private addresses?
    notify_retry_seconds: float  # first retry of a failed delivery; doubles up to an hour

    def as_flask_config(self) -> dict:
        """The Flask config keys derived from these settings."""
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": self.secure_cookies,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
            "PORTAL": self,
        }


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false), got {raw!r}")


def _number(name: str, raw: str, kind=int, minimum=1):
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _size(name: str, raw: str) -> int:
    """Bytes, written plainly (1048576) or with a unit (512MiB, 100GiB)."""
    match = _SIZE.match(raw)
    if not match:
        raise ConfigError(f"{name} must be a size like 1048576, 512MiB or 100GiB, got {raw!r}")
    number, unit = match.groups()
    value = int(float(number) * {**_UNITS, "KiB": 1024, "KB": 1000, "B": 1, None: 1}[unit])
    if value < 1:
        raise ConfigError(f"{name} must be at least 1 byte, got {raw!r}")
    return value


def _bind(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"PORTAL_BIND must be HOST:PORT (e.g. 127.0.0.1:8000), got {raw!r}")
    return raw


def _absolute(name: str, raw: str) -> str:
    if not raw.startswith("/"):
        raise ConfigError(f"{name} must be an absolute path, got {raw!r}")
    return raw.rstrip("/") or "/"


def _slurm_word(name: str, raw: str) -> str:
    """A value written into an `#SBATCH` line: one word, no quotes or spaces."""
    if raw and not SBATCH_VALUE.match(raw):
        raise ConfigError(f"{name} must be one word (letters, digits and . _ : , = / @ % + - [ ]), got {raw!r}")
    return raw


def _fake_gpus(raw: str, readings: str) -> FakeGpus | None:
    if not raw.strip():
        return None
    match = _FAKE_GPUS.match(raw)
    if not match:
        raise ConfigError(f"PORTAL_FAKE_GPUS must look like 2x80GiB (count x memory), got {raw!r}")
    count, size, unit = match.groups()
    return FakeGpus(int(count), int(float(size) * _UNITS[unit]), str(Path(readings).resolve()) if readings else None)


def _locale(raw: str) -> str:
    """`zh-CN`, `zh_cn` and `zh_CN` all name the same catalog."""
    wanted = raw.strip().replace("-", "_").lower()
    for locale in LOCALES:
        if locale.lower() == wanted:
            return locale
    raise ConfigError(f"PORTAL_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, got {raw!r}")


def _timezone(raw: str, tz_variable: str) -> str:
    """An IANA zone name; unset means the host's (TZ, /etc/timezone, /etc/localtime), else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = raw.strip() or _host_timezone(tz_variable)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PORTAL_TIMEZONE must be a time zone name like Asia/Shanghai, got {raw!r}") from None
    return name


def _host_timezone(tz_variable: str) -> str:
    tz = tz_variable.lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        return Path("/etc/timezone").read_text().strip() or "UTC"
    except OSError:
        pass
    target = os.path.realpath("/etc/localtime")
    return target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else "UTC"


def _smtp_url(raw: str) -> str:
    from urllib.parse import urlsplit

    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
        raise ConfigError(f"PORTAL_SMTP_URL must look like smtp+starttls://user:pass@host:587 "
                          f"(smtp, smtp+starttls or smtps), got {parts.scheme or raw!r}")
    try:
        parts.port
    except ValueError:
        raise ConfigError("PORTAL_SMTP_URL has a bad port") from None
    return raw


def _public_url(raw: str) -> str:
    if raw and not re.match(r"^https?://[^/\s]+(/\S*)?$", raw):
        raise ConfigError(f"PORTAL_PUBLIC_URL must be an http(s) address like https://portal.example.com, got {raw!r}")
    return raw.rstrip("/")


def _start_command(raw: str) -> str:
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        raise ConfigError(f"PORTAL_START_COMMAND cannot be split into arguments: {exc}") from None
    if not argv:
        raise ConfigError("PORTAL_START_COMMAND must not be empty")
    return raw


def _model_roots(raw: str, training_dir: Path) -> tuple[Path, ...]:
    """Folders an absolute model path may lie under, separated by ':' (default: the training dir)."""
    roots = [Path(part).expanduser().resolve() for part in raw.split(":") if part.strip()]
    return tuple(roots) or (training_dir,)


def _ports(raw: str) -> range:
    first, sep, last = raw.partition("-")
    if not (first.strip().isdigit() and last.strip().isdigit() and sep) or \
            not 1024 <= int(first) <= int(last) < 65536:
        raise ConfigError(f"PORTAL_DEPLOY_PORTS must be a range like 8200-8299 within 1024-65535, got {raw!r}")
    return range(int(first), int(last) + 1)


def _run_user(user: str, group: str) -> RunUser | None:
    if not user:
        if group:
            raise ConfigError("PORTAL_RUN_GROUP needs PORTAL_RUN_USER")
        return None
    try:
        return RunUser.resolve(user, group)
    except RunUserError as error:
        raise ConfigError(str(error)) from None


def _secret_key(raw: str, data_dir: Path) -> str:
    """The configured key, else one generated once and kept in the data dir (mode 0600)."""
    if raw:
        if len(raw) < 16:
            raise ConfigError("PORTAL_SECRET_KEY must be at least 16 characters")
        return raw
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: when two workers start at once, exactly one writes and both read the same key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad variable."""
    env = dict(os.environ if environ is None else environ)
    get = lambda name, default="": env.get(name, default)  # noqa: E731 - local shorthand
    data_dir = Path(get("PORTAL_DATA_DIR", "./var")).expanduser().resolve()
    # empty means the default, as in .env.example (not the current directory)
    training_dir = Path(get("PORTAL_TRAINING_DIR") or str(data_dir / "training")).expanduser().resolve()
    executor = get("PORTAL_EXECUTOR", "local")
    if executor not in EXECUTORS:
        raise ConfigError(f"PORTAL_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    database_url = get("TRAINING_DB_URL") or f"sqlite:///{data_dir / 'portal.db'}"
    if "://" not in database_url:
        raise ConfigError(f"TRAINING_DB_URL must be an SQLAlchemy URL (e.g. sqlite:///path), got {database_url!r}")
    log_level = get("PORTAL_LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"PORTAL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    return Settings(
        data_dir=data_dir,
        training_dir=training_dir,
        database_url=database_url,
        secret_key=_secret_key(get("PORTAL_SECRET_KEY"), data_dir),
        bind=_bind(get("PORTAL_BIND", "127.0.0.1:8000")),
        workers=_number("PORTAL_WORKERS", get("PORTAL_WORKERS", "2")),
        threads=_number("PORTAL_THREADS", get("PORTAL_THREADS", "8")),
        embedded_supervisor=_bool("PORTAL_EMBEDDED_SUPERVISOR", get("PORTAL_EMBEDDED_SUPERVISOR", "on")),
        executor=executor,
        docker_container=get("PORTAL_DOCKER_CONTAINER", "qwen2.5-14b-instruct_xpytorch_full_sft"),
        docker_run_dir=_absolute("PORTAL_DOCKER_RUN_DIR", get("PORTAL_DOCKER_RUN_DIR", "/tmp/portal-runs")),
        docker_run_dir_host=Path(get("PORTAL_DOCKER_RUN_DIR_HOST")).resolve()
        if get("PORTAL_DOCKER_RUN_DIR_HOST") else None,
        shared_dir=Path(get("PORTAL_SHARED_DIR") or str(training_dir / "slurm")).expanduser().resolve(),
        slurm_partition=_slurm_word("PORTAL_SLURM_PARTITION", get("PORTAL_SLURM_PARTITION")),
        slurm_account=_slurm_word("PORTAL_SLURM_ACCOUNT", get("PORTAL_SLURM_ACCOUNT")),
        slurm_qos=_slurm_word("PORTAL_SLURM_QOS", get("PORTAL_SLURM_QOS")),
        slurm_time_limit=_slurm_word("PORTAL_SLURM_TIME_LIMIT", get("PORTAL_SLURM_TIME_LIMIT")),
        slurm_timeout_seconds=_number("PORTAL_SLURM_TIMEOUT_SECONDS", get("PORTAL_SLURM_TIMEOUT_SECONDS", "30"), float),
        run_user=_run_user(get("PORTAL_RUN_USER"), get("PORTAL_RUN_GROUP")),
        workdir=get("PORTAL_WORKDIR", "KTIP_Release_2.1.0/train/llm"),
        start_command=_start_command(get("PORTAL_START_COMMAND", "bash run_train_full_sft.sh {config}")),
        fake_gpus=_fake_gpus(get("PORTAL_FAKE_GPUS"), get("PORTAL_FAKE_GPU_READINGS")),
        gpu_sample_seconds=_number("PORTAL_GPU_SAMPLE_SECONDS", get("PORTAL_GPU_SAMPLE_SECONDS", "15"), float, 0.1),
        secure_cookies=_bool("PORTAL_SECURE_COOKIES", get("PORTAL_SECURE_COOKIES", "on")),
        lease_seconds=_number("PORTAL_LEASE_SECONDS", get("PORTAL_LEASE_SECONDS", "15"), float),
        tick_seconds=_number("PORTAL_TICK_SECONDS", get("PORTAL_TICK_SECONDS", "1"), float, 0.05),
        login_max_failures=_number("PORTAL_LOGIN_MAX_FAILURES", get("PORTAL_LOGIN_MAX_FAILURES", "5")),
        login_lockout_seconds=_number("PORTAL_LOGIN_LOCKOUT_SECONDS", get("PORTAL_LOGIN_LOCKOUT_SECONDS", "300")),
        login_address_max_failures=_number("PORTAL_LOGIN_ADDRESS_MAX_FAILURES",
                                           get("PORTAL_LOGIN_ADDRESS_MAX_FAILURES", "50")),
        log_level=log_level,
        deid_max_texts=_number("PORTAL_DEID_MAX_TEXTS", get("PORTAL_DEID_MAX_TEXTS", "1000")),
        deid_max_chars=_number("PORTAL_DEID_MAX_CHARS", get("PORTAL_DEID_MAX_CHARS", "1000000")),
        max_upload_bytes=_size("PORTAL_MAX_UPLOAD_BYTES", get("PORTAL_MAX_UPLOAD_BYTES", "100GiB")),
        validate_inline_bytes=_size("PORTAL_VALIDATE_INLINE_BYTES", get("PORTAL_VALIDATE_INLINE_BYTES", "32MiB")),
        upload_stale_seconds=_number("PORTAL_UPLOAD_STALE_SECONDS", get("PORTAL_UPLOAD_STALE_SECONDS", "600")),
        upload_resume_seconds=_number("PORTAL_UPLOAD_RESUME_SECONDS", get("PORTAL_UPLOAD_RESUME_SECONDS", "86400")),
        max_config_bytes=_size("PORTAL_MAX_CONFIG_BYTES", get("PORTAL_MAX_CONFIG_BYTES", "1MiB")),
        vllm_bin=get("PORTAL_VLLM_BIN") or "vllm",
        model_roots=_model_roots(get("PORTAL_MODEL_ROOTS"), training_dir),
        allow_hub_models=_bool("PORTAL_ALLOW_HUB_MODELS", get("PORTAL_ALLOW_HUB_MODELS", "off")),
        deploy_ports=_ports(get("PORTAL_DEPLOY_PORTS", "8200-8299")),
        deploy_host=get("PORTAL_DEPLOY_HOST") or "127.0.0.1",
        deploy_startup_seconds=_number("PORTAL_DEPLOY_STARTUP_SECONDS", get("PORTAL_DEPLOY_STARTUP_SECONDS", "900")),
        deploy_max_restarts=_number("PORTAL_DEPLOY_MAX_RESTARTS", get("PORTAL_DEPLOY_MAX_RESTARTS", "5"), int, 0),
        deploy_grace_seconds=_number("PORTAL_DEPLOY_GRACE_SECONDS", get("PORTAL_DEPLOY_GRACE_SECONDS", "30"), int, 0),
        max_uploads_per_user=_number("PORTAL_MAX_UPLOADS_PER_USER", get("PORTAL_MAX_UPLOADS_PER_USER", "4")),
        upload_idle_seconds=_number("PORTAL_UPLOAD_IDLE_SECONDS", get("PORTAL_UPLOAD_IDLE_SECONDS", "60")),
        disk_reserve_bytes=_size("PORTAL_DISK_RESERVE", get("PORTAL_DISK_RESERVE", "1GiB")),
        snapshot_hash_bytes=_size("PORTAL_SNAPSHOT_HASH_BYTES", get("PORTAL_SNAPSHOT_HASH_BYTES", "2GiB")),
        default_locale=_locale(get("PORTAL_DEFAULT_LOCALE", "en")),
        timezone=_timezone(get("PORTAL_TIMEZONE"), get("TZ")),
        smtp_url=_smtp_url(get("PORTAL_SMTP_URL")),
        smtp_from=get("PORTAL_SMTP_FROM") or "portal@localhost",
        public_url=_public_url(get("PORTAL_PUBLIC_URL")),
        notify_allow_private=_bool("PORTAL_NOTIFY_ALLOW_PRIVATE", get("PORTAL_NOTIFY_ALLOW_PRIVATE", "off")),
        notify_retry_seconds=_number("PORTAL_NOTIFY_RETRY_SECONDS", get("PORTAL_NOTIFY_RETRY_SECONDS", "30"), float,
                                     0.1),
    )


SETTING_NAMES = [f.name for f in fields(Settings)]
