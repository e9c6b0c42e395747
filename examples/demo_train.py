"""A stand-in for a LoRA fine-tune that needs no GPU and nothing beyond the standard library.

Its console output imitates a Hugging Face Trainer run under LLaMA-Factory (a tqdm bar on
stderr redrawn with \\r, Trainer dicts on stdout, an evaluation bar and dict per epoch, a final
summary), and it writes what such a run leaves in its output directory: trainer_log.jsonl,
checkpoint-<step>/ folders with a placeholder adapter and trainer_state.json. SIGTERM, SIGABRT
and SIGINT save a last checkpoint and exit with 128 + the signal number (143, 134, 130).

    python examples/demo_train.py --config examples/configs/demo.yaml \\
        --dataset examples/datasets/demo.jsonl --output-dir /tmp/demo-run
"""
import argparse
import datetime
import json
import math
import random
import re
import signal
import struct
import sys
import time
from pathlib import Path

BAR_WIDTH = 10  # tqdm's bar width when its output is not a terminal
BAR_CHARS = " " + "".join(chr(c) for c in range(0x258F, 0x2587, -1))  # tqdm's smooth blocks
CONFIG_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*([^#\s]+)")
EVAL_BATCHES = 5
stop_signal = 0


def read_config(path: str | None) -> dict[str, str]:
    """Flat `key: value` lines of a YAML file; enough for the few settings read here."""
    if not path:
        return {}
    found = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if match := CONFIG_LINE.match(line):
            found[match[1]] = match[2].strip("'\"")
    return found


def count_records(path: str | None) -> int:
    if not path:
        return 0
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def format_interval(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def format_bar(n: int, total: int, elapsed: float) -> str:
    """The line tqdm draws with its default format and no description."""
    frac = n / total
    full, part = divmod(int(frac * BAR_WIDTH * 8), 8)
    bar = BAR_CHARS[-1] * full
    if full < BAR_WIDTH:
        bar += BAR_CHARS[part] + " " * (BAR_WIDTH - full - 1)
    rate = n / elapsed if n and elapsed else None
    remaining = format_interval((total - n) / rate) if rate else "?"
    if rate is None:
        rate_fmt = "?it/s"
    elif rate < 1:
        rate_fmt = f"{1 / rate:5.2f}s/it"
    else:
        rate_fmt = f"{rate:5.2f}it/s"
    return f"{frac * 100:3.0f}%|{bar}| {n}/{total} [{format_interval(elapsed)}<{remaining}, {rate_fmt}]"


class Console:
    """stdout for Trainer dicts, stderr for bars and log lines, cleared the way tqdm.write does."""

    def __init__(self) -> None:
        self.bar = ""

    def draw(self, line: str) -> None:
        sys.stderr.write("\r" + line + " " * max(len(self.bar) - len(line), 0))
        sys.stderr.flush()
        self.bar = line

    def close_bar(self) -> None:
        if not self.bar:
            return
        sys.stderr.write("\n")
        sys.stderr.flush()
        self.bar = ""

    def write(self, text: str, stream=None) -> None:
        stream = stream or sys.stdout
        if self.bar:
            sys.stderr.write("\r" + " " * len(self.bar) + "\r")
            sys.stderr.flush()
        stream.write(text + "\n")
        stream.flush()
        if self.bar:
            self.draw(self.bar)

    def log(self, text: str) -> None:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.write(f"[INFO|trainer.py] {stamp} >> {text}", sys.stderr)


def on_signal(signum: int, frame) -> None:
    global stop_signal
    stop_signal = signum


def wait(seconds: float) -> bool:
    """Sleep in slices so a stop signal is noticed within 50 ms; False once one arrived."""
    deadline = time.monotonic() + seconds
    while not stop_signal and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))
    return not stop_signal


def learning_rate(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 10% of steps, then cosine decay to zero."""
    warmup = max(1, total // 10)
    if step <= warmup:
        return peak * step / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps in all (default 60)")
    parser.add_argument("--step-seconds", type=float, default=1.0, help="time one step takes (default 1.0)")
    parser.add_argument("--config", help="LLaMA-Factory-style YAML; a few flat keys are read")
    parser.add_argument("--dataset", help="JSONL dataset; its records are counted")
    parser.add_argument("--output-dir", help="default: output_dir of the config, else ./demo_output")
    parser.add_argument("--logging-steps", type=int, help="default: logging_steps of the config, else 5")
    parser.add_argument("--save-steps", type=int, help="default: save_steps of the config, else 20")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


class Run:
    """One demo training run: settings, the clock, and what it has logged so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        config = read_config(args.config)
        self.total = max(1, args.steps)
        self.step_seconds = args.step_seconds
        self.epochs = max(1, round(float(config.get("num_train_epochs", 3))))
        self.peak_lr = float(config.get("learning_rate", 1e-4))
        self.batch = int(config.get("per_device_train_batch_size", 2))
        self.logging_steps = args.logging_steps or int(config.get("logging_steps", 5))
        self.save_steps = args.save_steps or int(config.get("save_steps", 20))
        self.out = Path(args.output_dir or config.get("output_dir", "demo_output"))
        self.per_epoch = math.ceil(self.total / self.epochs)
        self.examples = count_records(args.dataset) or self.total * self.batch
        self.rng = random.Random(args.seed)
        self.console = Console()
        self.history: list[dict] = []
        self.losses: list[float] = []
        self.step = self.tokens = 0
        self.start = time.monotonic()

    def train(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.console.log("***** Running training *****")
        for line in (f"Num examples = {self.examples:,}", f"Num Epochs = {self.epochs:,}",
                     f"Instantaneous batch size per device = {self.batch:,}",
                     f"Total optimization steps = {self.total:,}"):
            sys.stderr.write(f"  {line}\n")
        self.console.draw(format_bar(0, self.total, 0))
        while self.step < self.total and wait(self.step_seconds):
            self.train_step()
            if self.step % self.per_epoch == 0 or self.step == self.total:
                self.evaluate()
            if self.step % self.save_steps == 0 and self.step < self.total:
                self.save()
        if stop_signal:
            self.console.close_bar()
            name = signal.Signals(stop_signal).name
            self.console.log(f"Received {name} at step {self.step}; saving a last checkpoint and stopping.")
        else:
            self.summary()
        self.save()

    def train_step(self) -> None:
        self.step += 1
        loss = 0.9 + 1.3 * math.exp(-3 * self.step / self.total) + self.rng.gauss(0, 0.04)
        self.losses.append(loss)
        self.tokens += self.batch * self.rng.randint(180, 320)
        self.console.draw(format_bar(self.step, self.total, time.monotonic() - self.start))
        if self.step % self.logging_steps == 0:
            lr = learning_rate(self.step, self.total, self.peak_lr)
            logs = {"loss": round(loss, 4), "grad_norm": self.rng.uniform(0.3, 1.5), "learning_rate": lr,
                    "epoch": round(self.step / self.per_epoch, 2)}
            self.console.write(str(logs))
            self.history.append({**logs, "step": self.step})
            self.trainer_log(loss=logs["loss"], lr=lr, epoch=logs["epoch"])

    def evaluate(self) -> None:
        """An evaluation pass: its own bar on a new line, then the eval dict."""
        self.console.close_bar()
        started = time.monotonic()
        for n in range(EVAL_BATCHES + 1):
            if n and not wait(self.step_seconds / 4):
                return
            self.console.draw(format_bar(n, EVAL_BATCHES, time.monotonic() - started))
        self.console.close_bar()
        runtime = max(time.monotonic() - started, 1e-3)
        epoch = round(self.step / self.per_epoch, 2)
        metrics = {"eval_loss": round(0.95 + 1.1 * math.exp(-2 * epoch) + self.rng.gauss(0, 0.02), 4),
                   "eval_runtime": round(runtime, 4),
                   "eval_samples_per_second": round(EVAL_BATCHES * self.batch / runtime, 3),
                   "eval_steps_per_second": round(EVAL_BATCHES / runtime, 3), "epoch": epoch}
        self.console.write(str(metrics))
        self.history.append({**metrics, "step": self.step})
        self.trainer_log(eval_loss=metrics["eval_loss"], epoch=epoch)

    def summary(self) -> None:
        self.console.close_bar()
        runtime = time.monotonic() - self.start
        summary = {"train_runtime": round(runtime, 4),
                   "train_samples_per_second": round(self.step * self.batch / runtime, 3),
                   "train_steps_per_second": round(self.step / runtime, 3),
                   "train_loss": sum(self.losses) / len(self.losses), "epoch": round(self.step / self.per_epoch, 2)}
        self.console.write(str(summary))
        self.history.append({**summary, "step": self.step})
        self.trainer_log(epoch=summary["epoch"])

    def trainer_log(self, **values: float) -> None:
        """One line of trainer_log.jsonl, in LLaMA-Factory's key order."""
        elapsed = time.monotonic() - self.start
        remaining = (self.total - self.step) * elapsed / self.step if self.step else 0
        record = {"current_steps": self.step, "total_steps": self.total, **values,
                  "percentage": round(self.step / self.total * 100, 2),
                  "elapsed_time": str(datetime.timedelta(seconds=int(elapsed))),
                  "remaining_time": str(datetime.timedelta(seconds=int(remaining))),
                  "throughput": round(self.tokens / max(elapsed, 1e-3), 2), "total_tokens": self.tokens}
        with open(self.out / "trainer_log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def save(self) -> None:
        """checkpoint-<step>/ with a safetensors file holding no tensors and trainer_state.json."""
        folder = self.out / f"checkpoint-{self.step}"
        self.console.log(f"Saving model checkpoint to {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"__metadata__": {"format": "pt", "note": "demo placeholder"}}).encode()
        header += b" " * (-len(header) % 8)  # the format pads its JSON header to 8 bytes
        (folder / "adapter_model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
        state = {"global_step": self.step, "epoch": self.step / self.per_epoch, "max_steps": self.total,
                 "num_train_epochs": self.epochs, "logging_steps": self.logging_steps,
                 "save_steps": self.save_steps, "train_batch_size": self.batch, "log_history": self.history}
        (folder / "trainer_state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGABRT, signal.SIGINT):
        signal.signal(signum, on_signal)
    Run(args).train()
    return 128 + stop_signal if stop_signal else 0


if __name__ == "__main__":
    sys.exit(main())
