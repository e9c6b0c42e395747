"""`flask --app wsgi deid FILE --policy ID`: de-identify a text or JSONL file of any size.

The file is streamed a chunk of lines at a time, so the request limits of the API do not apply;
the whole file is one document (one value gets one tag on every line), whatever ``--jobs``. Counts go to stderr so
stdout can be piped.
"""
import os
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from portal.deid import parallel, services
from portal.errors import PortalError


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command("deid")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_id", required=True, help="Policy id (built-in or saved).")
@click.option("--fields", default=None, help="JSONL only: comma-separated dotted paths (default: every string).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: stdout). Written to a temporary file, renamed when complete.")
@click.option("--format", "fmt", type=click.Choice(["auto", "lines", "jsonl"]), default="auto",
              show_default=True, help="auto: .jsonl files are JSONL, anything else is lines of text.")
@click.option("--seed", type=int, default=None, help="Same file, policy and seed → same output.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help=f"Worker processes (default: every core for a file of {parallel.MIN_BYTES >> 20} MB or more, "
                   "else 1). Any number gives the same output.")
@with_appcontext  # for app.test_cli_runner(), which pushes no context for plain click commands
def deid_command(file: Path, policy_id: str, fields: str | None, output: Path | None, fmt: str,
                 seed: int | None, jobs: int | None):
    """De-identify FILE (.txt line by line, or the string fields of a .jsonl)."""
    if fmt == "auto":
        fmt = "jsonl" if file.suffix.lower() == ".jsonl" else "lines"
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    if wanted is not None and fmt != "jsonl":
        _fail("--fields applies to JSONL files only")
    if output is not None and output.resolve() == file.resolve():
        _fail("--output must not be the input file")
    try:
        engine = services.deidentifier(policy_id)
    except PortalError as error:
        _fail(error.message)
    jobs = parallel.workers(file.stat().st_size, jobs)

    def run(target) -> dict:
        # lines split as a file opened with newline="" splits them: each keeps its own ending
        return parallel.deidentify(engine, source, target, fmt, fields=wanted, seed=seed, jobs=jobs,
                                  mapping=False)[0]

    with open(file, "rb") as source:
        try:
            counts = run(sys.stdout.buffer) if output is None else _write_atomically(output, run)
        except (ValueError, UnicodeDecodeError) as error:
            _fail(f"{file}: {error}")
    _report(counts)


def _write_atomically(output: Path, write) -> dict:
    """Run `write(handle)` into a temporary sibling and rename it over `output` on success,
    so a failure halfway (a bad JSON line) never leaves a half-written file behind."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        with open(partial, "wb") as target:
            counts = write(target)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _report(counts: dict) -> None:
    unit = "records" if "records" in counts else "lines"
    click.echo(f"{unit}: {counts[unit]}", err=True)
    for kind, count in sorted(counts["entities"].items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"{kind}: {count}", err=True)
    for path, found in sorted(counts.get("fields", {}).items()):
        click.echo(f"  {path}: " + ", ".join(f"{k} {n}" for k, n in sorted(found.items())), err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(deid_command)
