"""Big files on every core: chunks of lines de-identified in worker processes, in order.

Detection, the bulk of the work, runs in the workers. What depends on the document so far —
tag numbers, pseudonyms (a collision draws again) and the mapping's first spelling — is left
as a hole there and filled here, in document order, by the session's own ``Replacer``; so the
output has the same bytes as a run in this process (``--jobs 1``). A chunk the workers cannot
do exactly (a bad line, or text holding the hole character itself) is done again here, by the
in-process code, which then also raises the error a single process would.
"""
import io
import json
import os
import threading
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from portal.deid import fakes, streams
from portal.deid.engine import Deidentifier
from portal.deid.operators import ORDERED, Replacer

#: below this size a file is done in-process unless more jobs are asked for by name
MIN_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
HOLE = "\ue000"  # a private-use character: stands for a replacement the parent decides
HOLE_BYTES = HOLE.encode()
_escape = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes for a str


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def lines_of(data: bytes, splitting: str):
    """The lines of *data* as the in-process readers see them: ``universal`` like a file
    opened with ``newline=""`` (the CLI: ``\\n``, ``\\r\\n`` or ``\\r`` end a line), ``lf`` like
    a binary file read line by line and decoded (dataset jobs)."""
    if splitting == "universal":
        return io.StringIO(data.decode("utf-8"), newline="")
    return (line.decode("utf-8") for line in io.BytesIO(data))


class _Holes(Replacer):
    """A worker's replacer: the order-dependent operators give ``HOLE``, and each hole names a
    slot. A tagged value has one slot however often it comes (the parent numbers a chunk's new
    values a kind at a time); a pseudonym has one per occurrence, with its first draw worked
    out (the costly part, most often the one kept) and the original reshaped to it.

    Tagged slots are kept as flat lists of strings per kind, not as a tuple each: strings are
    nothing for the garbage collector to walk, here or in the parent that unpickles them; and
    their originals only when the parent keeps a mapping (``keeps_mapping``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ordered = {kind: rule.operator for kind, rule in self._rules.items() if rule.operator in ORDERED}
        self.slots = 0
        self.tagged = {kind: ([], [], []) for kind, operator in self._ordered.items() if operator == "tag"}
        self.pseudonyms: dict[int, tuple] = {}  # slot -> (kind, value, original, (first draw, reshaped))
        self.holes: list[int] = []  # the slot of each hole, in text order
        self._slot_of = {kind: {} for kind in self._ordered}
        self._first = {kind: {} for kind in self._ordered}

    def fresh(self, kind: str, value: str, original: str, drawn=None) -> str:
        operator = self._ordered.get(kind)
        if operator is None:
            return super().fresh(kind, value, original)
        slot = self._slot_of[kind].get(value) if operator == "tag" else None
        if slot is None:
            slot, self.slots = self.slots, self.slots + 1
            if operator == "tag":
                self._slot_of[kind][value] = slot
                slots, values, originals = self.tagged[kind]
                slots.append(slot)
                values.append(value)
                if self.keeps_mapping:
                    originals.append(original)
            else:
                first = self._first[kind].get(value)
                if first is None:
                    first = self._first[kind][value] = self.draw(kind, value, 0)
                self.pseudonyms[slot] = (kind, value, original, (first, fakes.reshape(original, value, first)))
        self.holes.append(slot)
        return HOLE

    def filled(self) -> tuple:
        """``((tagged, pseudonyms, slots), holes)``: ``_fill``'s arguments, and the slot of each hole."""
        tagged = {kind: lists for kind, lists in self.tagged.items() if lists[0]}
        return (tagged, self.pseudonyms, self.slots), self.holes


