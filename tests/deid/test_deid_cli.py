"""`flask deid FILE --policy ID`: text and JSONL files, counts on stderr, output files."""
import json
import os
import subprocess
import sys

from portal import ROOT


def test_text_file_line_by_line_to_stdout(runner, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("客户手机号 13812345678\r\n无\n邮箱 a@b.cn 再打 13812345678\n", encoding="utf-8")
    result = runner.invoke(args=["deid", str(source), "--policy", "default"])
    assert result.exit_code == 0, result.output
    expected = "客户手机号 <PHONE_1>\r\n无\n邮箱 <EMAIL_1> 再打 <PHONE_1>\n"  # one document; line endings kept
    assert result.stdout_bytes.decode() == expected  # (result.stdout would turn \r\n into \n)
    assert result.stderr.splitlines() == ["lines: 3", "PHONE: 2", "EMAIL: 1"]


def test_jsonl_named_fields_to_an_output_file(runner, tmp_path):
    source, out = tmp_path / "chats.jsonl", tmp_path / "clean.jsonl"
    records = [{"instruction": "call 13812345678", "output": "mail a@b.cn", "id": "13812345678"},
               {"messages": [{"role": "user", "content": "我的手机 13912345678"}]}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(args=["deid", str(source), "--policy", "mask",
                                 "--fields", "instruction,messages.content", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    first, second = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert first == {"instruction": "call 138****5678", "output": "mail a@b.cn", "id": "13812345678"}
    assert second["messages"][0]["content"] == "我的手机 139****5678"
    assert result.stderr.splitlines() == ["records: 2", "PHONE: 2", "  instruction: PHONE 1",
                                          "  messages.content: PHONE 1"]


def test_jobs_write_the_same_bytes_as_one_process(runner, tmp_path):
    source = tmp_path / "big.txt"  # two chunks and more: values recur across them
    source.write_text("".join(f"客户{i} 手机 1{3 + i % 7}{i * 7919 % 10**9:09d}，邮箱 u{i % 900}@b.cn\r\n"
                              for i in range(40000)), encoding="utf-8")
    one = runner.invoke(args=["deid", str(source), "--policy", "default", "--jobs", "1"])
    two = runner.invoke(args=["deid", str(source), "--policy", "default", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 0, two.output
    assert two.stdout_bytes == one.stdout_bytes and b"<EMAIL_900>" in one.stdout_bytes
    assert two.stderr == one.stderr and "PHONE: 40000" in one.stderr


def test_saved_policy_and_bad_input(runner, app, client, token, tmp_path):
    client.put("/v1/deid-policies/phones-only", json={"yaml": "entities:\n  PHONE: redact\n"},
               headers=token["operator"])
    source = tmp_path / "a.txt"
    source.write_text("x 13812345678 a@b.cn\n", encoding="utf-8")
    assert runner.invoke(args=["deid", str(source), "--policy", "phones-only"]).stdout == "x  a@b.cn\n"
    missing = runner.invoke(args=["deid", str(source), "--policy", "nope"])
    assert missing.exit_code == 2 and "policy 'nope' not found" in missing.stderr
    fields = runner.invoke(args=["deid", str(source), "--policy", "default", "--fields", "text"])
    assert fields.exit_code == 2 and "JSONL files only" in fields.stderr


def test_broken_jsonl_names_the_line_and_leaves_no_output(runner, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    source, out = folder / "bad.jsonl", folder / "out.jsonl"
    source.write_text('{"text": "13812345678"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(args=["deid", str(source), "--policy", "default", "--output", str(out)])
    assert result.exit_code == 2 and "line 2: not valid JSON" in result.stderr
    assert list(folder.iterdir()) == [source]


def test_the_real_command(tmp_path):
    source = tmp_path / "one.txt"
    source.write_text("客户手机号 13812345678\n", encoding="utf-8")
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "deid", str(source), "--policy", "default"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "客户手机号 <PHONE_1>\n" and "PHONE: 1" in done.stderr
