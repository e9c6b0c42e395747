"""One value per metric and step, from the source with the most digits.

With LLAMABOARD_ENABLED=1 (every run has it) LLaMA-Factory reports each logging step three
times: LLaMA-Board's console line (4 digits), transformers' dict, and a trainer_log.jsonl line
with the logged float itself (`train/callbacks.py`, LogCallback.on_log, which copies its values
from the same `state.log_history[-1]` transformers prints). Once trainer_log.jsonl has spoken,
the output's values of the keys it carries are dropped and its own are kept; LLaMA-Board's
line only repeats them. Before that, those keys are held for HOLD_TICKS ticks, in case the file
comes (LLaMA-Factory writes it from a thread): a run that never writes one (not LLaMA-Factory,
or an output dir the portal cannot read) gets them after that. Other keys (grad_norm, runtimes)
go through at once. Whatever happens, a (step, key) already recorded is never recorded again.
Values printed with no step known (no progress bar before them) are each kept as they come.
"""
import math
from collections import OrderedDict

from portal.supervisor.logparse import SOURCES, TRAINER_LOG_KEYS, Event, Metrics

HOLD_TICKS = 3  # what the output's values of trainer_log's keys wait for the file, at most
REMEMBERED_STEPS = 256  # steps whose recorded keys are remembered, to refuse a second value


def _split(step: int | None, values: dict[str, float], source: str) -> Metrics:
    finite = {k: v for k, v in values.items() if math.isfinite(v)}
    return Metrics(step, finite, {k: v for k, v in values.items() if k not in finite}, source)


class OneValuePerStep:
    """Takes a run's parsed events each tick and lets through what should be recorded."""

    def __init__(self) -> None:
        self._log_seen = False  # trainer_log.jsonl gave metrics: it speaks for its keys
        self._tick = 0
        self._held: dict[int | None, tuple[int, dict[str, tuple[int, float]]]] = {}  # step: (tick, key: (rank, v))
        self._sent: OrderedDict[int | None, set[str]] = OrderedDict()

    def take(self, events: list[Event], final: bool = False) -> list[Event]:
        """This tick's events to apply: progress as it came, each metric value once per step."""
        self._tick += 1
        out: list[Event] = []
        for event in events:
            if not isinstance(event, Metrics) or event.step is None:
                out.append(event)  # progress; or values no step names, so none can repeat another
            elif event.source == "trainer_log":
                self._log_seen, self._held = True, {}
                self._send(event.step, {**event.values, **event.nonfinite}, event.source, out)
            else:
                self._from_output(event, out)
        for step, (since, values) in list(self._held.items()):
            if final or self._tick - since >= HOLD_TICKS:
                del self._held[step]
                self._send(step, {k: v for k, (_, v) in values.items()}, "trainer", out)
        return out

    def _from_output(self, event: Metrics, out: list[Event]) -> None:
        values = {**event.values, **event.nonfinite}
        own = {k: v for k, v in values.items() if k not in TRAINER_LOG_KEYS}
        if event.source != "llamaboard" and own:  # LLaMA-Board's line has trainer_log's keys only
            self._send(event.step, own, event.source, out)
        theirs = {k: v for k, v in values.items() if k in TRAINER_LOG_KEYS}
        if self._log_seen or not theirs:
            return
        held = self._held.setdefault(event.step, (self._tick, {}))[1]
        rank = SOURCES.index(event.source)
        for key, value in theirs.items():
            if rank < held.get(key, (len(SOURCES), 0.0))[0]:
                held[key] = (rank, value)

    def _send(self, step: int | None, values: dict[str, float], source: str, out: list[Event]) -> None:
        sent = self._sent.setdefault(step, set())
        self._sent.move_to_end(step)
        while len(self._sent) > REMEMBERED_STEPS:
            self._sent.popitem(last=False)
        fresh = {k: v for k, v in values.items() if k not in sent}
        if fresh:
            sent.update(fresh)
            out.append(_split(step, fresh, source))
