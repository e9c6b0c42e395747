"""Streaming helpers for files too big for one request: plain lines and JSONL records.

Both read and write one line at a time through a ``Session``, so one file is one document:
the same value gets the same tag on line 1 and on line 1,000,000.
"""
import json
from collections import Counter
from operator import itemgetter

_KIND = itemgetter(2)  # of a span: its type


def deidentify_lines(session, in_stream, out_stream) -> dict:
    """Copy *in_stream* to *out_stream* with each line de-identified.

    Returns ``{"lines": n, "entities": {type: count}}``.
    """
    counts = Counter()
    kinds = []  # of the entities since the last count: counted in C, a few thousand at a time
    lines = 0
    rewrite, write = session.rewrite, out_stream.write
    for line in in_stream:
        body = line.rstrip("\r\n")
        spans, _, text = rewrite(body)
        if spans:
            kinds.extend(map(_KIND, spans))
            write(text + line[len(body):])
            if len(kinds) > 4096:
                counts.update(kinds)
                kinds.clear()
        else:
            write(line)
        lines += 1
    counts.update(kinds)
    return {"lines": lines, "entities": dict(counts)}


def deidentify_jsonl(session, in_stream, out_stream, fields=None, first_line: int = 1) -> dict:
    """De-identify the string values of each JSON record.

    *fields* lists dotted paths (``text``, ``messages.content``; list indexes are not part of
    a path); ``None`` means every string value. Blank lines are kept; a line that is not
    JSON raises ``ValueError`` naming its line number (the first being *first_line*). Returns ``{"records": n, "entities":
    {type: count}, "fields": {path: {type: count}}}``.
    """
    wanted = None if fields is None else frozenset(fields)
    counts = Counter()
    per_field: dict[str, Counter] = {}
    records = 0
    for number, line in enumerate(in_stream, start=first_line):
        if not line.strip():
            out_stream.write(line)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not valid JSON ({exc.msg})") from None

        def visit(value, path):
            if isinstance(value, str):
                if wanted is not None and path not in wanted:
                    return value
                spans, _, text = session.rewrite(value)
                if spans:
                    found = Counter([span.type for span in spans])
                    counts.update(found)
                    per_field.setdefault(path, Counter()).update(found)
                return text
            if isinstance(value, dict):
                return {key: visit(item, f"{path}.{key}" if path else key) for key, item in value.items()}
            if isinstance(value, list):
                return [visit(item, path) for item in value]
            return value

        out_stream.write(json.dumps(visit(record, ""), ensure_ascii=False) + "\n")
        records += 1
    return {
        "records": records,
        "entities": dict(counts),
        "fields": {path: dict(found) for path, found in per_field.items()},
    }
