"""Registered files load in LLaMA-Factory: every example reaches training with all its columns.

Each file is uploaded and registered through the API, then read back from the training dir
by the copy of LLaMA-Factory ff6d4d1's loading rules in tests/fixtures/llamafactory/upstream.py.
"""
import json
from pathlib import Path

import pytest

from portal.datasets.validate import validate
from tests.datasets.conftest import make_dataset, upload
from tests.fixtures.llamafactory import upstream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory"


def jsonl(*records) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def registered(app, client, headers, data: bytes, filename="train.jsonl") -> tuple[dict, list[dict]]:
    dataset_id = make_dataset(client, headers, name="mine")
    body = upload(client, headers, dataset_id, data, filename=filename).get_json()
    assert body["status"] == "ready", body
    response = client.post(f"/v1/datasets/{dataset_id}/files/{body['upload_id']}/register", headers=headers)
    assert response.status_code == 200, response.get_json()
    root = app.config["PORTAL"].training_dir / "datasets"
    return response.get_json()["entry"], upstream.load(root, "mine")


def test_upstream_alpaca_demo_loads_as_it_does_upstream(app, client, token):
    entry, examples = registered(app, client, token["operator"], (FIXTURES / "alpaca_en_demo.json").read_bytes(),
                                 filename="alpaca_en_demo.json")
    demo = json.loads((FIXTURES / "alpaca_en_demo.json").read_text())
    assert entry["columns"] == {"prompt": "instruction", "query": "input", "response": "output"}
    assert [e["_response"][0]["content"] for e in examples] == [r["output"] for r in demo]
    assert all(upstream.trainable(e) for e in examples)


def test_alpaca_without_input_loads_and_its_statistics_do_not_count_input(app, client, token):
    data = jsonl({"instruction": "写一首诗", "output": "春眠不觉晓"}, {"instruction": "hi", "output": "hello"})
    entry, examples = registered(app, client, token["operator"], data)
    assert "query" not in entry["columns"]  # upstream: KeyError: 'input' when it is named
    assert [e["_prompt"][-1]["content"] for e in examples] == ["写一首诗", "hi"]
    stats = validate(app.config["PORTAL"].training_dir / "datasets" / entry["file_name"]).stats  # as stored
    assert "input" not in stats["fields"] and "input" not in stats["columns"]


def test_alpaca_history_and_system_reach_the_examples(app, client, token):
    data = jsonl({"instruction": "and then?", "input": "", "output": "the end", "system": "be brief",
                  "history": [["tell a story", "once upon a time"]]},
                 {"instruction": "hi", "output": "hello"})
    entry, examples = registered(app, client, token["operator"], data)
    assert entry["columns"]["history"] == "history" and entry["columns"]["system"] == "system"
    assert [m["content"] for m in examples[0]["_prompt"]] == ["tell a story", "once upon a time", "and then?"]
    assert examples[0]["_system"] == "be brief"
    assert all(upstream.trainable(e) for e in examples)


def test_upstream_sharegpt_tool_demo_keeps_its_tools_and_system(app, client, token):
    demo = json.loads((FIXTURES / "glaive_toolcall_en_demo.json").read_text())
    demo[0]["system"] = "You are a cook."
    entry, examples = registered(app, client, token["operator"], jsonl(*demo))
    assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
    assert [e["_tools"] for e in examples] == [r["tools"] for r in demo]
    assert examples[0]["_system"] == "You are a cook."
    assert all(upstream.trainable(e) for e in examples)


@pytest.mark.parametrize("user, assistant", [("human", "assistant"), ("user", "gpt"), ("user", "assistant")])
def test_sharegpt_files_using_other_role_words_are_registered_with_those_words(app, client, token, user, assistant):
    data = jsonl({"conversations": [{"from": user, "value": "hi"}, {"from": assistant, "value": "hello"}]},
                 {"conversations": [{"from": "system", "value": "s"}, {"from": user, "value": "q"},
                                    {"from": assistant, "value": "a"}]})
    entry, examples = registered(app, client, token["operator"], data)
    assert (entry["tags"]["user_tag"], entry["tags"]["assistant_tag"]) == (user, assistant)
    assert len(examples) == 2 and all(upstream.trainable(e) for e in examples)


def test_sharegpt_file_mixing_role_words_is_refused_at_the_line(app, client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="mine")
    data = jsonl({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
                 {"conversations": [{"from": "user", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
                 {"conversations": [{"from": "human", "value": "hi"}, {"from": "assistant", "value": "yo"}]})
    body = upload(client, headers, dataset_id, data).get_json()
    assert body["status"] == "invalid"
    report = client.get(f"/v1/datasets/{dataset_id}/files/{body['upload_id']}", headers=headers).get_json()["report"]
    assert [(e["line"], e["message"].split(":")[0]) for e in report["errors"]] == [
        (2, "conversations[0]"), (3, "conversations[1]")]
    assert "where this file uses 'human'" in report["errors"][0]["message"]


def test_an_upper_case_suffix_is_stored_lower_case_so_the_loader_knows_it(app, client, token):
    data = jsonl({"instruction": "q", "output": "a"})
    entry, examples = registered(app, client, token["operator"], data, filename="Train.JSONL")
    assert entry["file_name"].endswith("_Train.jsonl")
    assert len(examples) == 1


def test_openai_tools_as_a_list_stay_in_the_file_but_are_not_named(app, client, token):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    data = jsonl({"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": "sunny"}],
                  "tools": tools})
    entry, examples = registered(app, client, token["operator"], data)
    assert entry["columns"] == {"messages": "messages"}  # upstream would json.loads a list and fail
    assert examples[0]["_tools"] == "" and upstream.trainable(examples[0])
