"""What every route shares: `<int:…>` bounded to what an id column holds.

Ids and numbers are INTEGER columns: 2**31 - 1 at most on PostgreSQL (SQLite takes 64 bits).
A larger id in a path used to reach the driver and fail there (OverflowError, or PostgreSQL's
"integer out of range": a 500). Bounding the converter once makes such a URL match no route
(404) on every endpoint, present and future, and the OpenAPI document says so.
"""
from flask import Flask
from werkzeug.routing import IntegerConverter

INT64_MAX = 2**63 - 1  # BIGINT columns (byte counts)
ID_MAX = 2**31 - 1  # INTEGER columns (ids, numbers, steps) on every database


class IdConverter(IntegerConverter):
    """Flask's `int` converter with `max` defaulting to the largest id a column holds."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits, min, ID_MAX if max is None else max, signed)


def init_app(app: Flask) -> None:
    """Install the converters; before any blueprint registers its rules."""
    app.url_map.converters["int"] = IdConverter
