"""Validation of each format, good and broken: detection, line numbers, statistics, memory."""
import json
import tracemalloc

import pytest

from portal.datasets.validate import validate


def jsonl(tmp_path, records, name="d.jsonl") -> "Path":  # noqa: F821 - pathlib in the annotation only
    path = tmp_path / name
    path.write_bytes(b"".join(r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() + b"\n"
                              for r in records))
    return path


def errors(result) -> list[tuple[int, str]]:
    return [(e["line"], e["message"]) for e in result.report["errors"]]


def test_alpaca_good_with_stats(tmp_path):
    result = validate(jsonl(tmp_path, [{"instruction": "写一首诗", "input": "", "output": "春眠不觉晓"},
                                       {"instruction": "hi", "input": "x", "output": "hello", "system": "be kind",
                                        "history": [["a", "b"]]}]))
    assert (result.status, result.format, result.records) == ("ready", "alpaca", 2)
    assert result.stats["fields"]["instruction"] == {"avg": 3.0, "max": 4, "present": 2}
    assert result.stats["fields"]["system"] == {"avg": 7.0, "max": 7, "present": 1}


def test_alpaca_broken_records_are_reported_with_line_numbers(tmp_path):
    result = validate(jsonl(tmp_path, [
        {"instruction": "ok", "output": "fine"},
        {"instruction": "no output"},
        {"instruction": "  ", "output": "blank instruction"},
        b'{"instruction": "cut',
        b"\n",
        b'{"instruction": "bad \xff byte", "output": "x"}\n',
        [1, 2],
        {"instruction": "h", "output": "o", "history": [["only one"]]},
        {"instruction": 3, "output": "o"},
        b"\n",
        {"instruction": "ok", "output": "fine"},
    ]))
    assert result.status == "invalid" and result.records == 2 and result.report["bad_records"] == 7
    found = dict(errors(result))
    assert found[2] == "missing required field 'output'"
    assert found[3] == "empty required field 'instruction'"
    assert found[4].startswith("not valid JSON")
    assert found[5] == "invalid UTF-8 at byte 21 of the record"
    assert found[6] == "a record must be a JSON object, not list"
    assert "history" in found[7] and found[8] == "instruction must be a string"
    assert result.report["blank_lines"] == 1


def test_only_the_first_100_errors_are_kept_but_all_are_counted(tmp_path):
    result = validate(jsonl(tmp_path, [{"instruction": "a", "output": "b"}] + [{"instruction": "a"}] * 150))
    assert result.report["bad_records"] == 150 and len(result.report["errors"]) == 100
    assert result.report["errors"][0]["line"] == 2 and result.report["errors"][-1]["line"] == 101


def test_sharegpt_good_and_wrong_role_order(tmp_path):
    good = {"conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "hi"},
                              {"from": "gpt", "value": "hello"}]}
    result = validate(jsonl(tmp_path, [good, good]))
    assert (result.status, result.format, result.records) == ("ready", "sharegpt", 2)
    assert result.stats["fields"]["turns"]["max"] == 2 and result.stats["roles"] == ["gpt", "human"]
    broken = validate(jsonl(tmp_path, [good,
                                       {"conversations": [{"from": "gpt", "value": "first"},
                                                          {"from": "human", "value": "x"}]},
                                       {"conversations": [{"from": "human", "value": "q"}]},
                                       {"conversations": [{"from": "human", "value": ""},
                                                          {"from": "gpt", "value": "a"}]},
                                       {"conversations": []}], "b.jsonl"))
    assert broken.status == "invalid" and broken.records == 1
    found = dict(errors(broken))
    assert "wrong role order" in found[2] and "'gpt'" in found[2]
    assert "must end with an assistant turn" in found[3]
    assert found[4] == "conversations[0]: empty value"
    assert found[5] == "conversations must be a non-empty list"


def test_openai_messages_good_and_broken(tmp_path):
    good = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                         {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"},
                         {"role": "assistant", "content": "a2"}]}
    result = validate(jsonl(tmp_path, [good]))
    assert (result.status, result.format, result.records) == ("ready", "openai", 1)
    broken = validate(jsonl(tmp_path, [{"messages": [{"role": "user", "content": "q"},
                                                     {"role": "user", "content": "again"}]}], "b.jsonl"))
    assert broken.status == "invalid" and "wrong role order" in errors(broken)[0][1]


def test_plain_text_records(tmp_path):
    result = validate(jsonl(tmp_path, [{"text": "pretraining text"}, {"text": ""}]))
    assert result.format == "text" and result.records == 1 and errors(result) == [(2, "empty required field 'text'")]


def test_unknown_format_and_empty_file_are_invalid(tmp_path):
    assert "cannot tell the format" in errors(validate(jsonl(tmp_path, [{"q": 1}])))[0][1]
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert validate(empty).status == "invalid" and errors(validate(empty)) == [(1, "the file has no records")]


def test_json_array_good_and_with_a_broken_element(tmp_path):
    records = [{"instruction": f"q{i}", "input": "[not] {a} \"bracket\"", "output": "a\\b"} for i in range(5)]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(records, indent=2))
    result = validate(path)
    assert (result.status, result.format, result.records) == ("ready", "alpaca", 5)
    text = json.dumps(records, indent=2).replace('"q3"', "q3")
    path.write_text(text)
    broken = validate(path)
    assert broken.records == 4 and broken.report["bad_records"] == 1
    (line, message), = errors(broken)
    assert message.startswith("not valid JSON")
    assert text.splitlines()[line - 1].strip() == "{" and "q3" in text.splitlines()[line]


def test_json_array_cut_short_is_reported(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[{"instruction": "a", "output": "b"}, {"instruction": "unclosed')
    result = validate(path)
    assert result.status == "invalid" and "ends inside the JSON array" in errors(result)[0][1]


def test_csv_alpaca_and_invalid_utf8(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('instruction,input,output\n"say ""hi""",,hello\nq,,\n', encoding="utf-8")
    result = validate(path)
    assert result.format == "alpaca" and result.records == 1
    assert errors(result) == [(3, "empty required field 'output'")]
    path.write_bytes(b"instruction,output\nok,fine\nbad \xff,x\n")
    assert "invalid UTF-8" in errors(validate(path))[0][1]


def test_txt_lines_and_invalid_utf8(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("第一行\n\nsecond line\r\n".encode() + b"\xfe bad\n")
    result = validate(path)
    assert result.format == "text" and result.records == 2 and errors(result) == [
        (4, "invalid UTF-8 at byte 0 of the line")]


@pytest.mark.slow
def test_validation_memory_stays_flat_on_a_large_file(tmp_path):
    line = json.dumps({"instruction": "x" * 200, "input": "", "output": "y" * 600}).encode() + b"\n"
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as out:
        for _ in range(80):
            out.write(line * 1500)  # ~ 100 MB in all
    tracemalloc.start()
    try:
        result = validate(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "ready" and result.records == 120_000
    assert peak < 48 * 2**20, peak  # about two 8 MiB blocks and their lines, whatever the file's size
