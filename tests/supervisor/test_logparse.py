"""Progress and metrics from real-looking training output: tqdm, Trainer dicts, JSON lines, trainer_log.jsonl."""
import builtins

import pytest

from portal.supervisor.logparse import (MAX_LINE, Metrics, OutputParser, Phase, Progress, TrainerLogParser,
                                        parse_duration)

CLEAR = "\r" + " " * 48 + "\r"  # what tqdm.write sends to the bar's line before printing

# A LLaMA-Factory SFT run as its merged stdout+stderr reaches the log file: 9 steps, 3 epochs,
# logging_steps=3, an evaluation per epoch drawn as a nested bar (tqdm moves with \n and ESC[A).
HF_RUN = (
    "[INFO|2024-11-03 10:12:00] llamafactory.model.loader:143 >> trainable params: 4,399,104 "
    "|| all params: 498,431,872 || trainable%: 0.8826\n"
    "[INFO|trainer.py:2243] 2024-11-03 10:12:01,553 >> ***** Running training *****\n"
    "[INFO|trainer.py:2244] 2024-11-03 10:12:01,553 >>   Num examples = 72\n"
    "[INFO|trainer.py:2251] 2024-11-03 10:12:01,553 >>   Total optimization steps = 9\n"
    "/opt/conda/lib/python3.11/site-packages/torch/utils/checkpoint.py:464: UserWarning: "
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly.\n"
    "  warnings.warn(\n"
    "\r  0%|          | 0/9 [00:00<?, ?it/s]"
    "\r 11%|█         | 1/9 [00:04<00:34,  4.31s/it]"
    "\r 22%|██▏       | 2/9 [00:08<00:29,  4.22s/it]"
    "\r 33%|███▎      | 3/9 [00:12<00:25,  4.19s/it]"
    + CLEAR + "{'loss': 1.9214, 'grad_norm': 1.0873, 'learning_rate': 9.5e-05, 'epoch': 1.0}\n"
    "\r 33%|███▎      | 3/9 [00:12<00:25,  4.19s/it]"
    "\n\r  0%|          | 0/4 [00:00<?, ?it/s]\x1b[A"
    "\n\r 50%|█████     | 2/4 [00:00<00:00, 11.87it/s]\x1b[A"
    "\n\r 75%|███████▌  | 3/4 [00:00<00:00,  8.02it/s]\x1b[A"
    "\n\r" + " " * 46 + "\x1b[A"
    + CLEAR + "{'eval_loss': 1.6132, 'eval_runtime': 0.6123, 'eval_samples_per_second': 13.065, "
    "'eval_steps_per_second': 6.533, 'epoch': 1.0}\n"
    "\r 33%|███▎      | 3/9 [00:13<00:25,  4.19s/it]"
    "\r 44%|████▍     | 4/9 [00:20<00:26,  5.21s/it]"
    "\r 56%|█████▌    | 5/9 [00:24<00:19,  4.86s/it]"
    "\r 67%|██████▋   | 6/9 [00:28<00:13,  4.62s/it]"
    + CLEAR + "{'loss': 1.5307, 'grad_norm': 0.7741, 'learning_rate': 5.868e-05, 'epoch': 2.0}\n"
    "\r 67%|██████▋   | 6/9 [00:28<00:13,  4.62s/it]"
    "\n\r  0%|          | 0/4 [00:00<?, ?it/s]\x1b[A"
    "\n\r 75%|███████▌  | 3/4 [00:00<00:00,  8.11it/s]\x1b[A"
    "\n\r" + " " * 46 + "\x1b[A"
    + CLEAR + "{'eval_loss': 1.4526, 'eval_runtime': 0.6018, 'eval_samples_per_second': 13.293, "
    "'eval_steps_per_second': 6.647, 'epoch': 2.0}\n"
    "\r 67%|██████▋   | 6/9 [00:29<00:13,  4.62s/it]"
    "\r 78%|███████▊  | 7/9 [00:36<00:10,  5.12s/it]"
    "\r 89%|████████▉ | 8/9 [00:40<00:04,  4.90s/it]"
    "\r100%|██████████| 9/9 [00:44<00:00,  4.74s/it]"
    + CLEAR + "{'loss': 1.4527, 'grad_norm': 0.6952, 'learning_rate': 3.4e-06, 'epoch': 3.0}\n"
    "\r100%|██████████| 9/9 [00:44<00:00,  4.74s/it]"
    + CLEAR + "{'train_runtime': 47.1218, 'train_samples_per_second': 4.584, "
    "'train_steps_per_second': 0.191, 'train_loss': 1.6349, 'epoch': 3.0}\n"
    "\r100%|██████████| 9/9 [00:47<00:00,  5.24s/it]\n"
    "***** train metrics *****\n"
    "  epoch                    =        3.0\n"
    "  train_loss               =     1.6349\n"
    "Figure saved at: saves/qwen2.5-0.5b/lora/sft/training_loss.png\n"
    "[INFO|trainer.py:4128] 2024-11-03 10:12:49,114 >> ***** Running Evaluation *****\n"
    "\r  0%|          | 0/4 [00:00<?, ?it/s]"
    "\r100%|██████████| 4/4 [00:00<00:00,  9.53it/s]\n"
    "***** eval metrics *****\n"
    "  eval_loss               =     1.4103\n"
)


