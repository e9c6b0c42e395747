"""Dataset pages: list and search, create, the dataset page with its upload, a file's report and preview."""
import re

from tests.datasets.conftest import ALPACA, make_dataset, upload


def test_list_and_live_search(client, auth, token):
    make_dataset(client, token["operator"], name="alpha", description="first")
    make_dataset(client, token["operator"], name="beta")
    auth.login("viewer")
    page = client.get("/ui/datasets/").get_data(as_text=True)
    assert "alpha" in page and "beta" in page and "New dataset" not in page
    fragment = client.get("/ui/datasets/?q=alp", headers={"HX-Request": "true", "HX-Target": "dataset-rows"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="dataset-rows"') and "alpha" in body and "beta" not in body


def test_create_in_the_ui_and_errors_in_the_form(client, auth, users):
    auth.login("operator")
    assert "Create dataset" in client.get("/ui/datasets/new").get_data(as_text=True)
    bad = auth.post("/ui/datasets/new", {"name": "../x", "metadata": "[1]"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "must be a JSON object" in text
    response = auth.post("/ui/datasets/new", {"name": "from-ui", "task_type": "sft", "metadata": '{"lang": "zh"}'})
    assert response.status_code == 302
    shown = client.get(response.location).get_data(as_text=True)
    assert "from-ui" in shown and "lang=zh" in shown and 'id="dropzone"' in shown
    assert "/static/js/upload.js" in shown and "<script>" not in shown


def test_dataset_page_lists_files_with_status_and_register_button(client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="pagey")
    good = upload(client, token["operator"], dataset_id, ALPACA * 3).get_json()
    upload(client, token["operator"], dataset_id, b'{"instruction": "x"}\n', filename="bad.jsonl")
    auth.login("operator")
    page = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    assert good["path"] in page and "status-ready" in page and "status-invalid" in page
    assert "1 bad record<" in page and page.count(">Register</button>") == 1
    fragment = client.get(f"/ui/datasets/{dataset_id}", headers={"HX-Request": "true", "HX-Target": "dataset-files"})
    assert '<div id="dataset-files"' in fragment.get_data(as_text=True)


def test_viewer_sees_no_upload_and_cannot_change(client, auth, token):
    dataset_id = make_dataset(client, token["operator"])
    auth.login("viewer")
    page = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    assert 'id="dropzone"' not in page and "Delete" not in page
    assert auth.post(f"/ui/datasets/{dataset_id}/delete").status_code == 403


def test_file_page_shows_report_preview_pages_and_registers(app, client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="filey")
    lines = [b'{"instruction": "q%d", "output": "a%d"}\n' % (i, i) for i in range(30)]
    good = upload(client, token["operator"], dataset_id, b"".join(lines)).get_json()
    auth.login("operator")
    url = f"/ui/datasets/{dataset_id}/files/{good['upload_id']}"
    page = client.get(url).get_data(as_text=True)
    assert "alpaca" in page and "q0" in page and "q19" in page and "q20" not in page
    more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', page).group(1).replace("&amp;", "&")
    fragment = client.get(more, headers={"HX-Request": "true", "HX-Target": "preview-more"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<tr") and "q20" in fragment and "q29" in fragment
    response = auth.post(f"/ui/datasets/{dataset_id}/files/{good['upload_id']}/register", {"name": "filey_sft"},
                         headers={"Referer": url})
    assert response.status_code == 302
    shown = client.get(url).get_data(as_text=True)
    assert "Registered as &#39;filey_sft&#39;" in shown and "dataset_info.json: <code>filey_sft</code>" in shown


def test_invalid_file_page_lists_problems(client, auth, token):
    dataset_id = make_dataset(client, token["operator"])
    bad = upload(client, token["operator"], dataset_id, ALPACA + b'{"instruction": "x"}\nnot json\n').get_json()
    auth.login("viewer")
    page = client.get(f"/ui/datasets/{dataset_id}/files/{bad['upload_id']}").get_data(as_text=True)
    assert "line 2</span> missing required field &#39;output&#39;" in page
    assert "line 3</span> not valid JSON" in page and "Register in" not in page
    chinese = client.get(f"/ui/datasets/{dataset_id}/files/{bad['upload_id']}", headers={"Accept-Language": "zh-CN"})
    assert "缺少必填字段 &#39;output&#39;" in chinese.get_data(as_text=True)


def test_edit_links_a_config_and_delete_removes_the_dataset(app, client, auth, token):
    with app.app_context():
        from portal.configs import services as configs
        configs.save_config("sft", "model_name_or_path: qwen\n", filename="sft.yaml")
    dataset_id = make_dataset(client, token["operator"], name="editable")
    auth.login("operator")
    edit = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    assert '<option value="sft">sft</option>' in edit
    auth.post(f"/ui/datasets/{dataset_id}/edit", {"train_config": "sft", "description": "linked"})
    shown = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    assert "linked" in shown and "/ui/configs/sft" in shown
    response = auth.post(f"/ui/datasets/{dataset_id}/delete")
    listing = client.get("/ui/datasets/").get_data(as_text=True)
    assert response.status_code == 302 and "Dataset editable and its files deleted." in listing
    assert f"/ui/datasets/{dataset_id}" not in listing


def test_project_form_offers_uploaded_files(client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="forproj")
    body = upload(client, token["operator"], dataset_id, ALPACA).get_json()
    auth.login("operator")
    page = client.get("/ui/projects/new").get_data(as_text=True)
    assert f'<option value="{body["path"]}">' in page
