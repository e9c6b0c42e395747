"""Progress and metrics from training output, with no instrumentation of the training code.

`OutputParser` reads a run's stdout+stderr: tqdm bars, Hugging Face Trainer dicts and JSON
lines with a "step". `TrainerLogParser` reads LLaMA-Factory's `<output_dir>/trainer_log.jsonl`.
Both take bytes cut anywhere (mid-line, mid-character) and keep the unfinished line until the
next `feed`; `flush` parses it at the end of the stream.

Which bar is the training bar (OutputParser): loading bars are never one. A bar counting
something else than iterations (`examples/s`, the datasets library's Map, LLaMA-Factory's
"Running tokenizer on dataset") or named like loading ("Loading checkpoint shards",
"Converting format of dataset") is a Phase: before training it says "loading", and it never
moves progress. Other bars are told apart by their total. The first becomes the main bar. A
bar with another total takes its place only when the main bar has finished (n == total), and
never once metrics have been printed while a main bar was unfinished (that is training, so its
bar stays main). Evaluation bars start while the training bar is unfinished, or (the final
evaluation) after training printed its dicts, so they never move progress. Only main-bar
Progress is emitted; a redraw identical to the last is not repeated.

Each Metrics says its `source`, so one value per key and step can be kept (`onevalue.py`):
with LLAMABOARD_ENABLED a LLaMA-Factory step is printed by LLaMA-Board (4 digits), by
transformers, and written to trainer_log.jsonl (all digits).
"""
import ast
import json
import math
import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Progress:
    """`n` of `total` steps done; seconds left and steps per second when the source knows them."""

    n: int
    total: int
    eta_seconds: float | None
    rate: float | None


@dataclass(frozen=True, slots=True)
class Phase:
    """What a run does before its training bar: "loading" (data, model), "" once training shows."""

    name: str


# where a value was read, most digits first: trainer_log.jsonl writes the logged float itself,
# transformers prints it rounded for the console, LLaMA-Board's line to 4 digits
SOURCES = ("trainer_log", "trainer", "json", "llamaboard")


@dataclass(frozen=True, slots=True)
class Metrics:
    """Finite numeric values logged at `step` (None when no training step is known yet).

    NaN and inf are no points, but a diverging run must be noticed (notification rules): they
    are kept apart in `nonfinite`.
    """

    step: int | None
    values: dict[str, float]
    nonfinite: dict[str, float] = field(default_factory=dict, compare=False)
    source: str = field(default="trainer", compare=False)  # one of SOURCES


def _measured(step: int | None, values: dict[str, float], source: str = "trainer") -> Metrics:
    finite = {k: v for k, v in values.items() if math.isfinite(v)}
    return Metrics(step, finite, {k: v for k, v in values.items() if not math.isfinite(v)}, source)


Event = Progress | Metrics | Phase

MAX_LINE = 1 << 20  # a longer line is neither a bar nor a metrics dict; it is dropped unread
MAX_DICT = 8192  # Trainer dicts are a few hundred characters; bounds the cost of literal_eval
_DICT_OPENERS = (b"{'", b'{"')

# tqdm's default format, "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining},
# {rate_fmt}{postfix}]", where rate_fmt is "5.00it/s" (any unit), "2.50s/it" below one step per
# second, or "?it/s". Matched on bytes from the "%|", so a bar costs no decoding.
_BAR = re.compile(rb"%\|[^|\n]*\| *(\d+)/(\d+) *\[\d+(?::\d+)+<(\d+(?::\d+)+|\?), *(\d+(?:\.\d+)?|\?)(s/)? *"
                  rb"([A-Za-z]*)")
# a bar's description that says it loads (transformers, datasets, LLaMA-Factory's data/converter.py
# and processors): such bars are a phase, not training
_LOADING = re.compile(rb"(?:Loading|Converting|Running tokenizer|Tokeniz|Generating|Map|Filter|Download|Fetching|"
                      rb"Preprocess|Extracting|Casting|Saving the dataset)")
