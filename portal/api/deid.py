"""De-identification (seed-api.md: POST /v1/deidentify:test), re-identification, policies.

`mapping` is `null` unless `options.return_mapping` is true, so the response always has the
same keys. A policy whose YAML does not validate is a 422 in FastAPI's shape, one entry per
problem: `{"loc": ["body", "yaml", "entities", "PHONE", "operator"], "msg": "entities.PHONE
.operator: unknown operator …", "type": "policy"}` (a YAML syntax error has `loc` `["body",
"yaml"]` and its line and column in `msg`).
"""
import re

from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Int64, Timestamp
from portal.api.spec import RequestInvalid, operation
from portal.deid import services

TOO_LARGE = {413: "More texts or characters than PORTAL_DEID_MAX_TEXTS / PORTAL_DEID_MAX_CHARS allow "
                  "(the detail names the setting)"}
NOT_FOUND = {404: "No such policy"}
READ_ONLY = {409: "The policy is built in and read-only"}
# the location a PolicyError message starts with: `entities.PHONE.keep_first: …`, `allow[0]: …`
_LOCATION = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\])*(?:\.[\w-]+(?:\[\d+\])*)*): ")


class DeidOptions(BaseModel):
    return_mapping: bool = Field(False, description="also return replacement → original for re-identification")
    seed: Int64 | None = Field(None, description="same texts, policy and seed give the same output")


class DeidRequest(BaseModel):
    policy_id: str = Field("default", examples=["default"])
    text: list[str] = Field(examples=[["客户手机号 13812345678"]])
    options: DeidOptions = Field(default_factory=DeidOptions)


class Entity(BaseModel):
    type: str = Field(examples=["PHONE"])
    start: int = Field(description="offset into the original text (code points)")
    end: int
    replacement: str


class DeidResultItem(BaseModel):
    text: str
    entities: list[Entity]


class DeidResponse(BaseModel):
    policy_id: str
    results: list[DeidResultItem] = Field(description="one per input text, in order")
    mapping: dict[str, str] | None = Field(description="null unless options.return_mapping")


class ReidRequest(BaseModel):
    text: list[str]
    mapping: dict[str, str]


class ReidResponse(BaseModel):
    text: list[str]


class PolicySummary(BaseModel):
    id: str
    description: str
    builtin: bool = Field(description="built-in policies are read-only")
    entities: list[str] = Field(description="entity types the policy replaces")
    created_at: Timestamp | None
    updated_at: Timestamp | None

    @classmethod
    def of(cls, info: services.PolicyInfo):
        return cls(**{name: getattr(info, name) for name in cls.model_fields})


class PolicyDetail(PolicySummary):
    yaml: str


class PolicyPut(BaseModel):
    yaml: str = Field(examples=["extends: default\nentities:\n  PHONE: {operator: mask, keep_first: 3}\n"])


class PolicyDeleted(BaseModel):
    detail: str
    policy_id: str


def policy_errors(errors: list[str]) -> list[dict]:
    """PolicyError messages as FastAPI-style entries, located inside `body.yaml`."""
    entries = []
    for message in errors:
        match = _LOCATION.match(message)
        parts = re.findall(r"[^.\[\]]+", match.group(1)) if match else []
        loc = [int(p) if p.isdigit() else p for p in parts]
        entries.append({"loc": ["body", "yaml", *loc], "msg": message, "type": "policy"})
    return entries


def _run(body: DeidRequest) -> DeidResponse:
    result = services.deidentify(body.policy_id, body.text, body.options.seed, body.options.return_mapping)
    return DeidResponse(policy_id=body.policy_id, results=result.results, mapping=result.mapping)


@operation(bp, "POST", "/v1/deidentify:test", summary="De-identify texts (try a policy)", tag="deid",
           body=DeidRequest, response=DeidResponse, role="viewer", errors={**NOT_FOUND, **TOO_LARGE})
def deidentify_test(body: DeidRequest):
    """The original service's path. Tags are numbered per call and shared by its texts."""
    return _run(body)


@operation(bp, "POST", "/v1/deidentify", summary="De-identify texts", tag="deid", body=DeidRequest,
           response=DeidResponse, role="viewer", errors={**NOT_FOUND, **TOO_LARGE})
def deidentify(body: DeidRequest):
    """Same as `/v1/deidentify:test`, for production clients; counts (never content) are logged."""
    return _run(body)


@operation(bp, "POST", "/v1/reidentify", summary="Restore originals from a mapping", tag="deid",
           body=ReidRequest, response=ReidResponse, role="operator", errors=TOO_LARGE)
def reidentify(body: ReidRequest):
    """Replaces every mapping key (a tag or pseudonym) by its original, longest key first."""
    return ReidResponse(text=services.reidentify(body.text, body.mapping))


@operation(bp, "GET", "/v1/deid-policies", summary="De-identification policies", tag="deid",
           response=list[PolicySummary])
def list_deid_policies():
    return [PolicySummary.of(p) for p in services.list_policies()]


@operation(bp, "GET", "/v1/deid-policies/<policy_id>", summary="A policy with its YAML", tag="deid",
           response=PolicyDetail, errors=NOT_FOUND)
def get_deid_policy(policy_id: str):
    return PolicyDetail.of(services.get_policy(policy_id))


@operation(bp, "PUT", "/v1/deid-policies/<policy_id>", summary="Create or replace a policy", tag="deid",
           body=PolicyPut, response=PolicyDetail,
           errors={400: "The id is not a slug", **READ_ONLY})
def put_deid_policy(policy_id: str, body: PolicyPut):
    """Validates the YAML first; on any problem nothing is stored and every problem is listed."""
    try:
        info, _created = services.save_policy(policy_id, body.yaml, by=current_user.id)
    except services.PolicyInvalid as error:
        raise RequestInvalid(policy_errors(error.errors)) from None
    return PolicyDetail.of(info)


@operation(bp, "DELETE", "/v1/deid-policies/<policy_id>", summary="Delete a policy", tag="deid",
           response=PolicyDeleted, errors={**NOT_FOUND, **READ_ONLY})
def delete_deid_policy(policy_id: str):
    services.delete_policy(policy_id)
    return PolicyDeleted(detail="policy deleted", policy_id=policy_id)
