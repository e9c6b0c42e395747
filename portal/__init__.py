"""LLM Training Portal: the application factory."""
import os
from pathlib import Path

from flask import Flask

from portal.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides settings (tests pass PORTAL_* names or Flask keys).

    Starts no thread: the supervisor runs from its own command or from gunicorn's hooks.
    """
    config = dict(config or {})
    env_overrides = {k: str(v) for k, v in config.items() if k.startswith(("PORTAL_", "TRAINING_"))}
    settings = load_settings({**os.environ, **env_overrides})
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    from portal import routing
    routing.init_app(app)  # before blueprints: their `<int:…>` rules use the bounded converter
    app.config.update(settings.as_flask_config())
    app.config.update({k: v for k, v in config.items() if k not in env_overrides})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.training_dir.mkdir(parents=True, exist_ok=True)

    from portal import logging_setup, runuser
    logging_setup.configure(settings.log_level)
    try:
        runuser.protect_data_dir(settings.data_dir, settings.training_dir, settings.run_user, settings.database_url)
    except runuser.RunUserError as error:
        raise ConfigError(str(error)) from None
    _init_extensions(app)
    _register_blueprints(app)
    from portal import cli
    cli.init_app(app)
    import portal.runs.supervise  # noqa: F401 - registers the runs' supervisor handler
    import portal.deployments.supervise  # noqa: F401 - spawns, health-checks, restarts and stops vLLM servers
    import portal.datasets.supervise  # noqa: F401 - validation of large files, the orphan-upload sweep
    import portal.deid.supervise  # noqa: F401 - de-identification jobs on dataset files
    import portal.notify.supervise  # noqa: F401 - last: delivers the events the handlers before it wrote this tick
    return app


def _init_extensions(app: Flask) -> None:
    from portal import errors, i18n, security
    from portal.auth import access
    from portal.extensions import csrf, db, htmx, migrate

    import portal.models  # noqa: F401 - every table must be known before migrations or create_all

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    access.init_app(app)  # before CSRF, so an anonymous post is told to sign in, not "bad token"
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)


def _register_blueprints(app: Flask) -> None:
    # imported here, not at module top: blueprints import models, which need `db` created first
    from portal.account.views import bp as account_bp
    from portal.api import bp as api_bp
    from portal.auth.views import bp as auth_bp
    from portal.configs.views import bp as configs_bp
    from portal.dashboard.views import bp as dashboard_bp
    from portal.datasets.views import bp as datasets_bp
    from portal.deid.views import bp as deid_bp
    from portal.deployments.views import bp as deployments_bp
    from portal.notify.views import bp as notify_bp
    from portal.projects.views import bp as projects_bp
    from portal.runs.views import bp as runs_bp

    for blueprint in (auth_bp, dashboard_bp, projects_bp, runs_bp, deid_bp, configs_bp, datasets_bp,
                      account_bp, deployments_bp, notify_bp, api_bp):
        app.register_blueprint(blueprint)
