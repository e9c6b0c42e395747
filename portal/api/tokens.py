"""API tokens of the caller (every role manages its own)."""
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Timestamp
from portal.api.spec import operation
from portal.auth import services


class TokenCreate(BaseModel):
    label: str = Field("", max_length=100, description="What the token is for")


class TokenInfo(BaseModel):
    id: int
    label: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, token) -> "TokenInfo":
        return cls(id=token.id, label=token.label, prefix=token.prefix, created_at=token.created_at,
                   last_used_at=token.last_used_at, revoked_at=token.revoked_at)


class TokenCreated(TokenInfo):
    token: str = Field(description="The token itself; shown only in this response")


@operation(bp, "GET", "/v1/tokens", summary="List my API tokens", tag="auth", response=list[TokenInfo])
def list_tokens():
    return [TokenInfo.of(t) for t in services.list_tokens(current_user)]


@operation(bp, "POST", "/v1/tokens", summary="Create an API token", tag="auth", body=TokenCreate,
           response=TokenCreated, status=201, role="viewer")
def create_token(body: TokenCreate):
    token, plain = services.create_token(current_user, body.label)
    return TokenCreated(**TokenInfo.of(token).model_dump(), token=plain)


@operation(bp, "DELETE", "/v1/tokens/<int:token_id>", summary="Revoke an API token", tag="auth",
           response=TokenInfo, role="viewer", errors={404: "No such token of yours"})
def revoke_token(token_id: int):
    return TokenInfo.of(services.revoke_token(current_user, token_id))
