"""The public API: run, mapping, re-identification, streams, PERSON."""
import io
import json

import pytest

from portal.deid.engine import Deidentifier, reidentify
from portal.deid.policies import builtin_policies

SECRET = b"engine-secret"


@pytest.fixture
def default():
    return Deidentifier(builtin_policies()["default"], SECRET)


def test_the_example_from_the_issue(default):
    result = default.run(["客户手机号 13812345678"], return_mapping=True)
    assert result.results == [{
        "text": "客户手机号 <PHONE_1>",
        "entities": [{"type": "PHONE", "start": 6, "end": 17, "replacement": "<PHONE_1>"}],
    }]
    assert result.mapping == {"<PHONE_1>": "13812345678"}


def test_mapping_is_none_unless_asked(default):
    assert default.run(["13812345678"]).mapping is None


def test_tag_numbering_is_shared_across_texts_of_one_call(default):
    result = default.run(["a@b.cn", "c@d.cn a@b.cn"])
    assert [r["text"] for r in result.results] == ["<EMAIL_1>", "<EMAIL_2> <EMAIL_1>"]


def test_each_call_starts_its_own_numbering(default):
    default.run(["13812345678"])
    assert default.run(["13912345678"]).results[0]["text"] == "<PHONE_1>"


def test_reidentify_restores_tags_and_pseudonyms():
    texts = ["客户13812345678，邮箱abc@example.com", "身份证11010519491231002X"]
    for name in ("default", "pseudonymize"):
        result = Deidentifier(builtin_policies()[name], SECRET).run(texts, seed=5, return_mapping=True)
        assert reidentify([r["text"] for r in result.results], result.mapping) == texts


def test_reidentify_prefers_the_longest_replacement():
    mapping = {"<PHONE_1>": "13812345678", "<PHONE_11>": "13912345678"}
    assert reidentify(["<PHONE_11> <PHONE_1>"], mapping) == ["13912345678 13812345678"]


def test_same_input_policy_and_seed_give_the_same_output():
    deid = Deidentifier(builtin_policies()["pseudonymize"], SECRET)
    texts = ["13812345678 a@b.cn 京A12345 10.1.2.3 https://x.cn/p"]
    assert deid.run(texts, seed=9).results == deid.run(texts, seed=9).results


def test_texts_must_be_a_list_of_strings(default):
    with pytest.raises(TypeError):
        default.run("13812345678")
    with pytest.raises(TypeError):
        default.run([b"13812345678"])


def test_secret_is_required():
    with pytest.raises(ValueError):
        Deidentifier(builtin_policies()["default"], b"")


def test_deidentify_lines_counts_and_keeps_line_ends(default):
    out = io.StringIO()
    counts = default.deidentify_lines(io.StringIO("13812345678\r\nno pii\n a@b.cn"), out)
    assert out.getvalue() == "<PHONE_1>\r\nno pii\n <EMAIL_1>"
    assert counts == {"lines": 3, "entities": {"PHONE": 1, "EMAIL": 1}}


def test_deidentify_jsonl_counts_per_field(default):
    records = [
        {"messages": [{"role": "user", "content": "我的手机13812345678"}], "meta": {"mail": "a@b.cn"}, "n": 13812345678},
        {"messages": [{"role": "assistant", "content": "好的，13812345678 已记录"}]},
    ]
    source = "\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n\n"
    out = io.StringIO()
    report = default.deidentify_jsonl(io.StringIO(source), out)
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == {
        "messages": [{"role": "user", "content": "我的手机<PHONE_1>"}], "meta": {"mail": "<EMAIL_1>"}, "n": 13812345678,
    }
    assert json.loads(lines[1])["messages"][0]["content"] == "好的，<PHONE_1> 已记录"
    assert report == {
        "records": 2, "entities": {"PHONE": 2, "EMAIL": 1},
        "fields": {"messages.content": {"PHONE": 2}, "meta.mail": {"EMAIL": 1}},
    }


def test_deidentify_jsonl_only_listed_fields(default):
    out = io.StringIO()
    report = default.deidentify_jsonl(io.StringIO('{"a": "13812345678", "b": "13812345678"}\n'), out, fields=["a"])
    assert json.loads(out.getvalue()) == {"a": "<PHONE_1>", "b": "13812345678"}
    assert report["fields"] == {"a": {"PHONE": 1}}


def test_deidentify_jsonl_names_the_bad_line(default):
    with pytest.raises(ValueError, match="line 2"):
        default.deidentify_jsonl(io.StringIO('{"a": 1}\n{oops\n'), io.StringIO())


def test_person_is_found_with_a_cue_in_strict_policy():
    strict = Deidentifier(builtin_policies()["strict"], SECRET)
    result = strict.run(["客户王小明的手机13812345678，王小明说好。请联系李女士。"])
    assert result.results[0]["text"] == "客户<PERSON_1>的手机<PHONE_1>，<PERSON_1>说好。请联系<PERSON_2>女士。"


def test_person_is_off_by_default_and_does_not_load_jieba(default):
    assert default.run(["客户王小明"]).results[0]["text"] == "客户王小明"
