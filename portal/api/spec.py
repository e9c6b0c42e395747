"""Typed JSON routes: pydantic validates requests, serialises responses, and documents both.

`operation(...)` registers a Flask route and an OpenAPI operation from the same pydantic
models, so the document at /openapi.json cannot drift from what the code accepts.
"""
import re
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from portal.routing import ID_MAX

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_TYPES = {"int": {"type": "integer", "format": "int32", "minimum": 0, "maximum": ID_MAX},
                "float": {"type": "number"}}


class RequestInvalid(Exception):
    """The body or query did not validate; carries FastAPI-style error entries."""

    def __init__(self, errors: list[dict]):
        super().__init__("request validation failed")
        self.errors = errors


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    role: str | None = None
    errors: dict[int, str] = field(default_factory=dict)
    description: str = ""
    # an OpenAPI requestBody for bodies the view reads itself (multipart, raw YAML), not `body`
    request_body: dict | None = None


REGISTRY: list[Operation] = []


def _errors(exc: ValidationError, where: str) -> list[dict]:
    # the offending input is left out on purpose: it may be a password or a token
    return [{"loc": [where, *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False)]


def _parse_body(model: type[BaseModel], required: bool) -> BaseModel:
    payload = request.get_json(silent=True)
    if payload is None and not required and not request.get_data():
        payload = {}
    if payload is None:
        raise RequestInvalid([{"loc": ["body"], "msg": "A JSON body is required "
                               "(Content-Type: application/json)", "type": "missing"}])
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestInvalid(_errors(exc, "body")) from None


def _parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise RequestInvalid(_errors(exc, "query")) from None


def _serialise(result, response_type, status: int):
    if isinstance(result, Response):
        return result
    if response_type is not None:
        adapter = TypeAdapter(response_type)
        result = adapter.dump_python(adapter.validate_python(result), mode="json")
    return result, status


def operation(bp: Blueprint, method: str, rule: str, *, summary: str, tag: str,
              body: type[BaseModel] | None = None, body_required: bool = True,
              query: type[BaseModel] | None = None, response: Any = None, status: int = 200, role: str | None = None,
              errors: dict[int, str] | None = None, request_body: dict | None = None):
    """Register `fn` as a JSON endpoint; it receives path args, `body=` and `query=` models."""
    def decorate(fn):
        @wraps(fn)
        def view(**path_args):
            if body is not None:
                path_args["body"] = _parse_body(body, body_required)
            if query is not None:
                path_args["query"] = _parse_query(query)
            return _serialise(fn(**path_args), response, status)

        if role:
            view._portal_role = role
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method])
        REGISTRY.append(Operation(method=method.lower(), rule=rule, endpoint=f"{bp.name}.{fn.__name__}",
                                  summary=summary, tag=tag, body=body, body_required=body_required, query=query,
                                  response=response,
                                  status=status, role=role, errors=errors or {},
                                  description=(fn.__doc__ or "").strip(), request_body=request_body))
        return view
    return decorate


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """`/v1/x/<int:id>` → (`/v1/x/{id}`, its path parameters)."""
    params = [{"name": name, "in": "path", "required": True,
               "schema": _PARAM_TYPES.get(conv, {"type": "string"})}
              for conv, name in _CONVERTER.findall(rule)]
    return _CONVERTER.sub(r"{\2}", rule), params
