"""Pydantic types shared by the API modules."""
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer

from portal.routing import ID_MAX, INT64_MAX
from portal.timeutil import as_utc

# Every integer a request may carry: what a database column holds, so 2**70 is a 422, not a 500.
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
# Ids and keyset cursors.
Id = Annotated[int, Field(ge=0, le=ID_MAX)]
# What an INTEGER column holds on PostgreSQL (metric steps, stored seeds).
Int32 = Annotated[int, Field(ge=-ID_MAX - 1, le=ID_MAX)]


def _iso_z(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# UTC, written like the original service: "2024-04-12T08:50:31.027Z"
Timestamp = Annotated[datetime, AfterValidator(as_utc), PlainSerializer(_iso_z, return_type=str)]


class Detail(BaseModel):
    detail: str
