"""Who the caller is."""
from flask_login import current_user
from pydantic import BaseModel

from portal.api import bp
from portal.api.schemas import Timestamp
from portal.api.spec import operation


class Me(BaseModel):
    id: int
    username: str
    role: str
    created_at: Timestamp
    last_login_at: Timestamp | None


@operation(bp, "GET", "/v1/me", summary="The signed-in user or token owner", tag="auth", response=Me)
def me():
    user = current_user
    return Me(id=user.id, username=user.username, role=user.role, created_at=user.created_at,
              last_login_at=user.last_login_at)
