"""The JSON API's contract: FastAPI-shaped errors, OpenAPI from the same models, Swagger UI offline."""
from portal.api.spec import REGISTRY, openapi_path


def test_openapi_documents_every_api_route(client, token):
    doc = client.get("/openapi.json", headers=token["viewer"]).get_json()
    assert doc["openapi"].startswith("3.")
    for op in REGISTRY:
        path, _ = openapi_path(op.rule)
        assert op.method in doc["paths"][path], path
    create = doc["paths"]["/v1/tokens"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TokenCreate")
    assert "TokenCreate" in doc["components"]["schemas"]
    assert doc["paths"]["/v1/tokens/{token_id}"]["delete"]["parameters"][0]["schema"]["type"] == "integer"


def test_invalid_body_is_422_with_pydantic_errors(client, token):
    response = client.post("/v1/tokens", json={"label": "x" * 101}, headers=token["viewer"])
    assert response.status_code == 422
    detail = response.get_json()["detail"]
    assert detail[0]["loc"] == ["body", "label"] and detail[0]["type"] == "string_too_long"
    assert "msg" in detail[0]


def test_missing_json_body_is_422(client, token):
    response = client.post("/v1/tokens", data="not json", headers=token["viewer"])
    assert response.status_code == 422
    assert response.get_json()["detail"][0]["loc"] == ["body"]


def test_unknown_api_path_is_404_detail(client, token):
    response = client.get("/v1/nothing-here", headers=token["viewer"])
    assert response.status_code == 404
    assert set(response.get_json()) == {"detail"}


def test_wrong_method_is_405_detail(client, token):
    response = client.put("/v1/me", headers=token["operator"])
    assert response.status_code == 405 and "detail" in response.get_json()


def test_cookie_session_api_changes_need_the_csrf_header(client, auth, users):
    auth.login("operator")
    assert client.post("/v1/tokens", json={"label": "a"}).status_code == 400
    response = client.post("/v1/tokens", json={"label": "a"}, headers={"X-CSRFToken": auth.csrf("/ui/tokens")})
    assert response.status_code == 201


def test_docs_use_only_vendored_assets(client, auth, users):
    auth.login("viewer")
    page = client.get("/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page
    assert client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200


def test_timestamps_are_utc_iso_with_z(client, token):
    me = client.get("/v1/me", headers=token["admin"]).get_json()
    assert me["created_at"].endswith("Z") and "T" in me["created_at"]
