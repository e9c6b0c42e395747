"""PORTAL_MAX_CONFIG_BYTES: exact on the YAML, and oversize requests refused before they are read."""
import io

import pytest

from tests.configs.conftest import put, upload

LIMIT = 4096


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_MAX_CONFIG_BYTES": "4KiB"}


def sized(size: int) -> str:
    """A valid config of exactly `size` bytes."""
    head = "model_name_or_path: m\npad: "
    return head + "x" * (size - len(head) - 1) + "\n"


def test_a_config_at_the_limit_is_accepted(client, token, training):
    assert len(sized(LIMIT).encode()) == LIMIT
    assert upload(client, token["operator"], sized(LIMIT)).status_code == 200
    assert put(client, token["operator"], "at-limit", sized(LIMIT)).status_code == 200


def test_one_byte_over_is_413_naming_the_setting(client, token, training):
    for response in (upload(client, token["operator"], sized(LIMIT + 1)),
                     put(client, token["operator"], "over", sized(LIMIT + 1)),
                     client.put("/v1/train-configs/over", headers=token["operator"],
                                json={"content": sized(LIMIT + 1)})):
        assert response.status_code == 413
        assert "PORTAL_MAX_CONFIG_BYTES" in response.get_json()["detail"]
    assert client.get("/v1/train-configs", headers=token["viewer"]).get_json()["items"] == []
    configs = training / "configs"
    assert not configs.exists() or not any(configs.iterdir())  # no file, no temporary left behind


def test_a_huge_body_is_refused_by_its_length(client, token, training):
    huge = io.BytesIO(b"a: " + b"x" * (2 * 1024 * 1024))
    response = client.put("/v1/train-config", headers=token["operator"], content_type="multipart/form-data",
                          data={"file": (huge, "big.yaml")})
    assert response.status_code == 413 and "the request is" in response.get_json()["detail"]


def test_the_editor_reports_an_oversize_config(client, auth, users, training):
    auth.login("operator")
    response = auth.post("/ui/configs/new", {"name": "big", "content": sized(LIMIT + 1)})
    assert response.status_code == 413 and "PORTAL_MAX_CONFIG_BYTES" in response.get_data(as_text=True)
    check = auth.post("/ui/configs/check", {"content": sized(LIMIT + 1)}, headers={"HX-Request": "true"})
    assert "PORTAL_MAX_CONFIG_BYTES" in check.get_data(as_text=True)