# LLaMA-Board's line (train/callbacks.py LogCallback.on_log via LLaMA-Factory's logger):
# "[INFO|2025-06-01 10:00:00] llamafactory.train.callbacks:185 >> {'loss': 2.1877, …}"
_LLAMABOARD = b"llamafactory.train.callbacks:"
# LLaMA-Board names two quantities its own way; the name transformers logs is kept
LLAMABOARD_ALIASES = {"accuracy": "rewards/accuracies"}
# str(timedelta) as LLaMA-Factory writes it ("1 day, 2:03:04") and tqdm's "MM:SS" / "H:MM:SS".
_DURATION = re.compile(r"(?:(\d+) days?, )?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)")
# repr() of a float dict writes nan/inf bare, which literal_eval rejects; quoting them keeps
# the rest of a diverged run's dict (the non-finite value itself is kept apart, see `Metrics`)
_BARE_NONFINITE = re.compile(r"(?<=: )(-?(?:nan|inf))(?=[,}])")
_JSON = json.JSONDecoder()
# trainer_log.jsonl's keys (LogCallback.on_log) under the names transformers logs them by
_TRAINER_LOG_NAMES = {"loss": "loss", "eval_loss": "eval_loss", "predict_loss": "predict_loss",
                      "reward": "reward", "accuracy": "rewards/accuracies", "lr": "learning_rate",
                      "epoch": "epoch", "throughput": "throughput", "total_tokens": "num_input_tokens_seen",
                      "vram_allocated": "vram_allocated", "vram_reserved": "vram_reserved"}  # RECORD_VRAM=1
TRAINER_LOG_KEYS = frozenset(_TRAINER_LOG_NAMES.values())


def parse_duration(text: str) -> float | None:
    """Seconds in "MM:SS", "H:MM:SS" or "N day(s), H:MM:SS"; None for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def _number(value: object, strings: bool) -> float | None:
    """`value` as a float (NaN and inf too): ints and floats, and numeric strings when `strings`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and not strings:
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _clock(value: bytes) -> float:
    """Seconds in tqdm's "MM:SS" or "H:MM:SS"."""
    seconds = 0
    for part in value.split(b":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _markers(block: bytes) -> list[int]:
    """Offsets of every "%|" and of every "{" opening a quoted key, in stream order.

    Single-byte and rare-byte searches run at memchr speed, so lines with no marker cost
    nothing in Python; "{" is searched alone because the quotes after it are common bytes.
    """
    found = []
    pos = block.find(b"%|")
    while pos >= 0:
        found.append(pos)
        pos = block.find(b"%|", pos + 2)
    pos = block.find(b"{")
    while pos >= 0:
        if block.startswith(_DICT_OPENERS, pos):
            found.append(pos)
        pos = block.find(b"{", pos + 1)
    found.sort()
    return found


def _trainer_dicts(text: str) -> list[dict[str, float]]:
    """Values of the flat single-quoted dicts in `text`, as Trainer prints them.

    Trainer logs are flat (numbers, or numeric strings in newer releases), so a dict holding
    anything else (a config dump, a nested structure) is not a log and is skipped whole.
    """
    found = []
    pos = 0
    while (start := text.find("{'", pos)) >= 0:
        end = text.find("}", start)
        if end < 0:
            break
        pos = end + 1
        if pos - start <= MAX_DICT and (parsed := _literal(text[start:pos])) is not None:
            values = {k: n for k, v in parsed.items() if (n := _number(v, strings=True)) is not None}
            if values:
                found.append(values)
    return found


def _literal(source: str) -> dict | None:
    """A flat str-keyed dict of numbers and strings, read with literal_eval (never eval)."""
    if "nan" in source or "inf" in source:
        source = _BARE_NONFINITE.sub(r"'\1'", source)
    try:
        parsed = ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    flat = isinstance(parsed, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float, str)) and not isinstance(v, bool)
        for k, v in parsed.items())
    return parsed if flat else None


def _json_metrics(text: str) -> list[Metrics]:
    """Metrics of the JSON objects in `text` that carry an integer "step"; numbers only."""
    found = []
    pos = 0
    while (start := text.find('{"', pos)) >= 0:
        try:
            record, pos = _JSON.raw_decode(text, start)
        except (ValueError, RecursionError):
            pos = start + 2
            continue
        if isinstance(record, dict) and _is_count(step := record.get("step")):
            values = {k: n for k, v in record.items()
                      if k != "step" and (n := _number(v, strings=False)) is not None}
            if values:
                found.append(_measured(step, values, "json"))
    return found


class _LineStream:
    """Cuts a byte stream at \\r and \\n and hands complete lines to `_parse` in blocks."""

    def __init__(self) -> None:
        self._tail = b""
        self._skipping = False  # inside a line longer than MAX_LINE, until its end

    def feed(self, data: bytes) -> list[Event]:
        """Events of the lines completed by `data`; an unfinished last line waits for more."""
        data = self._tail + data
        if b"\r" in data:
            # tqdm redraws with \r: one separator lets the block scans below use a single byte
            data = data.replace(b"\r", b"\n")
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                self._tail = b""
                return []
            data, self._skipping = data[end + 1:], False
        cut = data.rfind(b"\n")
        block, self._tail = (data[:cut], data[cut + 1:]) if cut >= 0 else (b"", data)
        if len(self._tail) > MAX_LINE:
            self._tail, self._skipping = b"", True
        return self._parse(block) if block else []

    def flush(self) -> list[Event]:
        """Events of the unfinished last line, at the end of the stream."""
        tail, skipping = self._tail, self._skipping
        self._tail, self._skipping = b"", False
        return self._parse(tail) if tail and not skipping else []

    def _parse(self, block: bytes) -> list[Event]:
        raise NotImplementedError


