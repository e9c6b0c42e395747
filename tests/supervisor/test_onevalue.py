"""One value per metric and step: a LLaMA-Factory run with LLaMA-Board on, read the way the supervisor reads it.

The console output and trainer_log.jsonl are in upstream's exact formats (tests/fixtures/llamafactory).
"""
from pathlib import Path

import pytest

from portal.supervisor.logparse import Metrics, OutputParser, Phase, Progress, TrainerLogParser
from portal.supervisor.onevalue import HOLD_TICKS, OneValuePerStep

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory"
CONSOLE = (FIXTURES / "llamaboard_output.log").read_bytes()
TRAINER_LOG = (FIXTURES / "trainer_log.jsonl").read_bytes()


def points(events) -> dict[tuple[int | None, str], list[float]]:
    found: dict[tuple[int | None, str], list[float]] = {}
    for event in events:
        if isinstance(event, Metrics):
            for key, value in {**event.values, **event.nonfinite}.items():
                found.setdefault((event.step, key), []).append(value)
    return found


def ticks(chunks: list[tuple[bytes, bytes]]) -> list:
    """Each tick: some console bytes and some trainer_log bytes, through the parsers and the merger."""
    output, log, merger, events = OutputParser(), TrainerLogParser(), OneValuePerStep(), []
    for index, (console, trainer_log) in enumerate(chunks):
        final = index == len(chunks) - 1
        parsed = output.feed(console) + (output.flush() if final else [])
        parsed += log.feed(trainer_log) + (log.flush() if final else [])
        events += merger.take(parsed, final)
    return events


def test_llamaboard_run_keeps_one_value_per_key_and_step_from_trainer_log():
    # the console is read a tick before trainer_log.jsonl, which LLaMA-Factory writes from a thread
    half = CONSOLE.index(b"{'loss': '0.5123'")
    first_log = TRAINER_LOG.index(b"\n") + 1
    events = ticks([(CONSOLE[:half], b""), (CONSOLE[half:], TRAINER_LOG[:first_log]), (b"", TRAINER_LOG[first_log:])])
    found = points(events)
    assert all(len(values) == 1 for values in found.values()), {k: v for k, v in found.items() if len(v) > 1}
    assert found[(10, "loss")] == [0.6931471805599453] and found[(20, "loss")] == [0.5123456789012345]
    assert found[(10, "learning_rate")] == [5.000000000000001e-05]
    assert found[(10, "rewards/accuracies")] == [0.375] and found[(10, "num_input_tokens_seen")] == [41230.0]
    assert found[(10, "vram_allocated")] == [12.0] and found[(10, "vram_reserved")] == [14.0]
    assert found[(10, "grad_norm")] == [3.142] and found[(10, "rewards/margins")] == [0.0579]  # console only
    keys = {key for _, key in found}
    assert not keys & {"accuracy", "total_tokens", "lr"}  # upstream names only


def test_loading_bars_are_a_phase_before_training_and_never_move_progress():
    events = ticks([(CONSOLE, TRAINER_LOG)])
    assert events[0] == Phase("loading")
    assert {e.total for e in events if isinstance(e, Progress)} == {20}
    assert [e for e in events if isinstance(e, Progress)][0].n == 0


def test_without_trainer_log_the_console_values_come_after_a_few_ticks_once():
    line = b"  5%|5         | 10/200 [00:10<03:10,  1.00it/s]\n{'loss': 1.25, 'grad_norm': 0.5, 'epoch': 0.1}\n"
    merger, parser = OneValuePerStep(), OutputParser()
    first = merger.take(parser.feed(line))
    assert points(first) == {(10, "grad_norm"): [0.5]}  # keys trainer_log.jsonl would carry wait for it
    later = [merger.take([]) for _ in range(HOLD_TICKS)]
    assert points([e for batch in later for e in batch]) == {(10, "loss"): [1.25], (10, "epoch"): [0.1]}
    late_log = TrainerLogParser().feed(b'{"current_steps": 10, "total_steps": 200, "loss": 1.2512, "epoch": 0.1}\n')
    assert points(merger.take(late_log)) == {}  # a step already recorded is not recorded again


@pytest.mark.parametrize("between", [b"\n", b""])  # b"": stdout's line lands after stderr's unfinished bar
def test_llamaboard_line_alone_is_kept_when_nothing_better_comes(between):
    text = (b"  5%|5         | 10/200 [00:10<03:10,  1.00it/s]" + between + b"[INFO|2026-12-01 10:00:10] "
            b"llamafactory.train.callbacks:307 >> {'loss': 1.2346, 'learning_rate': 1.0000e-04, 'epoch': 0.10, "
            b"'accuracy': 0.50, 'throughput': 120.00}\n")
    merger = OneValuePerStep()
    events = merger.take(OutputParser().feed(text), final=True)
    assert points(events) == {(10, "loss"): [1.2346], (10, "learning_rate"): [1e-04], (10, "epoch"): [0.1],
                              (10, "rewards/accuracies"): [0.5], (10, "throughput"): [120.0]}


def test_values_with_no_step_are_each_kept():
    merger = OneValuePerStep()
    events = merger.take(OutputParser().feed(b"{'loss': 1.0, 'epoch': 0}\n{'loss': 2.0, 'epoch': 1}\n"))
    assert points(events) == {(None, "loss"): [1.0, 2.0], (None, "epoch"): [0.0, 1.0]}
