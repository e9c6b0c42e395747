"""Config pages: library, line-numbered view, checked editor, upload, versions, CSRF and roles."""
import io
import re

from tests.configs.conftest import GOOD, put

HX = {"HX-Request": "true"}


def test_library_lists_configs_with_the_current_one(client, auth, token, users, training):
    auth.login("viewer")
    assert "No configs yet" in client.get("/ui/configs/").get_data(as_text=True)
    auth.logout()  # a session wins over a bearer token: change things as the operator first
    put(client, token["operator"], "sft", GOOD)
    client.post("/v1/train-configs/sft/current", headers=token["operator"])
    auth.login("viewer")
    page = client.get("/ui/configs/").get_data(as_text=True)
    assert 'href="/ui/configs/sft"' in page and '<span class="badge">current</span>' in page
    assert "Qwen/Qwen2.5-7B-Instruct" in page and "configs/sft.yaml" in page
    assert "New config" not in page  # viewers get no buttons that would be refused


def test_config_page_numbers_lines_and_shows_summary_warnings_versions(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    put(client, token["operator"], "sft", GOOD + "seed: 7\n")
    auth.login("viewer")
    page = client.get("/ui/configs/sft").get_data(as_text=True)
    assert '<pre class="numbered">' in page and '<span id="L1" class="ln">### model</span>' in page
    assert '<span id="L17" class="ln">seed: 7</span>' in page
    summary = page.index("<dt>model_name_or_path</dt>"), page.index("<dt>stage</dt>"), page.index("<dt>bf16</dt>")
    assert list(summary) == sorted(summary)  # the fixed order of the summary keys
    assert "dataset &#39;missing_set&#39; is not in datasets/dataset_info.json" in page
    assert 'href="/ui/configs/sft/versions/1"' in page and 'href="/ui/configs/sft/versions/2"' in page
    assert 'id="edit-config"' not in page
    version = client.get("/ui/configs/sft/versions/1").get_data(as_text=True)
    assert "seed: 7" not in version and '<span id="L16" class="ln">bf16: true</span>' in version
    assert client.get("/ui/configs/nope").status_code == 404


def test_create_in_the_editor_writes_the_file(client, auth, users, training):
    auth.login("operator")
    form = client.get("/ui/configs/new").get_data(as_text=True)
    assert 'hx-post="/ui/configs/check"' in form and "model_name_or_path: Qwen/Qwen2.5-7B-Instruct" in form
    response = auth.post("/ui/configs/new", {"name": "made-here", "content": "model_name_or_path: m\r\nstage: sft\r\n"})
    assert response.status_code == 302 and response.location == "/ui/configs/made-here"
    assert (training / "configs" / "made-here.yaml").read_text() == "model_name_or_path: m\nstage: sft\n"
    taken = auth.post("/ui/configs/new", {"name": "made-here", "content": "a: 1\n"})
    assert taken.status_code == 409 and "already exists" in taken.get_data(as_text=True)


def test_editor_save_with_errors_shows_them_in_place(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    auth.login("operator")
    assert "### model" in client.get("/ui/configs/sft/edit").get_data(as_text=True)
    broken = "model_name_or_path: m\nstage: sft\n  dataset: x\n"
    response = auth.post("/ui/configs/sft/edit", {"content": broken})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="config-check"' in body
    assert "line 3, column 10: mapping values are not allowed here" in body
    chinese = auth.post("/ui/configs/sft/edit", {"content": broken}, headers={"Accept-Language": "zh-CN"})
    assert "此处不能出现冒号" in chinese.get_data(as_text=True)  # PyYAML's words explained in the reader's language
    assert "  dataset: x" in body and 'aria-invalid="true"' in body  # the text stays in the editor
    assert client.get("/v1/train-configs/sft", headers=token["viewer"]).get_json()["version"] == 1
    saved = auth.post("/ui/configs/sft/edit", {"content": GOOD + "seed: 1\n"})
    assert saved.status_code == 302
    assert client.get("/v1/train-configs/sft", headers=token["viewer"]).get_json()["version"] == 2


def test_live_check_returns_problems_or_summary(client, auth, users, training):
    auth.login("operator")
    bad = auth.post("/ui/configs/check", {"content": "a: 1\nb: [1, 2\nc: 3\n"}, headers=HX)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200 and body.lstrip().startswith('<div id="config-check"') and "<html" not in body
    assert "line 3, column 2" in body and "c: 3\n ^" in body  # the line, and a caret under the column
    good = auth.post("/ui/configs/check", {"content": GOOD}, headers=HX).get_data(as_text=True)
    assert "✓ Valid YAML mapping with warnings" in good and "<dt>learning_rate</dt><dd>0.0001</dd>" in good
    assert "missing_set" in good
    name = auth.post("/ui/configs/check", {"content": GOOD, "name": "Not A Slug"}, headers=HX).get_data(as_text=True)
    assert "slug" in name


def test_changes_need_the_csrf_token(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    auth.login("operator")
    assert client.post("/ui/configs/new", data={"name": "x", "content": "a: 1\n"}).status_code == 400
    assert client.post("/ui/configs/sft/edit", data={"content": "a: 1\n"}).status_code == 400
    assert client.post("/ui/configs/sft/delete").status_code == 400
    assert client.get("/v1/train-configs/sft", headers=token["viewer"]).get_json()["version"] == 1


def test_upload_page(client, auth, users, training):
    auth.login("operator")
    assert 'enctype="multipart/form-data"' in client.get("/ui/configs/upload").get_data(as_text=True)
    response = auth.post("/ui/configs/upload", {"file": (io.BytesIO(GOOD.encode()), "LoRA SFT.yml"),
                                                "make_current": "y"}, content_type="multipart/form-data")
    assert response.status_code == 302 and response.location == "/ui/configs/lora-sft"
    assert (training / "configs" / "lora-sft.yaml").read_text() == GOOD
    assert "current</span>" in client.get("/ui/configs/lora-sft").get_data(as_text=True)
    wrong = auth.post("/ui/configs/upload", {"file": (io.BytesIO(b"a: 1\n"), "a.json")},
                      content_type="multipart/form-data")
    assert wrong.status_code == 422 and "only .yaml or .yml" in wrong.get_data(as_text=True)
    broken = auth.post("/ui/configs/upload", {"file": (io.BytesIO(b"- a\n"), "b.yaml")},
                       content_type="multipart/form-data")
    assert broken.status_code == 422 and "is a list" in broken.get_data(as_text=True)
    missing = auth.post("/ui/configs/upload", {}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose a file" in missing.get_data(as_text=True)


def test_restore_set_current_and_delete_buttons(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    put(client, token["operator"], "sft", GOOD + "seed: 2\n")
    auth.login("operator")
    page = client.get("/ui/configs/sft").get_data(as_text=True)
    assert 'id="make-current"' in page and 'id="edit-config"' in page
    assert 'id="restore-version"' in client.get("/ui/configs/sft/versions/1").get_data(as_text=True)
    assert auth.post("/ui/configs/sft/versions/1/restore").location == "/ui/configs/sft"
    assert (training / "configs" / "sft.yaml").read_text() == GOOD
    assert auth.post("/ui/configs/sft/current").status_code == 302
    assert client.get("/v1/train-config", headers=token["viewer"]).get_json()["name"] == "sft"
    assert auth.post("/ui/configs/sft/delete").location == "/ui/configs/"
    assert not (training / "configs" / "sft.yaml").exists()


def test_viewer_is_refused_every_change(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    auth.login("viewer")
    for path, data in [("/ui/configs/new", {"name": "v", "content": "a: 1\n"}),
                       ("/ui/configs/sft/edit", {"content": "a: 1\n"}), ("/ui/configs/sft/delete", {}),
                       ("/ui/configs/sft/current", {}), ("/ui/configs/sft/versions/1/restore", {}),
                       ("/ui/configs/check", {"content": "a: 1\n"})]:
        assert auth.post(path, data).status_code == 403, path
    assert client.get("/v1/train-configs/sft", headers=token["viewer"]).get_json()["version"] == 1


def test_project_form_offers_library_configs(client, auth, token, users, training):
    put(client, token["operator"], "offered", GOOD)
    auth.login("operator")
    page = client.get("/ui/projects/new").get_data(as_text=True)
    options = re.search(r'<datalist id="config-files">(.*?)</datalist>', page, re.S).group(1)
    assert '<option value="configs/offered.yaml">' in options


def test_raw_download(client, auth, token, users, training):
    put(client, token["operator"], "sft", GOOD)
    auth.login("viewer")
    response = client.get("/ui/configs/sft/raw")
    assert response.get_data(as_text=True) == GOOD and response.mimetype == "text/plain"
