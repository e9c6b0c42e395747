"""What every route shares: `<int:…>` bounded to a 64-bit signed integer.

A database integer column holds at most 2**63 - 1; a larger id in a path used to reach the
driver and raise OverflowError (a 500). Bounding the converter once makes such a URL match no
route (404) on every endpoint, present and future, and the OpenAPI document says so.
"""
from flask import Flask
from werkzeug.routing import IntegerConverter

INT64_MAX = 2**63 - 1


class Int64Converter(IntegerConverter):
    """Flask's `int` converter with `max` defaulting to the largest 64-bit signed integer."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits, min, INT64_MAX if max is None else max, signed)


def init_app(app: Flask) -> None:
    """Install the converters; before any blueprint registers its rules."""
    app.url_map.converters["int"] = Int64Converter
