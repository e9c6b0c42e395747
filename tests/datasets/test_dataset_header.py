"""The dataset's own state beside its files' (issue 15.17) and the file page's cards (15.16)."""
from tests.datasets.conftest import ALPACA, make_dataset, upload

FILES = {"HX-Request": "true", "HX-Target": "dataset-files"}


def test_an_invalid_file_beside_a_ready_one_leaves_the_dataset_ready(client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="mixed")
    upload(client, headers, dataset_id, b'{"instruction": "x"}\n', filename="bad.jsonl")
    assert client.get(f"/v1/datasets/{dataset_id}", headers=headers).get_json()["status"] == "invalid"
    upload(client, headers, dataset_id, ALPACA * 3)
    assert client.get(f"/v1/datasets/{dataset_id}", headers=headers).get_json()["status"] == "ready"


def test_files_fragment_carries_the_header_badge_out_of_band(client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="badge")
    auth.login("operator")
    page = client.get(f"/ui/datasets/{dataset_id}").get_data(as_text=True)
    assert page.count('id="dataset-status"') == 1 and "hx-swap-oob" not in page
    upload(client, token["operator"], dataset_id, ALPACA * 3)
    fragment = client.get(f"/ui/datasets/{dataset_id}", headers=FILES).get_data(as_text=True)
    badge = fragment.split('<span id="dataset-status" hx-swap-oob="true">', 1)[1].split("</span>", 2)
    assert "status-ready" in badge[0] + badge[1] and '<div id="dataset-files"' in fragment


def test_file_page_validation_facts_pair_each_label_with_its_value(client, auth, token):
    dataset_id = make_dataset(client, token["operator"], name="facts")
    upload_id = upload(client, token["operator"], dataset_id, ALPACA * 3).get_json()["upload_id"]
    auth.login("operator")
    page = client.get(f"/ui/datasets/{dataset_id}/files/{upload_id}").get_data(as_text=True)
    facts = page.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    assert facts.count("<div") == facts.count("<dt>") == 4  # a grid cell per pair, not per dt and dd
