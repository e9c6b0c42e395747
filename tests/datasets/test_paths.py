"""File names from clients: sanitized when harmless, refused when they try to leave their folder."""
import pytest

from portal.datasets.paths import sanitize_filename
from portal.errors import Invalid


@pytest.mark.parametrize("raw, clean", [
    ("train.jsonl", "train.jsonl"),
    ("my data (v2).jsonl", "my_data_v2_.jsonl"),
    ("dir/sub/x.csv", "x.csv"),
    ("C:\\Users\\me\\x.json", "x.json"),
    ("训练集.jsonl", "训练集.jsonl"),
    (".hidden.jsonl", "hidden.jsonl"),
    ("a" * 194 + ".jsonl", "a" * 194 + ".jsonl"),  # 200 bytes: the most a name may have
])
def test_harmless_names_are_cleaned(raw, clean):
    assert sanitize_filename(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "../x.jsonl", "a/../../x.jsonl", "/abs.jsonl", "\\\\unc\\x.jsonl",
                                 "nul\x00.jsonl", "line\nbreak.jsonl", "del\x7f.jsonl", "x.exe", "x", ".jsonl",
                                 "a" * 195 + ".jsonl", "训" * 65 + ".jsonl"])
def test_dangerous_or_useless_names_are_refused(raw):
    with pytest.raises(Invalid):
        sanitize_filename(raw)