def events_of(text: str | bytes, parser_class=OutputParser) -> list:
    parser = parser_class()
    data = text.encode() if isinstance(text, str) else text
    return parser.feed(data) + parser.flush()


def progress(events) -> list[tuple[int, int]]:
    return [(e.n, e.total) for e in events if isinstance(e, Progress)]


def metrics(events) -> list[Metrics]:
    return [e for e in events if isinstance(e, Metrics)]


@pytest.mark.parametrize("line, expected", [
    ("  5%|▌         | 50/1000 [00:10<03:10,  5.00it/s]", Progress(50, 1000, 190.0, 5.0)),
    (" 0%|          | 0/1000 [00:00<?, ?it/s]", Progress(0, 1000, None, None)),
    ("Training:  5%|▌         | 50/1000 [01:40<1:35:00,  2.00s/it]", Progress(50, 1000, 5700.0, 0.5)),
    (" 10%|█         | 100/1000 [00:20<03:00,  5.00it/s, loss=1.23, lr=2e-5]", Progress(100, 1000, 180.0, 5.0)),
    ("Epoch 2: 50%|#####     | 500/1000 [27:03:04<27:03:04, 194.83s/it]", Progress(500, 1000, 97384.0, 1 / 194.83)),
])
def test_tqdm_bar_forms(line, expected):
    assert events_of(line + "\n") == [expected]


@pytest.mark.parametrize("line", [
    "Generating train split: 5000 examples [00:00, 81234.10 examples/s]",  # no total: no progress
    "Downloading: 100%|██████████| 1.21G/1.21G [00:30<00:00, 40.1MB/s]",  # unit_scale counts
    "GPU util 95%| mem 80%",
    "  0%|          | 0/0 [00:00<?, ?it/s]",
])
def test_lines_that_are_not_countable_bars_yield_nothing(line):
    assert events_of(line + "\n") == []


def test_full_hugging_face_run():
    events = events_of(HF_RUN)
    assert progress(events) == [(n, 9) for n in range(10)] + [(9, 9)]  # the closing redraw has a new rate
    assert events[1] == Progress(1, 9, 34.0, 1 / 4.31)
    assert metrics(events) == [
        Metrics(3, {"loss": 1.9214, "grad_norm": 1.0873, "learning_rate": 9.5e-05, "epoch": 1.0}),
        Metrics(3, {"eval_loss": 1.6132, "eval_runtime": 0.6123, "eval_samples_per_second": 13.065,
                    "eval_steps_per_second": 6.533, "epoch": 1.0}),
        Metrics(6, {"loss": 1.5307, "grad_norm": 0.7741, "learning_rate": 5.868e-05, "epoch": 2.0}),
        Metrics(6, {"eval_loss": 1.4526, "eval_runtime": 0.6018, "eval_samples_per_second": 13.293,
                    "eval_steps_per_second": 6.647, "epoch": 2.0}),
        Metrics(9, {"loss": 1.4527, "grad_norm": 0.6952, "learning_rate": 3.4e-06, "epoch": 3.0}),
        Metrics(9, {"train_runtime": 47.1218, "train_samples_per_second": 4.584, "train_steps_per_second": 0.191,
                    "train_loss": 1.6349, "epoch": 3.0}),
    ]
    assert events[-1] == Progress(9, 9, 0.0, 1 / 5.24)  # the final evaluation bar did not take over