class OutputParser(_LineStream):
    """Progress of the training bar and metrics from a run's combined stdout and stderr."""

    def __init__(self) -> None:
        super().__init__()
        self._total: int | None = None  # the main bar's total
        self._n = 0
        self._locked = False  # metrics appeared while the main bar ran: it is the training bar
        self._last: Progress | None = None
        self._phase = ""

    def _parse(self, block: bytes) -> list[Event]:
        events: list[Event] = []
        read_to = 0  # the dicts of a line are read together, up to its end
        for pos in _markers(block):
            if block[pos] == ord("%"):
                if match := _BAR.match(block, pos):
                    self._bar(match, block[block.rfind(b"\n", 0, pos) + 1:pos], events)
            elif pos >= read_to:
                read_to = block.find(b"\n", pos)
                read_to = len(block) if read_to < 0 else read_to
                text = block[pos:read_to].decode("utf-8", "replace")
                if "{'" in text:
                    # Trainer prints a dict right after the bar reached its step; a bar throttled
                    # by tqdm's mininterval can lag, so with sub-0.1 s steps this may be early
                    step = self._n if self._total is not None else None
                    board = _LLAMABOARD in block[block.rfind(b"\n", 0, pos) + 1:pos]
                    for values in _trainer_dicts(text):
                        if board:
                            values = {LLAMABOARD_ALIASES.get(k, k): v for k, v in values.items()}
                        self._metrics(_measured(step, values, "llamaboard" if board else "trainer"), events)
                if '{"' in text and '"step"' in text:
                    for metrics in _json_metrics(text):
                        self._metrics(metrics, events)
        return events

    def _bar(self, match: re.Match, before: bytes, events: list[Event]) -> None:
        n, total, eta, rate, inverse, unit = match.groups()
        n, total = int(n), int(total)
        if total == 0:
            return
        if unit not in (b"it", b"") or _LOADING.match(before.lstrip()):
            if self._total is None and self._phase != "loading":  # before training: say so, move nothing
                self._phase = "loading"
                events.append(Phase("loading"))
            return
        if total != self._total:
            if self._total is not None and (self._locked or self._n < self._total):
                return
            self._total = total
        self._n = n
        rate = None if rate == b"?" else float(rate)
        if rate is not None and inverse:
            rate = 1 / rate if rate > 0 else None
        progress = Progress(n, total, None if eta == b"?" else _clock(eta), rate)
        if progress != self._last:
            self._last = progress
            events.append(progress)

    def _metrics(self, metrics: Metrics, events: list[Event]) -> None:
        # not on a finished bar: a dict printed after a loading bar must not pin progress to it
        if self._total is not None and self._n < self._total:
            self._locked = True
        events.append(metrics)


class TrainerLogParser(_LineStream):
    """Progress and metrics from LLaMA-Factory's trainer_log.jsonl.

    A resumed run appends again from its checkpoint's step, replaying lines already read.
    A line is emitted only if its step is beyond every line seen with the same set of metric
    names: keying on the step alone would drop the evaluation line LLaMA-Factory writes at the
    same step as a training line, and a high-water mark per kind needs no per-step memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self._high: dict[frozenset[str], int] = {}
        self._last: Progress | None = None

    def _parse(self, block: bytes) -> list[Event]:
        events: list[Event] = []
        for line in block.split(b"\n"):
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(record, dict) or not _is_count(step := record.get("current_steps")):
                continue
            values = {name: n for key, name in _TRAINER_LOG_NAMES.items()
                      if (n := _number(record.get(key), strings=False)) is not None}
            kind = frozenset(values)
            if step <= self._high.get(kind, -1):
                continue
            self._high[kind] = step
            total, remaining = record.get("total_steps"), record.get("remaining_time")
            if _is_count(total) and total > 0:
                eta = parse_duration(remaining) if isinstance(remaining, str) else None
                progress = Progress(step, total, eta, None)
                if progress != self._last:
                    self._last = progress
                    events.append(progress)
            if values:
                events.append(_measured(step, values, "trainer_log"))
        return events