class _Sampler:
    """Wraps a session: keeps the first *limit* before/after pairs of texts with entities,
    with the number of holes written before each, so that the parent can fill them."""

    def __init__(self, session, limit: int, holes: list | None = None):
        self.session, self.limit, self.samples, self._holes = session, limit, [], holes

    def rewrite(self, text: str) -> tuple:
        result = self.session.rewrite(text)
        if result[0] and len(self.samples) < self.limit:
            before = len(self._holes) - result[2].count(HOLE) if self._holes is not None else 0
            self.samples.append((text[:500], result[2], before))
        return result


_worker: tuple | None = None  # (engine, seed, fmt, fields, splitting, samples, mapping) in a worker process


def _start_worker(policy, secret: bytes, seed, fmt: str, fields, splitting: str, samples: int, mapping: bool) -> None:
    global _worker
    _worker = (Deidentifier(policy, secret), seed, fmt, fields, splitting, samples, mapping)


def _work(data: bytes):
    """One chunk in a worker: ``(UTF-8 text with holes, _Holes.filled(), counts, samples,
    lines)``, or None when the chunk must be done in-process (it raised, or holds ``HOLE``
    itself). Bytes, not text: the parent joins and writes them as they are."""
    engine, seed, fmt, fields, splitting, samples, mapping = _worker
    session = engine.session(seed, replacer=_Holes, mapping=mapping)
    holes = session.replacer.holes
    sampler = _Sampler(session, samples, holes) if samples else session
    out = io.StringIO()
    try:
        lines = list(lines_of(data, splitting))
        counts = streams.deidentify_jsonl(sampler, lines, out, fields) if fmt == "jsonl" else \
            streams.deidentify_lines(sampler, lines, out)
    except (ValueError, UnicodeDecodeError):
        return None
    text = out.getvalue()
    if text.count(HOLE) != len(holes):
        return None
    return text.encode(), session.replacer.filled(), counts, sampler.samples if samples else [], len(lines)


def _chunks(source, size: int):
    """Whole lines of the binary *source*, about *size* bytes at a time."""
    while True:
        data = source.read(size)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += source.readline()
        yield data


def _context():
    # fork is instant, but safe only in a process running one thread (the CLI); the
    # supervisor runs threads, so its workers fork from a clean server process that has
    # imported the engine once
    if threading.active_count() == 1:
        return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def workers(size: int, jobs: int | None = None) -> int:
    """*jobs* when asked for by name, else every core for a file of ``MIN_BYTES`` or more
    (worker processes take a moment to start: not worth it for a small file)."""
    if jobs is not None:
        return max(1, jobs)
    return cores() if size >= MIN_BYTES else 1


