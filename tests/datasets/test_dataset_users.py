"""Deleting a dataset says which projects and configs use it (issue 15.25)."""
from tests.datasets.conftest import ALPACA, make_dataset, upload


def test_delete_confirm_and_flash_name_the_projects_and_configs_using_it(client, auth, token):
    h = token["operator"]
    dataset_id = make_dataset(client, h, name="shared")
    item = upload(client, h, dataset_id, ALPACA * 3).get_json()
    assert client.post(f"/v1/datasets/{dataset_id}/files/{item['upload_id']}/register", json={"name": "shared_sft"},
                       headers=h).status_code == 200
    assert client.post("/projects", json={"name": "uses-it", "dataset_name": item["path"]}, headers=h).status_code == 200
    client.post("/projects", json={"name": "other", "dataset_name": "datasets/elsewhere.jsonl"}, headers=h)
    for name, yaml in (("sft", "dataset: alpaca_en, shared_sft\n"), ("unrelated", "dataset: alpaca_en\n")):
        assert client.put(f"/v1/train-configs/{name}", data=yaml, headers={**h, "Content-Type": "text/plain"}
                          ).status_code in (200, 201)
    auth.login("operator")
    page = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    users = page.split('id="dataset-users">', 1)[1].split("</p>", 1)[0]
    assert "uses-it" in users and "sft" in users and "other" not in users and "unrelated" not in users
    done = client.post(f"/ui/datasets/{dataset_id}/delete", data={"csrf_token": auth.csrf("/ui/tokens")},
                       follow_redirects=True).get_data(as_text=True)
    assert "flash-warning" in done and "projects uses-it; configs sft." in done


def test_an_unused_dataset_says_so(client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="alone")
    auth.login("operator")
    assert "No project or config names it." in client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
