"""Pydantic types shared by the API modules."""
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, PlainSerializer

from portal.timeutil import as_utc


def _iso_z(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# UTC, written like the original service: "2024-04-12T08:50:31.027Z"
Timestamp = Annotated[datetime, AfterValidator(as_utc), PlainSerializer(_iso_z, return_type=str)]


class Detail(BaseModel):
    detail: str
