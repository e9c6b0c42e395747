"""Where dataset files live under the training dir, and which names are allowed there.

`<training_dir>/datasets/<dataset name>/<upload_id>_<file name>` is a file a project can name
as `datasets/<dataset name>/<stored_name>`; bytes in flight are in `.<upload_id>.part` beside
it (the same filesystem, so completing an upload is an atomic rename).
"""
import re
import unicodedata
from pathlib import Path

from flask import current_app

from portal.errors import Invalid
from portal.i18n import _l

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".txt")
# in UTF-8 bytes: `<upload_id>_<name>` (37 more) must fit a filesystem's 255-byte names, with
# room for the `.deid` a de-identified copy adds
MAX_FILENAME_BYTES = 200
_UNSAFE = re.compile(r"[^\w.+-]+")  # \w is Unicode-aware: 训练集.jsonl keeps its name


def datasets_root() -> Path:
    return current_app.config["PORTAL"].training_dir / "datasets"


def dataset_dir(name: str) -> Path:
    return datasets_root() / name


def final_path(dataset_name: str, stored_name: str) -> Path:
    return dataset_dir(dataset_name) / stored_name


def part_path(dataset_name: str, upload_id: str) -> Path:
    # a dot file with a suffix no dataset has: the project form's file list never offers it
    return dataset_dir(dataset_name) / f".{upload_id}.part"


def relative(dataset_name: str, stored_name: str) -> str:
    """The path a project's `dataset_name` uses (relative to the training dir)."""
    return f"datasets/{dataset_name}/{stored_name}"


def check_dataset_name(name: str) -> str:
    if not DATASET_NAME.match(name or ""):
        raise Invalid(_l("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    return name


def sanitize_filename(raw: str | None) -> str:
    """A safe file name from what the client sent; Invalid when it tries to leave its folder.

    Control characters, absolute paths and `..` are refused outright (they are never an
    accident); a browser's `C:\\Users\\me\\train.jsonl` keeps its last part; other unsafe
    characters become `_`.
    """
    if not raw or not raw.strip():
        raise Invalid(_l("a file name is required (multipart filename, X-Filename header or ?filename=)"))
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise Invalid(_l("the file name contains NUL or control characters"))
    if raw.startswith(("/", "\\")):
        raise Invalid(_l("the file name must not be an absolute path"))
    parts = re.split(r"[\\/]", raw)
    if any(part.strip() == ".." for part in parts):
        raise Invalid(_l("the file name must not contain '..'"))
    name = unicodedata.normalize("NFC", parts[-1].strip())
    name = _UNSAFE.sub("_", name).lstrip("._")
    stem, dot, suffix = name.rpartition(".")
    size = len(name.encode("utf-8"))
    if size > MAX_FILENAME_BYTES:
        raise Invalid(_l("the file name is %(size)s bytes in UTF-8; at most %(limit)s are allowed (a Chinese "
                         "character takes 3)", size=size, limit=MAX_FILENAME_BYTES))
    if not name or not dot or not stem:
        raise Invalid(_l("the file name %(name)s needs a name and one of the suffixes %(suffixes)s", name=repr(raw),
                         suffixes=", ".join(SUFFIXES)))
    if not name.lower().endswith(SUFFIXES):
        raise Invalid(_l("dataset files must end in %(suffixes)s; got %(name)s", suffixes=", ".join(SUFFIXES),
                         name=repr(name)))
    return f"{stem}.{suffix.lower()}"  # LLaMA-Factory's data/loader.py looks the suffix up case-sensitively
