"""Command-line tools for scripts and ops: `flask --app wsgi users|tokens|supervisor ...`."""
import logging
import signal
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.auth import services
from portal.auth.models import ROLES, User
from portal.deid import cli as deid_cli
from portal.errors import PortalError
from portal.extensions import db

users_cli = AppGroup("users", help="Manage portal users.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(name: str, role: str, password_stdin: bool):
    """Create user NAME with a role; the password comes from stdin or a prompt."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(name, password, role)
    except PortalError as error:
        _fail(error.message)
    click.echo(f"created user {user.username} ({user.role})", err=True)


@users_cli.command("list")
def list_users():
    """List users with their roles."""
    for user in services.list_users():
        click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
def create_token(name: str, label: str):
    """Create an API token for user NAME and print it alone on stdout."""
    user = db.session.scalar(select(User).filter_by(username=name))
    if user is None:
        _fail(f"no user named {name!r}")
    try:
        _token, plain = services.create_token(user, label)
    except PortalError as error:
        _fail(error.message)
    click.echo(plain)


@click.command("supervisor")
@click.option("--once", is_flag=True, help="Run a single tick and exit (for checks and tests).")
def supervisor_command(once: bool):
    """Run the supervisor in the foreground until interrupted."""
    from portal.supervisor import Supervisor

    sup = Supervisor(current_app._get_current_object())
    if once:
        active = sup.tick()
        sup.close()
        click.echo("active" if active else "standing by")
        return
    # SIGTERM stops the loop like Ctrl-C does, so the lease is released for a successor
    signal.signal(signal.SIGTERM, lambda *_: sup.stop(timeout=0))
    try:
        sup.run_forever()
    except KeyboardInterrupt:
        logging.getLogger("portal.supervisor").info("interrupted")


@click.command("demo")
@click.option("--steps", default=60, show_default=True, help="Training steps (about one per second).")
@click.option("--run", "start", is_flag=True, help="Also queue a run of it.")
@click.option("--if-missing", is_flag=True, help="Do nothing when the demo project exists (for scripts/serve).")
def demo_command(steps: int, start: bool, if_missing: bool):
    """Create the `demo` project (local executor, stdlib script, no GPU)."""
    from portal.projects import demo
    from portal.runs import services as runs

    if if_missing and demo.exists():
        return
    project = demo.install(steps)
    click.echo(f"project {project.name} is ready: open /ui/projects/{project.name} and press Run", err=True)
    if start:
        run = runs.create_run(project.name)
        click.echo(f"queued run #{run.number} (id {run.id})", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(supervisor_command)
    deid_cli.init_app(app)
