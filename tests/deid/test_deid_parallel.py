"""Files in worker processes: the same bytes, counts, samples and mapping as one process."""
import io
import json
import random

import pytest

from portal.deid import parallel, streams
from portal.deid.engine import Deidentifier
from portal.deid.policies import builtin_policies, parse_policy

HASHED = parse_policy("extends: default\nentities: {EMAIL: hash, PHONE: {operator: mask, keep_last: 4}, "
                      "IP: {operator: redact, text: '[ip]'}}\n")


def text_lines(count: int, seed: int = 5) -> list[str]:
    """Lines with repeated and new values (so tags are reused across chunks), and every ending."""
    rng = random.Random(seed)
    phones = ["13812345678", "139 1234 5678", "+86 13700001111", "１５９１２３４５６７８"]
    values = phones + ["a@b.cn", "Bob.Smith@Example.com", "110105194912310021", "10.0.0.7", "2001:db8::1",
                       "https://x.cn/a?id=1", "京A12345", "6222020200112233445", "版本 v1.2.3.4", "护照号：E85798114"]
    lines = []
    for i in range(count):
        parts = [rng.choice(["客户", "note", "联系", "ok"]) for _ in range(3)]
        if i == 150:
            parts.append("\ue000")  # the workers' hole character, written by the user
        for _ in range(rng.randrange(0, 4)):
            value = rng.choice(values) if rng.random() < 0.6 else f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
            parts.insert(rng.randrange(len(parts) + 1), value)
        lines.append(" ".join(parts) + rng.choice(["\n", "\n", "\r\n", "\r"]))
    return lines


def in_one_process(engine, data: bytes, fmt: str, splitting: str, fields=None, seed=7):
    """The reference: the streams read line by line through one session, as before workers."""
    session, out = engine.session(seed), io.StringIO()
    lines = io.StringIO(data.decode(), newline="") if splitting == "universal" else \
        (raw.decode() for raw in io.BytesIO(data))
    if fmt == "jsonl":
        counts = streams.deidentify_jsonl(session, lines, out, fields)
    else:
        counts = streams.deidentify_lines(session, lines, out)
    return out.getvalue(), counts, session.mapping


@pytest.mark.parametrize("policy", ["default", "pseudonymize", "hashed"])
@pytest.mark.parametrize("fmt,splitting", [("lines", "universal"), ("lines", "lf"), ("jsonl", "lf")])
def test_every_number_of_jobs_writes_the_same_bytes(policy, fmt, splitting):
    engine = Deidentifier(HASHED if policy == "hashed" else builtin_policies()[policy], b"secret")
    lines = text_lines(400)
    if fmt == "jsonl":
        records = [{"id": i, "text": line.strip(), "messages": [{"content": line.strip()[:20], "n": 1}]}
                   for i, line in enumerate(lines)]
        data = "".join(json.dumps(r, ensure_ascii=False) + ("\n" if i % 50 else "\n\n")
                       for i, r in enumerate(records)).encode()
        fields = ["text", "messages.content"]
    else:
        data, fields = "".join(lines).encode(), None
    text, counts, mapping = in_one_process(engine, data, fmt, splitting, fields)
    assert "<" in text or policy != "default"
    for jobs in (1, 2, 3):
        out = io.BytesIO()
        got, samples, session = parallel.deidentify(
            engine, io.BytesIO(data), out, fmt, fields=fields, seed=7, jobs=jobs, splitting=splitting,
            samples=25, chunk_bytes=2048)
        assert out.getvalue() == text.encode()
        assert got == counts and list(got["entities"]) == list(counts["entities"])  # same order, too
        assert list(session.mapping.items()) == list(mapping.items())
        assert len(samples) == 25
        if jobs == 1:
            first = samples
        assert samples == first


def test_samples_are_cut_after_their_holes_are_filled():
    engine = Deidentifier(builtin_policies()["default"], b"secret")
    data = ("x" * 495 + " 13812345678 a@b.cn\n").encode() * 3
    _, samples, _ = parallel.deidentify(engine, io.BytesIO(data), io.BytesIO(), "lines", jobs=2, samples=2,
                                        chunk_bytes=100)
    assert samples == [("x" * 495 + " 1381", "x" * 495 + " <PHO")] * 2


def test_a_bad_json_line_is_named_by_its_line_in_the_whole_file():
    engine = Deidentifier(builtin_policies()["default"], b"secret")
    data = b"".join(b'{"text": "13812345678"}\n' for _ in range(300)) + b"not json\n" + b'{"a": 1}\n' * 50
    with pytest.raises(ValueError, match="^line 301: not valid JSON"):
        parallel.deidentify(engine, io.BytesIO(data), io.BytesIO(), "jsonl", jobs=2, chunk_bytes=512)


def test_progress_is_reported_and_may_stop_the_file():
    engine = Deidentifier(builtin_policies()["default"], b"secret")
    data = "".join(text_lines(300)).encode()
    seen = []

    def progress(done):
        seen.append(done)
        if len(seen) == 3:
            raise KeyboardInterrupt

    out = io.BytesIO()
    with pytest.raises(KeyboardInterrupt):
        parallel.deidentify(engine, io.BytesIO(data), out, "lines", jobs=2, chunk_bytes=1024, progress=progress)
    assert len(seen) == 3 and seen == sorted(seen) and 0 < len(out.getvalue()) < len(data)


def test_workers_only_for_big_files_unless_asked():
    assert parallel.workers(parallel.MIN_BYTES - 1) == 1
    assert parallel.workers(parallel.MIN_BYTES) == parallel.cores()
    assert parallel.workers(10, jobs=3) == 3