def deidentify(engine: Deidentifier, source, out, fmt: str, *, fields=None, seed=None, jobs: int = 1,
               splitting: str = "universal", samples: int = 0, mapping: bool = True, progress=None,
               chunk_bytes: int = CHUNK_BYTES):
    """De-identify the binary stream *source* into the binary *out* (``out.write(data)``, UTF-8),
    one chunk of lines at a time, in *jobs* processes (1: this one).

    *fmt* is ``lines`` or ``jsonl``; *progress(bytes_done)* is called after each chunk and may
    raise to stop. Returns ``(counts as streams return them, samples, session)``: at most
    *samples* before/after pairs of texts with entities, and the session holds the mapping
    (unless *mapping* is False).
    """
    document = _Document(engine.session(seed, mapping=mapping), out, fmt, fields, splitting, samples, progress)
    pool = None
    try:
        if jobs <= 1:
            for data in _chunks(source, chunk_bytes):
                document.finish(data, None)
        else:
            pool = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_start_worker, initargs=(
                engine.policy, engine.secret, seed, fmt, fields, splitting, samples, mapping))
            pending = deque()
            for data in _chunks(source, chunk_bytes):
                pending.append((data, pool.submit(_work, data)))
                if len(pending) > 2 * jobs:  # a bounded window: memory stays a few chunks
                    data, future = pending.popleft()
                    document.finish(data, future.result())
            while pending:
                data, future = pending.popleft()
                document.finish(data, future.result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return document.counts(), document.samples, document.session


class _Document:
    """One file as one document: its session, and counts and samples summed over chunks in
    document order (so keys keep the order a single pass gives them)."""

    def __init__(self, session, out, fmt, fields, splitting, samples: int, progress):
        self.session, self.out, self.fmt, self.fields, self.splitting = session, out, fmt, fields, splitting
        self.limit, self.progress, self.samples = samples, progress, []
        self.unit = "records" if fmt == "jsonl" else "lines"
        self.line, self.done, self.total, self.entities, self.per_field = 1, 0, 0, Counter(), {}

    def finish(self, data: bytes, result) -> None:
        """Write one chunk's output: the worker's *result* with its holes filled in document
        order, or (*result* None) the chunk done here."""
        if result is None:
            lines = list(lines_of(data, self.splitting))
            room = self.limit - len(self.samples)
            sampler = _Sampler(self.session, room) if room else self.session
            text = io.StringIO()
            if self.fmt == "jsonl":
                counts = streams.deidentify_jsonl(sampler, lines, text, self.fields, first_line=self.line)
            else:
                counts = streams.deidentify_lines(sampler, lines, text)
            self.out.write(text.getvalue().encode())
            samples = [(before, after[:500]) for before, after, _ in sampler.samples] if room else []
            count = len(lines)
        else:
            text, (slots, holes), counts, worker_samples, count = result
            table = _fill(self.session.replacer, *slots, escaped=self.fmt == "jsonl")
            encoded = [replacement.encode() for replacement in table]
            self.out.write(_joined(text, list(map(encoded.__getitem__, holes)), HOLE_BYTES))
            samples = [(before, _joined(after, [table[slot] for slot in holes[start:start + after.count(HOLE)]],
                                        HOLE)[:500]) for before, after, start in worker_samples]
        self.total += counts[self.unit]
        self.entities.update(counts["entities"])
        for path, found in counts.get("fields", {}).items():
            self.per_field.setdefault(path, Counter()).update(found)
        self.samples.extend(samples[:self.limit - len(self.samples)])
        self.line += count
        self.done += len(data)
        if self.progress is not None:
            self.progress(self.done)

    def counts(self) -> dict:
        counts = {self.unit: self.total, "entities": dict(self.entities)}
        if self.unit == "records":
            counts["fields"] = {path: dict(found) for path, found in self.per_field.items()}
        return counts


def _fill(replacer: Replacer, tagged, pseudonyms, slots: int, escaped: bool) -> list[str]:
    """The replacement of each slot (``_Holes``), decided by the document's *replacer* in
    document order; *escaped* as inside a JSON string."""
    table = [None] * slots
    firsts = {}  # slot -> original, of the tags new here: the mapping takes them in document order
    for kind, (kind_slots, values, originals) in tagged.items():
        replacements, new = replacer.tags(kind, values)
        for slot, replacement in zip(kind_slots, replacements):
            table[slot] = replacement
        if originals:
            firsts.update((kind_slots[i], originals[i]) for i in new)
    fixed, fresh, note = replacer.fixed, replacer.fresh, replacer.note
    for slot in sorted([*firsts, *pseudonyms]):
        if slot in firsts:
            note(table[slot], firsts[slot])
        else:
            kind, value, original, drawn = pseudonyms[slot]
            replacement = fixed[kind].get(value)
            table[slot] = fresh(kind, value, original, drawn) if replacement is None else replacement
    if escaped:  # as json.dumps would have written it
        table = [_escape(replacement)[1:-1] for replacement in table]
    return table


def _joined(text, replacements: list, hole):
    """*text* (str or bytes) with each *hole* in it replaced by the next of *replacements*."""
    if not replacements:
        return text
    parts = [None] * (2 * len(replacements) + 1)
    parts[::2] = text.split(hole)
    parts[1::2] = replacements
    return text[:0].join(parts)