def test_evaluation_bars_in_the_middle_do_not_move_progress():
    text = ("\r 20%|██        | 200/1000 [10:00<40:00,  3.00s/it]"
            "\n\r  0%|          | 0/25 [00:00<?, ?it/s]\r 48%|████▊     | 12/25 [00:01<00:01, 11.2it/s]"
            "\r100%|██████████| 25/25 [00:02<00:00, 11.2it/s]\n"
            "\r 20%|██        | 201/1000 [10:05<39:57,  3.00s/it]")
    assert progress(events_of(text)) == [(200, 1000), (201, 1000)]


def test_loading_bars_are_a_phase_and_never_move_progress():
    text = ("Loading checkpoint shards:   0%|          | 0/4 [00:00<?, ?it/s]"
            "\rLoading checkpoint shards: 100%|██████████| 4/4 [00:06<00:00,  1.52s/it]\n"
            "Converting format of dataset (num_proc=16): 100%|██████████| 5000/5000 [00:00<00:00, 21302.51 "
            "examples/s]\n"
            "Running tokenizer on dataset (num_proc=16):   0%|          | 0/5000 [00:00<?, ? examples/s]"
            "\rRunning tokenizer on dataset (num_proc=16): 100%|██████████| 5000/5000 "
            "[00:03<00:00, 1409.82 examples/s]\n"
            "Map: 100%|██████████| 5000/5000 [00:01<00:00, 3512.40 examples/s]\n"
            "  0%|          | 0/1000 [00:00<?, ?it/s]\r  0%|          | 1/1000 [00:03<55:00,  3.30s/it]\n"
            "{'loss': 2.1031, 'learning_rate': 1e-06, 'epoch': 0.0}\n"
            "Loading checkpoint shards:   0%|          | 0/4 [00:00<?, ?it/s]\n"  # training runs: ignored
            "  0%|          | 2/1000 [00:06<55:00,  3.30s/it]\n")
    events = events_of(text)
    assert events[0] == Phase("loading") and Phase("loading") not in events[1:]
    assert progress(events) == [(0, 1000), (1, 1000), (2, 1000)]
    assert metrics(events) == [Metrics(1, {"loss": 2.1031, "learning_rate": 1e-06, "epoch": 0.0})]


def test_a_training_bar_that_printed_metrics_is_not_replaced_by_the_final_evaluation():
    text = (" 50%|█████     | 25/50 [01:00<01:00,  2.40s/it]\n"
            "{'loss': 1.61, 'learning_rate': 5e-05, 'epoch': 1.5}\n"
            "100%|██████████| 50/50 [02:00<00:00,  2.40s/it]\n"
            "{'train_runtime': 120.5, 'train_samples_per_second': 8.3, 'train_steps_per_second': 1.04, "
            "'train_loss': 1.52, 'epoch': 3.0}\n"
            "  0%|          | 0/25 [00:00<?, ?it/s]\r100%|██████████| 25/25 [00:02<00:00, 11.2it/s]\n")
    assert progress(events_of(text)) == [(25, 50), (50, 50)]


def test_a_dict_printed_after_a_loading_bar_does_not_pin_progress_to_it():
    text = ("Loading checkpoint shards: 100%|██████████| 4/4 [00:06<00:00,  1.52s/it]\n"
            "{'trainable_params': 4399104, 'all_params': 498431872}\n"
            "  0%|          | 0/1000 [00:00<?, ?it/s]\n")
    events = events_of(text)
    assert progress(events) == [(0, 1000)]
    assert metrics(events) == [Metrics(None, {"trainable_params": 4399104.0, "all_params": 498431872.0})]


