"""Where a run's outputs are: `run.output_dir`, decided here once, when the run is queued.

Everything that reads a run's outputs (trainer_log.jsonl, artifacts, checkpoint clean-up,
`LLAMABOARD_WORKDIR`) reads `run.output_dir`; this module is the one place that decides it.
LLaMA-Factory writes to the `output_dir` of its YAML, taken from the working directory, unless
the command overrides it (`llamafactory-cli train {config} output_dir={output_dir}`:
`hparams/parser.py` merges `key=value` arguments into the YAML). So:
- the start command passes `{output_dir}`: the portal's own folder for the run (`command`);
- else the config names `output_dir`: that folder, as the executor sees it (`config`);
- else the portal's folder (`portal`), where nothing tells the program to write.
"""
import string
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal.configs import llamafactory, validate
from portal.errors import Conflict, Invalid, TooLarge
from portal.extensions import db
from portal.i18n import N_, _l
from portal.runs import command
from portal.runs.models import ACTIVE, Run
from portal.storage import resolve_under

# why a run's outputs are where they are, for its page (N_: shown in the reader's language)
SOURCES = {
    "config": N_("output_dir of the training config, from the working directory"),
    "command": N_("the portal's folder for this run, passed by the start command as {output_dir}"),
    "portal": N_("the portal's folder for this run: the config sets no output_dir and the start command passes no "
                 "{output_dir}, so the program may write elsewhere"),
}


@dataclass(frozen=True)
class Choice:
    source: str  # a key of SOURCES
    path: str | None = None  # the config's output_dir as the executor sees it; None: the portal's folder
    overwrite: bool = False  # the config sets overwrite_output_dir: another run may share the folder


def passes_output_dir(template: str) -> bool:
    return any(field == "output_dir" for token in command.parse_template(template)
               for _, field, _, _ in string.Formatter().parse(token))


def _config(config_file: str) -> dict:
    """The run's config as LLaMA-Factory reads it; {} when it cannot be read (the run will say why)."""
    settings = current_app.config["PORTAL"]
    try:
        path = resolve_under(settings.training_dir, config_file, "training_yaml_name")
        with open(path, "rb") as handle:
            raw = handle.read(settings.max_config_bytes + 1)
        return validate.load(validate.decode(raw, settings.max_config_bytes))
    except (OSError, Invalid, TooLarge):  # ConfigInvalid is an Invalid
        return {}


def choose(executor, workdir: str, template: str, config_file: str) -> Choice:
    """Where a new run of `template` in `workdir` with `config_file` will write (Invalid when the
    executor could not read there)."""
    if passes_output_dir(template):
        return Choice("command")
    data = _config(config_file)
    configured = llamafactory.output_dir(data)
    if configured is None:
        return Choice("portal")
    return Choice("config", executor.output_dir_of(workdir, configured), llamafactory.overwrites_output_dir(data))


def refuse_shared(choice: Choice, container: str | None) -> None:
    """Conflict when an active run already writes the config's output_dir (in the same place), unless
    the config allows it: two runs would mix their trainer_log.jsonl and checkpoints."""
    if choice.path is None or choice.overwrite:
        return
    same_place = Run.container.is_(None) if container is None else Run.container == container
    other = db.session.scalar(select(Run).where(Run.status.in_(ACTIVE), Run.output_dir == choice.path, same_place)
                              .order_by(Run.id).limit(1))
    if other is not None:
        raise Conflict(_l("run %(project)s #%(number)s (%(status)s) already writes to %(dir)s, the output_dir of this "
                          "config: give this config another output_dir, set overwrite_output_dir: true, or pass "
                          "output_dir={output_dir} in the start command", project=other.project.name,
                          number=other.number, status=other.status, dir=choice.path))
