"""Validate a dataset file: detect its format, check every record, count, gather statistics.

Pure functions of a path (no database), so the upload request can run it for a small file
and the supervisor's pool for a large one. JSON lines are parsed per line with orjson from
bytes: it checks UTF-8 as it parses, so valid files are never decoded twice.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from portal.datasets import readers
from portal.i18n import N_, said
from portal.datasets.formats import FORMATS, Checker, Text, detect

DETECT_RECORDS = 1000  # records looked at to find the format before giving up


@dataclass
class Result:
    status: str  # ready | invalid
    format: str | None
    records: int | None
    report: dict
    stats: dict | None = None
    notes: list[str] = field(default_factory=list)


def problem_of(raw: bytes) -> dict:
    """Why a line or element is not a JSON value, with the byte of a UTF-8 error."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return N_("invalid UTF-8 at byte %(byte)s of the record", byte=error.start)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return N_("not valid JSON: %(error)s", error=str(error))
    return N_("not valid JSON")


def _checker_for(records) -> Checker | None:
    for rec in records:
        if type(rec) is dict:
            name = detect(rec)
            if name:
                return FORMATS[name]()
    return None


def _first_records(lines) -> list:
    found = []
    for line in lines[:DETECT_RECORDS]:
        try:
            found.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return found


def _feed_lines(checker: Checker, lines: list[bytes], lineno: int) -> int:
    """Check JSON lines; returns how many were blank. The validator's hot loop."""
    loads, check, error = orjson.loads, checker.check, checker.error
    blank = 0
    for line in lines:
        lineno += 1
        try:
            rec = loads(line)
        except orjson.JSONDecodeError:
            if line.strip():
                error(lineno, problem_of(line))
            else:
                blank += 1
            continue
        problem = check(rec)
        if problem is not None:
            error(lineno, problem)
    return blank


def _jsonl(path: Path, progress) -> tuple[Checker | None, dict]:
    checker, lineno, blank = None, 0, 0
    with open(path, "rb") as handle:
        for lines, offset in readers.line_blocks(handle):
            if checker is None:
                checker = _checker_for(_first_records(lines))
                if checker is None:
                    return None, {}
            blank += _feed_lines(checker, lines, lineno)
            lineno += len(lines)
            progress(offset)
    return checker, {"lines": lineno, "blank_lines": blank}


def _array(path: Path, progress) -> tuple[Checker | None, dict]:
    checker, waiting, elements = None, [], 0
    with open(path, "rb") as handle:
        for line, end, piece in readers.array_elements(handle):
            elements += 1
            try:
                rec = orjson.loads(piece)
            except orjson.JSONDecodeError:
                rec = readers.BrokenFile(line, problem_of(piece))
            if checker is None:
                waiting.append((line, rec))
                checker = _checker_for([rec])
                if checker is None and len(waiting) < DETECT_RECORDS:
                    continue
                if checker is None:
                    return None, {}
                for at, early in waiting:
                    problem = early.message if isinstance(early, readers.BrokenFile) else checker.check(early)
                    if problem:
                        checker.error(at, problem)
                continue
            problem = rec.message if isinstance(rec, readers.BrokenFile) else checker.check(rec)
            if problem:
                checker.error(line, problem)
            if elements % 10000 == 0:
                progress(end)
    if checker is None and waiting:
        return None, {}
    return checker or Checker(), {"elements": elements}


def _csv(path: Path, progress) -> tuple[Checker | None, dict]:
    columns = readers.csv_columns(path)
    name = detect(columns)
    if name not in ("alpaca", "text"):
        return None, {"columns": columns}
    checker = FORMATS[name]()
    for line, row in readers.csv_rows(path):
        problem = checker.check(row)
        if problem:
            checker.error(line, problem)
    return checker, {"columns": columns}


def _txt(path: Path, progress) -> tuple[Checker, dict]:
    checker, lineno = Text(), 0
    with open(path, "rb") as handle:
        for lines, offset in readers.line_blocks(handle):
            for raw in lines:
                lineno += 1
                try:
                    text = raw.decode("utf-8").rstrip("\r")
                except UnicodeDecodeError as error:
                    checker.error(lineno, f"invalid UTF-8 at byte {error.start} of the line")
                    continue
                if text and not text.isspace():
                    checker.check(text)
            progress(offset)
    return checker, {"lines": lineno}


READERS = {"jsonl": _jsonl, "array": _array, "csv": _csv, "txt": _txt}


def validate(path: Path, progress: Callable[[int], None] | None = None) -> Result:
    """Check the whole file; `progress(bytes_done)` is called as it goes."""
    kind = readers.kind_of(path)
    if kind == "parquet":
        return Result("ready", "parquet", None, {"kind": kind, "errors": [], "bad_records": 0,
                                                 "notes": ["parquet files are stored as they are, not checked"]})
    report = {"kind": kind, "errors": [], "bad_records": 0}
    try:
        checker, extra = READERS[kind](path, progress or (lambda done: None))
    except readers.BrokenFile as broken:
        return Result("invalid", None, None, {**report, "bad_records": 1,
                                              "errors": [{"line": broken.line, **said(broken.message)}]})
    report.update(extra)
    if checker is None:
        report["errors"] = [{"line": 1, **said(N_("cannot tell the format: expected alpaca (instruction, output), "
                                                  "sharegpt (conversations), OpenAI (messages) or text records"))}]
        return Result("invalid", None, None, report)
    report.update(errors=checker.errors, bad_records=checker.bad)
    if not checker.records and not checker.bad:
        report["errors"] = [{"line": 1, **said(N_("the file has no records"))}]
    status = "ready" if checker.records and not report["errors"] else "invalid"
    return Result(status, checker.name or None, checker.records, report, checker.stats())