@pytest.mark.parametrize("line, values", [
    ("{'loss': 1.7319, 'grad_norm': 0.548, 'learning_rate': 2.7e-05, 'epoch': 1.42}",
     {"loss": 1.7319, "grad_norm": 0.548, "learning_rate": 2.7e-05, "epoch": 1.42}),
    ("{'loss': '2.205', 'grad_norm': '1.034', 'learning_rate': '0.0001333', 'epoch': '2'}",
     {"loss": 2.205, "grad_norm": 1.034, "learning_rate": 0.0001333, "epoch": 2.0}),
    ("{'eval_loss': 1.61, 'eval_runtime': 3.2, 'eval_samples_per_second': 31.2, 'eval_steps_per_second': 7.8, "
     "'epoch': 1.0}",
     {"eval_loss": 1.61, "eval_runtime": 3.2, "eval_samples_per_second": 31.2, "eval_steps_per_second": 7.8,
      "epoch": 1.0}),
    ("{'train_runtime': 120.5, 'train_samples_per_second': 8.3, 'train_steps_per_second': 1.04, "
     "'train_loss': 1.52, 'epoch': 3.0}",
     {"train_runtime": 120.5, "train_samples_per_second": 8.3, "train_steps_per_second": 1.04, "train_loss": 1.52,
      "epoch": 3.0}),
    ("{'loss': 0.98, 'eval_accuracy': 'n/a', 'epoch': 2}", {"loss": 0.98, "epoch": 2.0}),
    ("{'loss': nan, 'grad_norm': inf, 'learning_rate': 1e-05, 'epoch': 0.5}", {"learning_rate": 1e-05, "epoch": 0.5}),
    ("{'loss': 'nan', 'grad_norm': '-inf', 'learning_rate': '1e-05', 'epoch': '0.5'}",
     {"learning_rate": 1e-05, "epoch": 0.5}),
    ("[INFO|callbacks.py:312] 2024-11-03 >> {'loss': 1.2345, 'learning_rate': 1.0000e-04, 'epoch': 0.50}",
     {"loss": 1.2345, "learning_rate": 1e-04, "epoch": 0.5}),
])
def test_trainer_dicts(line, values):
    assert events_of(line + "\n") == [Metrics(None, values)]


def test_a_trainer_dict_takes_the_step_of_the_last_training_bar():
    text = "\r 10%|█         | 50/500 [00:25<03:45,  2.00it/s]{'loss': 1.73, 'epoch': 0.1}\n"
    assert events_of(text) == [Progress(50, 500, 225.0, 2.0), Metrics(50, {"loss": 1.73, "epoch": 0.1})]


@pytest.mark.parametrize("line", [
    "{'loss': 1.7319, 'grad_norm': 0.5",  # cut off by a crash
    "{'loss': }",
    "{'loss' 1.0, 'epoch': 1.0}",
    "{'loss': 1.0, 'epoch': 1.0",
    "{'a': {'loss': 1.0, 'epoch': 1.0}}",  # nested: not a Trainer log
    "{'loss': [1.0, 2.0], 'epoch': 1.0}",
    "{'do_train': True, 'learning_rate': 1e-4}",  # a config dump, not a log
    "{'model': 'qwen', 'template': 'qwen'}",
    "{'loss': tensor(1.2345, device='cuda:0'), 'epoch': 1.0}",
    "{'loss': 1" + "0" * 5000 + ", 'epoch': 1.0}",  # beyond int digit limits
    "{'loss': " + "[" * 5000 + "}",
    '{"step": 5, "loss": 0.9',
    '{"step": "5", "loss": 0.9}',
    '{"step": true, "loss": 0.9}',
    '{"step": -1, "loss": 0.9}',
    '{"step": 5, "phase": "train"}',
    '{"ts": "2024-11-03T10:12:01Z", "level": "info", "msg": "heartbeat", "gpu_util": 97}',
    "Loss went from {'a'} to 1.0",
    "",
])
def test_broken_and_foreign_dicts_are_ignored(line):
    assert events_of(line + "\n") == []
    assert events_of(line) == []  # the same as an unfinished last line, at flush


