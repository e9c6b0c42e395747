"""Validation speed on alpaca JSON lines: the portal's validator vs a plain json.loads loop.

    .venv/bin/python bench/datasets/bench_validate.py            # 1 GB
    .venv/bin/python bench/datasets/bench_validate.py --small    # 100 MB

Writes an alpaca JSONL file of varied records (Chinese and English text, some with `system`
and `history`) to a temp dir, then times, on the same file (warm in the page cache):
the portal's `validate()` (detect, check every record, statistics), and the peer: the
stdlib reading the lines and `json.loads` on each, checking nothing. Goal: ≥ 100 MB/s.
"""
import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script from the repository root

from portal.datasets.validate import validate  # noqa: E402

MB = 1_000_000
WORDS = ("the model learns from examples of instructions and answers written by people who know the task well "
         "数据 集 训练 模型 回答 问题 指令 输入 输出 中文 英文 示例").split()


def record(rng: random.Random) -> dict:
    text = lambda lo, hi: " ".join(rng.choices(WORDS, k=rng.randint(lo, hi)))  # noqa: E731
    rec = {"instruction": text(4, 40), "input": text(0, 30) if rng.random() < 0.6 else "", "output": text(10, 160)}
    if rng.random() < 0.1:
        rec["system"] = text(3, 12)
    if rng.random() < 0.05:
        rec["history"] = [[text(2, 10), text(5, 30)]]
    return rec


def make_file(path: Path, size: int) -> int:
    rng = random.Random(7)
    block = "".join(json.dumps(record(rng), ensure_ascii=False) + "\n" for _ in range(20000)).encode()
    lines = block.count(b"\n")
    written = count = 0
    with open(path, "wb") as out:
        while written + len(block) <= size:
            out.write(block)
            written += len(block)
            count += lines
    return count


def stdlib_loop(path: Path) -> int:
    n = 0
    with open(path, "rb") as handle:
        for line in handle:
            json.loads(line)
            n += 1
    return n


def timed(fn, path: Path) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(path)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100 MB instead of 1 GB")
    args = parser.parse_args()
    size = 100 * MB if args.small else 1000 * MB
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        path = Path(tmp) / "alpaca.jsonl"
        records = make_file(path, size)
        actual = path.stat().st_size
        stdlib_loop(path)  # warm the page cache
        ours, result = timed(validate, path)
        peer, _ = timed(stdlib_loop, path)
    assert result.status == "ready" and result.records == records, result.report
    print(f"validation of {actual / MB:.0f} MB alpaca JSONL ({records:,} records)")
    speed = actual / MB / ours
    print(f"  portal validate()        {speed:7.0f} MB/s  (goal ≥ 100)  {'ok' if speed >= 100 else 'MISS'}")
    print(f"  stdlib json.loads loop   {actual / MB / peer:7.0f} MB/s  (peer: parses only, checks nothing)")


if __name__ == "__main__":
    main()
