"""Start-command templates: each placeholder fills one argv element, never a shell string."""
import shlex
import string

from portal.errors import Invalid

PLACEHOLDERS = ("config", "dataset", "output_dir", "run_id", "config_path", "dataset_path")


def parse_template(template: str) -> list[str]:
    """Split a template into argv tokens and check every placeholder; Invalid says what is wrong."""
    try:
        tokens = shlex.split(template or "")
    except ValueError as error:
        raise Invalid(f"start command cannot be split into arguments: {error}") from None
    if not tokens:
        raise Invalid("start command must not be empty")
    for token in tokens:
        try:
            parts = list(string.Formatter().parse(token))
        except ValueError as error:
            raise Invalid(f"start command token {token!r}: {error} (write {{{{ and }}}} for literal braces)") from None
        for _, field, spec, conv in parts:
            if field is None:
                continue
            if field not in PLACEHOLDERS or spec or conv:
                raise Invalid(f"start command: unknown placeholder {{{field}}}; "
                              f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    return tokens


def render(template: str, values: dict[str, str]) -> list[str]:
    """The argv of `template` with placeholders filled; a value never splits or reaches a shell."""
    return [token.format_map(values) for token in parse_template(template)]
