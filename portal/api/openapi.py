"""Builds the OpenAPI 3.1 document from the operations registered with `spec.operation`."""
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from portal.api.spec import REGISTRY, Operation, openapi_path

REF = "#/components/schemas/{model}"
ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
VALIDATION_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "array", "items": {
        "type": "object", "required": ["loc", "msg", "type"],
        "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                       "msg": {"type": "string"}, "type": {"type": "string"}}}}},
}
STANDARD_ERRORS = {401: "Not authenticated (no session and no valid Bearer token)",
                   403: "Your role does not allow this"}


def _models(op: Operation) -> list[type[BaseModel]]:
    found = [m for m in (op.body, op.query) if m is not None]
    response = op.response
    for arg in getattr(response, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            found.append(arg)
    if isinstance(response, type) and issubclass(response, BaseModel):
        found.append(response)
    return found


def _response_schema(response) -> dict:
    if response is None:
        return {"type": "object"}
    if isinstance(response, type) and issubclass(response, BaseModel):
        return {"$ref": REF.format(model=response.__name__)}
    return TypeAdapter(response).json_schema(ref_template=REF, mode="serialization")


def _operation(op: Operation, path_params: list[dict]) -> dict:
    params = list(path_params)
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        params += [{"name": name, "in": "query", "required": name in required, "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {})}
                   for name, prop in schema.get("properties", {}).items()]
    responses = {str(op.status): {"description": "Success", "content": {
        "application/json": {"schema": _response_schema(op.response)}}}}
    for code, text in {**STANDARD_ERRORS, **op.errors}.items():
        responses[str(code)] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
    if op.body is not None or op.query is not None or op.request_body is not None:
        responses["422"] = {"description": "Validation error", "content": {
            "application/json": {"schema": {"$ref": REF.format(model="HTTPValidationError")}}}}
    doc = {"summary": op.summary, "operationId": op.endpoint.replace(".", "_"), "tags": [op.tag],
           "parameters": params, "responses": responses}
    if op.description:
        doc["description"] = op.description
    if op.role:
        doc["description"] = (doc.get("description", "") + f"\n\nRequires the `{op.role}` role.").strip()
    if op.body is not None:
        doc["requestBody"] = {"required": op.body_required, "content": {
            "application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}}}
    if op.request_body is not None:
        doc["requestBody"] = op.request_body
    return doc


def build(title: str, version: str) -> dict:
    models = {m for op in REGISTRY for m in _models(op)}
    _, defs = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                 ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["HTTPValidationError"] = VALIDATION_ERROR
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        path, params = openapi_path(op.rule)
        paths.setdefault(path, {})[op.method] = _operation(op, params)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "JSON API of the LLM Training Portal. Authenticate with "
                                "`Authorization: Bearer <token>` (create tokens under API tokens)."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
        "security": [{"bearerAuth": []}, {"session": []}],
    }
