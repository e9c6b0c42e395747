"""Throughput of OutputParser on training output, beside the floor of merely cutting it into lines.

The supervisor tails the output of up to 100 runs at once, so lines that are neither bars nor
dicts must cost next to nothing. Three corpora, fed in 64 KiB chunks as a tailer reads them:
"mixed" is ~50 MB of what a long run prints (log lines, a bar redraw per step, a Trainer dict
every 10 steps, an evaluation every 200); "ordinary" is its log lines alone; "bars only" is a
tqdm stream alone, the worst case, since every segment is a bar to match. The floor is
`bytes.split(b"\\n")` and `bytes.splitlines()` (which also cuts at \\r, as the parser does) over
the same chunks, in the same process.

    .venv/bin/python bench/bench_logparse.py [--mb 50]
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from anywhere

from portal.supervisor.logparse import Metrics, OutputParser, Progress  # noqa: E402

CHUNK = 64 * 1024
BLOCKS = " ▏▎▍▌▋▊▉█"
CLEAR = "\r" + " " * 50 + "\r"
LOG_LINES = [
    "[INFO|2024-11-03 10:{m:02d}:{s:02d}] llamafactory.data.loader:{n} >> Loading dataset alpaca_zh_{n}.json...",
    "[rank{r}]:[W1103 10:{m:02d}:{s:02d}.{us} ProcessGroupNCCL.cpp:{n}] Warning: TORCH_NCCL_AVOID_RECORD_STREAMS=1 "
    "has no effect for point-to-point collectives.",
    "[2024-11-03 10:{m:02d}:{s:02d},{us}] [INFO] [logging.py:128:log_dist] [Rank 0] step={n}, skipped=0, "
    "lr=[4.2e-05], mom=[(0.9, 0.999)]",
    "Token indices sequence length is longer than the specified maximum sequence length for this model "
    "({n} > 2048). Running this sequence through the model will result in indexing errors",
    "/opt/conda/lib/python3.11/site-packages/torch/utils/checkpoint.py:464: UserWarning: torch.utils.checkpoint: "
    "the use_reentrant parameter should be passed explicitly.",
    "[INFO] 第 {n} 批数据处理完成，耗时 {x:.2f} 秒，显存占用 {r}7% (峰值 {x:.1f} GiB)",
    "  warnings.warn(",
    "[2024-11-03 10:{m:02d}:{s:02d},{us}] [INFO] [timer.py:260:stop] epoch=0/micro_step={n}/global_step={n}, "
    "RunningAvgSamplesPerSec={x:.4f}, CurrSamplesPerSec={x:.4f}, MemAllocated=14.2GB, MaxMemAllocated=21.7GB",
    '{{"ts": "2024-11-03T10:{m:02d}:{s:02d}Z", "level": "info", "msg": "heartbeat", "gpu_util": {r}7}}',
]


def bar(n: int, total: int, elapsed: float) -> str:
    full, part = divmod(int(n / total * 80), 8)
    drawn = BLOCKS[-1] * full + (BLOCKS[part] + " " * (9 - full) if full < 10 else "")
    rate = n / elapsed if elapsed else 0
    left = (total - n) / rate if rate else 0
    return (f"\r{n / total * 100:3.0f}%|{drawn}| {n}/{total} [{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}<"
            f"{int(left) // 60:02d}:{int(left) % 60:02d}, {1 / rate if rate else 0:5.2f}s/it]")


def mixed_corpus(megabytes: float, rng: random.Random) -> bytes:
    """A long run's merged stdout+stderr: 3-9 log lines per step, its bar redraw, dicts now and then."""
    parts, size, step, total = [], 0, 0, 200_000
    while size < megabytes * 1e6:
        step += 1
        lines = [rng.choice(LOG_LINES).format(m=step // 60 % 60, s=step % 60, n=rng.randint(1, 99999),
                                              r=rng.randint(0, 7), us=rng.randint(0, 999999), x=rng.random() * 20)
                 for _ in range(rng.randint(3, 9))]
        text = "\n".join(lines) + "\n" + bar(step, total, step * 4.2)
        if step % 10 == 0:
            logs = {"loss": round(2 - step / total, 4), "grad_norm": rng.random(),
                    "learning_rate": 1e-4 * (1 - step / total), "epoch": round(step / 7000, 2)}
            text += CLEAR + str(logs) + "\n" + bar(step, total, step * 4.2)
        if step % 200 == 0:
            text += ("\n" + "".join(bar(n, 25, n * 0.1) for n in range(26)) + "\n" + CLEAR
                     + str({"eval_loss": 1.5, "eval_runtime": 2.6, "epoch": round(step / 7000, 2)}))
        parts.append((text + "\n").encode())
        size += len(parts[-1])
    return b"".join(parts)


def ordinary_corpus(megabytes: float, rng: random.Random) -> bytes:
    """Log lines alone: what most of a run's output is, and what must cost next to nothing."""
    lines = [rng.choice(LOG_LINES).format(m=i // 60 % 60, s=i % 60, n=rng.randint(1, 99999), r=rng.randint(0, 7),
                                          us=rng.randint(0, 999999), x=rng.random() * 20)
             for i in range(int(megabytes * 1e6 / 110))]
    return ("\n".join(lines) + "\n").encode()


def bars_corpus(megabytes: float) -> bytes:
    total = 1_000_000
    return "".join(bar(n, total, n * 0.5) for n in range(1, int(megabytes * 1e6 / 50))).encode()


def timed(work, chunks: list[bytes]) -> float:
    """Median seconds of three passes of `work` over `chunks`."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work(chunks)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def parse_all(chunks: list[bytes]) -> list:
    parser = OutputParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    return events + parser.flush()


def report(name: str, data: bytes) -> None:
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    megabytes = len(data) / 1e6
    split = timed(lambda cs: [c.split(b"\n") for c in cs], chunks)
    splitlines = timed(lambda cs: [c.splitlines() for c in cs], chunks)
    parse = timed(parse_all, chunks)
    events = parse_all(chunks)
    segments = data.count(b"\n") + data.count(b"\r")
    print(f"\n{name}: {megabytes:.1f} MB, {segments:,} segments; "
          f"{sum(isinstance(e, Progress) for e in events):,} Progress and "
          f"{sum(isinstance(e, Metrics) for e in events):,} Metrics events")
    print(f"  {'':28}{'MB/s':>9}{'vs splitlines':>15}")
    for label, seconds in (('bytes.split(b"\\n")', split), ("bytes.splitlines()", splitlines),
                           ("OutputParser.feed", parse)):
        print(f"  {label:28}{megabytes / seconds:9.1f}{splitlines / seconds:15.2f}")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--mb", type=float, default=50.0, help="size of the mixed corpus (default 50)")
    megabytes = args.parse_args().mb
    print(f"Python {sys.version.split()[0]}, chunks of {CHUNK // 1024} KiB, median of 3 passes")
    report("mixed training output", mixed_corpus(megabytes, random.Random(7)))
    report("ordinary log lines only", ordinary_corpus(megabytes / 5, random.Random(8)))
    report("bars only (worst case)", bars_corpus(megabytes / 5))


if __name__ == "__main__":
    main()
