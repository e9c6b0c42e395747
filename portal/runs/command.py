"""Start-command templates: each placeholder fills one argv element, never a shell string."""
import shlex
import string

from portal.errors import Invalid
from portal.i18n import _l

PLACEHOLDERS = ("config", "dataset", "output_dir", "run_id", "config_path", "dataset_path",
                # where the run's processes meet (one host but on Slurm): for torchrun / multi-node templates
                "nodes", "gpus_per_node", "master_addr", "master_port")


def parse_template(template: str) -> list[str]:
    """Split a template into argv tokens and check every placeholder; Invalid says what is wrong."""
    try:
        tokens = shlex.split(template or "")
    except ValueError as error:
        raise Invalid(_l("start command cannot be split into arguments: %(error)s", error=error)) from None
    if not tokens:
        raise Invalid(_l("start command must not be empty"))
    for token in tokens:
        try:
            parts = list(string.Formatter().parse(token))
        except ValueError as error:
            raise Invalid(_l("start command token %(token)s: %(error)s (write {{ and }} for literal braces)",
                             token=repr(token), error=error)) from None
        for _, field, spec, conv in parts:
            if field is None:
                continue
            if field not in PLACEHOLDERS or spec or conv:
                raise Invalid(_l("start command: unknown placeholder %(field)s; use %(known)s", field="{" + field + "}",
                                 known=", ".join("{" + p + "}" for p in PLACEHOLDERS)))
    return tokens


def render(template: str, values: dict[str, str]) -> list[str]:
    """The argv of `template` with placeholders filled; a value never splits or reaches a shell."""
    return [token.format_map(values) for token in parse_template(template)]