@pytest.mark.parametrize("line", [
    "{'loss': __import__('os').system('touch {marker}'), 'epoch': 1.0}",
    "{'loss': (lambda: __import__('os').system('touch {marker}'))(), 'epoch': 1.0}",
    "{'loss': open('{marker}', 'w').write('x'), 'epoch': 1.0}",
    "{'loss': [c for c in ().__class__.__base__.__subclasses__()], 'epoch': 1.0}",
    "{'loss': 1.0, **__import__('os').environ}",
    '{"step": 1, "loss": __import__("os").system("touch {marker}")}',
])
def test_code_in_a_dict_is_never_run(line, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    marker = tmp_path / "pwned"
    assert events_of(line.replace("{marker}", str(marker)) + "\n") == []
    assert not marker.exists()


def test_json_step_lines():
    text = ('{"step": 5, "loss": 0.9, "accuracy": 0.61, "phase": "train", "tokens": "1024", "nested": {"x": 1}}\n'
            'step report {"step": 10, "loss": 0.85, "ppl": NaN} done\n')
    assert events_of(text) == [Metrics(5, {"loss": 0.9, "accuracy": 0.61}), Metrics(10, {"loss": 0.85})]


def test_ordinary_log_lines_yield_nothing():
    text = ("[INFO|configuration_utils.py:733] >> Model config Qwen2Config {\n"
            '  "architectures": [\n    "Qwen2ForCausalLM"\n  ],\n  "rope_scaling": null,\n}\n'
            "GPU memory 78% used, 12% free\n"
            "format string {0} and {name} and 100% done | next\n"
            "训练数据加载完成，共 5000 条样本。\n")
    assert events_of(text) == []


def test_every_chunk_boundary_gives_the_same_events():
    data = ("预处理完成 ✓\n\r 33%|███▎      | 3/9 [00:12<00:25,  4.19s/it]"
            "\r                    \r{'loss': '1.921', 'learning_rate': '9.5e-05', 'epoch': '1'}\r\n"
            '{"step": 3, "tokens_per_second": 812.5}\n'
            "\r 44%|████▍     | 4/9 [00:20<00:26,  5.21s/it]").encode()
    expected = [Progress(3, 9, 25.0, 1 / 4.19), Metrics(3, {"loss": 1.921, "learning_rate": 9.5e-05, "epoch": 1.0}),
                Metrics(3, {"tokens_per_second": 812.5}), Progress(4, 9, 26.0, 1 / 5.21)]
    assert events_of(data) == expected
    for cut in range(len(data) + 1):
        parser = OutputParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.flush() == expected, cut
    parser = OutputParser()
    assert [e for i in range(len(data)) for e in parser.feed(data[i:i + 1])] + parser.flush() == expected


def test_an_unfinished_line_waits_for_its_end():
    parser = OutputParser()
    assert parser.feed(b"{'loss': 1.5, 'ep") == []
    assert parser.feed(b"och': 0.2}") == []
    assert parser.feed(b"\n") == [Metrics(None, {"loss": 1.5, "epoch": 0.2})]
    assert parser.flush() == []


def test_an_overlong_line_is_dropped_to_its_end():
    parser = OutputParser()
    assert parser.feed(b"x" * (MAX_LINE + 1)) == []
    assert parser.feed(b"{'loss': 9.9, 'epoch': 9.9}\r{'loss': 1.0, 'epoch': 0.1}\n") == [
        Metrics(None, {"loss": 1.0, "epoch": 0.1})]


def test_repeated_identical_redraws_are_reported_once():
    line = "\r 50%|█████     | 5/10 [00:05<00:05,  1.00it/s]"
    assert events_of(line * 3 + "\n") == [Progress(5, 10, 5.0, 1.0)]


@pytest.mark.parametrize("text, seconds", [
    ("03:10", 190.0), ("1:35:00", 5700.0), ("27:03:04", 97384.0), ("0:04:02", 242.0),
    ("1 day, 2:03:04", 93784.0), ("3 days, 0:00:01", 259201.0), ("0:00:01.500000", 1.5),
    ("?", None), ("", None), ("soon", None), ("-1 day, 23:59:59", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


TRAINER_LOG = (
    '{"current_steps": 5, "total_steps": 100, "loss": 2.1187, "lr": 1e-05, "epoch": 0.15, "percentage": 5.0, '
    '"elapsed_time": "0:01:02", "remaining_time": "0:19:38", "throughput": 1843.27, "total_tokens": 114287}\n'
    '{"current_steps": 10, "total_steps": 100, "loss": 1.7302, "lr": 2e-05, "epoch": 0.3, "percentage": 10.0, '
    '"elapsed_time": "0:02:05", "remaining_time": "0:18:45", "throughput": 1850.02, "total_tokens": 231252}\n'
    '{"current_steps": 10, "total_steps": 100, "eval_loss": 1.6811, "epoch": 0.3, "percentage": 10.0, '
    '"elapsed_time": "0:02:20", "remaining_time": "0:21:00", "throughput": 1651.8, "total_tokens": 231252}\n'
)


def test_trainer_log_lines():
    assert events_of(TRAINER_LOG, TrainerLogParser) == [
        Progress(5, 100, 1178.0, None),
        Metrics(5, {"loss": 2.1187, "learning_rate": 1e-05, "epoch": 0.15, "throughput": 1843.27,
                    "num_input_tokens_seen": 114287.0}),
        Progress(10, 100, 1125.0, None),
        Metrics(10, {"loss": 1.7302, "learning_rate": 2e-05, "epoch": 0.3, "throughput": 1850.02,
                     "num_input_tokens_seen": 231252.0}),
        Progress(10, 100, 1260.0, None),
        Metrics(10, {"eval_loss": 1.6811, "epoch": 0.3, "throughput": 1651.8, "num_input_tokens_seen": 231252.0}),
    ]


def test_trainer_log_of_a_resumed_run_is_not_counted_twice():
    def line(step, loss):
        return (f'{{"current_steps": {step}, "total_steps": 40, "loss": {loss}, "lr": 5e-05, "epoch": {step / 20}, '
                f'"percentage": {step * 2.5}, "elapsed_time": "0:00:{step:02d}", '
                '"remaining_time": "1 day, 2:03:04"}\n')

    first = line(10, 1.75) + line(20, 1.5) + line(30, 1.25)
    resumed = line(20, 1.52) + line(30, 1.27) + line(40, 0.9)  # resumed from checkpoint-10 after a crash
    parser = TrainerLogParser()
    parser.feed(first.encode())
    events = parser.feed(resumed.encode()) + parser.flush()
    assert events == [Progress(40, 40, 93784.0, None),
                      Metrics(40, {"loss": 0.9, "learning_rate": 5e-05, "epoch": 2.0})]


def test_trainer_log_split_anywhere_and_bad_lines():
    data = ('{"current_steps": 3, "total_steps": 30, "percentage": 10.0, "elapsed_time": "0:00:09", '
            '"remaining_time": "0:01:21"}\n'
            'not json\n{"current_steps": "4"}\n[1, 2]\n{"current_steps": 4, "total_steps": 30, "loss": tru\n'
            '{"current_steps": 6, "total_steps": 30, "loss": 1.5, "lr": 3e-05, "epoch": 0.2}').encode()
    expected = [Progress(3, 30, 81.0, None), Progress(6, 30, None, None),
                Metrics(6, {"loss": 1.5, "learning_rate": 3e-05, "epoch": 0.2})]
    for cut in range(0, len(data) + 1, 7):
        parser = TrainerLogParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.flush() == expected, cut
