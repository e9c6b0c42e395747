"""De-identification benchmark: our engine against Presidio's pattern recognizers.

Run from the repository root::

    python bench/deid/bench_deid.py [--mb 5] [--runs 5] [--presidio-mb 0.5] [--density both] [--jobs-mb 32]

Builds deterministic ~5 MB mixed Chinese/English corpora (``corpus.py``) with ground-truth
spans and look-alike traps, sparse (a fifth of the sentences hold an entity or a trap, one per
~350 bytes) and dense (36 %, one per ~180 bytes). For each it prints, from one run: our MB/s
on one core with the ``default`` policy (the API path with the mapping, and the file path of
`flask deid` and dataset jobs), with the compiled engine and (in a child process,
``PORTAL_DEID_PURE=1``) the pure-Python one, Presidio's MB/s on a slice, and their ratio;
medians of ``--runs`` (ours and Presidio's runs taken in turn, so that both see the same
load), with the machine's load average beside them, as the machine is shared. Then recall
per kind, the share of traps altered, and PERSON (jieba).

Last, on a ``--jobs-mb`` file of the dense corpus (a big file: the size ``--jobs`` is for),
the file path in ``--jobs`` worker processes against one, in a small child process as
`flask deid` would run it, beside this machine's physical limit measured in the same run:
the same file cut in ``--jobs`` parts, each de-identified by its own independent
``--jobs 1`` process, all at once (no numbering shared between parts, so not one document).
"""
import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, for `portal`
sys.path.insert(0, str(HERE))

from corpus import build, person_documents  # noqa: E402

from portal.deid import native, parallel  # noqa: E402
from portal.deid.engine import Deidentifier  # noqa: E402
from portal.deid.policies import builtin_policies, parse_policy  # noqa: E402

KINDS = ("PHONE", "LANDLINE", "ID_CARD", "BANK_CARD", "USCC", "PASSPORT", "POSTCODE", "PLATE", "EMAIL", "IP", "URL")
PRESIDIO_TYPES = {"PHONE": "CN_PHONE", "ID_CARD": "CN_ID", "EMAIL": "EMAIL_ADDRESS", "BANK_CARD": "CREDIT_CARD"}
ALL_KINDS_POLICY = "extends: default\nentities: {PASSPORT: tag, POSTCODE: tag}\n"
BATCH = 200  # texts per request, as the web layer would send them
DENSITIES = {"sparse": 0.2, "dense": 0.36}  # share of sentences with an entity or a trap


def megabytes(documents) -> float:
    return sum(len(text.encode()) for text in documents) / 1e6


def run_ours(deid, documents):
    results = []
    for i in range(0, len(documents), BATCH):
        results.extend(deid.run(documents[i:i + BATCH], return_mapping=True).results)
    return results


def spans_of(results):
    """``(start, end, type)`` per entity, for ``recall`` (outside the timed part)."""
    return [[(e["start"], e["end"], e["type"]) for e in result["entities"]] for result in results]


def file_ours(deid, data: bytes, jobs: int):
    """The file path of `flask deid` and dataset jobs: one document, *jobs* processes."""
    out = io.BytesIO()
    parallel.deidentify(deid, io.BytesIO(data), out, "lines", jobs=jobs, mapping=False)
    return out


def timed(function, runs):
    seconds, output = [], None
    for _ in range(runs):
        start = time.perf_counter()
        output = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), output


def in_turn(functions: dict, runs: int) -> dict:
    """Median seconds of each function, run in turn *runs* times (load drifts hit all alike)."""
    seconds = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def recall(truth, found, type_of=lambda kind: kind):
    hits, totals = {}, {}
    for expected, detected in zip(truth, found):
        for start, end, kind in expected:
            totals[kind] = totals.get(kind, 0) + 1
            if any(t == type_of(kind) and s <= start and e >= end for s, e, t in detected):
                hits[kind] = hits.get(kind, 0) + 1
    return {kind: hits.get(kind, 0) / total for kind, total in totals.items()}, totals


def traps_altered(traps, found):
    total = altered = 0
    for trap_spans, detected in zip(traps, found):
        for start, end, _ in trap_spans:
            total += 1
            altered += any(s < end and start < e for s, e, _ in detected)
    return altered, total


def presidio_engines():
    """Analyzer with pattern recognizers only (no NLP model: NoOpNlpEngine), and anonymizer."""
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer
    from presidio_anonymizer import AnonymizerEngine

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    # The e-mail recognizer's tldextract tries to download the public suffix list, fails
    # offline with a traceback, and then uses the snapshot it ships: keep the output clean.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(EmailRecognizer())
    registry.add_recognizer(CreditCardRecognizer())
    registry.add_recognizer(PatternRecognizer(supported_entity="CN_PHONE", patterns=[Pattern(
        "cn_mobile", r"(?<!\d)(?:(?:\+86|0086)[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)", 0.6)]))
    registry.add_recognizer(PatternRecognizer(supported_entity="CN_ID", patterns=[Pattern(
        "cn_id", r"(?<!\d)\d{17}[\dXx](?!\d)", 0.6)]))
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    return analyzer, AnonymizerEngine()


def run_presidio(analyzer, anonymizer, documents):
    found = []
    for text in documents:
        results = analyzer.analyze(text=text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=results)
        found.append([(r.start, r.end, r.entity_type) for r in results])
    return found


def jobs_child(path: str, jobs: int, runs: int) -> None:
    """In a child process that holds nothing but the engine (as `flask deid` does): print the
    median seconds of the file path with one process and with *jobs*, taken in turn, and of
    *jobs* independent one-process runs over the file's parts at once."""
    from multiprocessing import get_context

    default = Deidentifier(builtin_policies()["default"], b"bench-secret")

    def once(jobs_now: int, start: int = 0, end: int | None = None) -> None:
        with open(path, "rb") as source:
            source.seek(start)
            data = source.read(None if end is None else end - start)
        parallel.deidentify(default, io.BytesIO(data), io.BytesIO(), "lines", jobs=jobs_now, mapping=False)

    size = os.path.getsize(path)
    with open(path, "rb") as source:  # part boundaries at line ends
        cuts = [0]
        for part in range(1, jobs):
            source.seek(size * part // jobs)
            source.readline()
            cuts.append(source.tell())
        cuts.append(size)

    def parts_at_once() -> None:
        context = get_context("fork")
        children = [context.Process(target=once, args=(1, cuts[i], cuts[i + 1])) for i in range(jobs)]
        for child in children:
            child.start()
        for child in children:
            child.join()

    medians = in_turn({"1": lambda: once(1), "n": lambda: once(jobs), "parts": parts_at_once}, runs)
    print(json.dumps({"medians": medians, "load": load()}))


def one_core_child(args, density: str) -> None:
    """In a child process: print the median seconds of the API and file paths on *density*."""
    documents, _, _ = build(args.mb, share=DENSITIES[density])
    data = "\n".join(documents).encode() + b"\n"
    default = Deidentifier(builtin_policies()["default"], b"bench-secret")
    medians = in_turn({"api": lambda: run_ours(default, documents), "file": lambda: file_ours(default, data, 1)},
                      args.runs)
    print(json.dumps({**medians, "load": load()}))


def bench_jobs(args) -> None:
    documents, _, _ = build(args.jobs_mb, seed=77, share=DENSITIES["dense"])
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as file:
        file.write("\n".join(documents).encode() + b"\n")
        file.flush()
        size = os.path.getsize(file.name) / 1e6
        del documents
        child = subprocess.run([sys.executable, __file__, "--jobs-child", file.name, "--jobs", str(args.jobs),
                                "--runs", str(args.runs)], capture_output=True, text=True, check=True)
    result = json.loads(child.stdout.splitlines()[-1])
    one, many, parts = (result["medians"][key] for key in ("1", "n", "parts"))
    print(f"\n=== --jobs on a big file: {size:.1f} MB of the dense corpus, in a child process as `flask deid` "
          f"runs ({engine_name()} engine)")
    print(f"{'file path, --jobs 1':<36}{size / one:>8.1f} MB/s")
    print(f"{'file path, --jobs %d' % args.jobs:<36}{size / many:>8.1f} MB/s  {one / many:.2f}x --jobs 1 "
          f"(goal >= 1.8x on 2 cores; same output bytes)")
    print(f"{'physical limit, %d parts at once' % args.jobs:<36}{size / parts:>8.1f} MB/s  {one / parts:.2f}x "
          f"--jobs 1 (independent processes, nothing shared)   [medians of {args.runs}, in turn; "
          f"{result['load']}]")


def engine_name() -> str:
    return "compiled" if native.active() else "pure-Python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="corpus size in MB (UTF-8)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each figure (median)")
    parser.add_argument("--density", choices=["sparse", "dense", "both"], default="both")
    parser.add_argument("--presidio-mb", type=float, default=0.5, help="slice given to Presidio")
    parser.add_argument("--jobs", type=int, default=parallel.cores(), help="worker processes for the file path")
    parser.add_argument("--person-texts", type=int, default=2000, help="texts for the PERSON run")
    parser.add_argument("--jobs-mb", type=float, default=32.0, help="size of the file for the --jobs figure")
    parser.add_argument("--one-core-child", choices=list(DENSITIES), help=argparse.SUPPRESS)
    parser.add_argument("--jobs-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jobs_child:
        return jobs_child(args.jobs_child, args.jobs, args.runs)
    if args.one_core_child:
        return one_core_child(args, args.one_core_child)
    print(f"machine: {os.cpu_count()} cores, {load()} at the start; {engine_name()} engine")
    analyzer, anonymizer = presidio_engines()
    for density in DENSITIES if args.density == "both" else [args.density]:
        bench_density(args, density, analyzer, anonymizer)
    bench_person(args)
    bench_jobs(args)


def bench_density(args, density: str, analyzer, anonymizer) -> None:
    documents, truth, traps = build(args.mb, share=DENSITIES[density])
    size = megabytes(documents)
    data = "\n".join(documents).encode() + b"\n"
    found_count = sum(map(len, truth)) + sum(map(len, traps))
    print(f"\n=== {density}: {len(documents)} texts, {size:.2f} MB, {sum(map(len, truth))} entities, "
          f"{sum(map(len, traps))} traps (one per {size * 1e6 / found_count:.0f} bytes)")

    default = Deidentifier(builtin_policies()["default"], b"bench-secret")
    slice_end, slice_size = 0, 0.0
    while slice_end < len(documents) and slice_size < args.presidio_mb:
        slice_size += len(documents[slice_end].encode()) / 1e6
        slice_end += 1
    run_presidio(analyzer, anonymizer, documents[:20])  # warm up (lazy imports, compiled patterns)
    one = in_turn({
        "api": lambda: run_ours(default, documents),
        "file": lambda: file_ours(default, data, 1),
        "presidio": lambda: run_presidio(analyzer, anonymizer, documents[:slice_end]),
    }, args.runs)
    one_load = load()
    ours_speed, presidio_speed = size / one["api"], slice_size / one["presidio"]
    print(f"{'throughput, one core':<36}{'MB/s':>8}")
    print(f"{'ours, default policy + mapping':<36}{ours_speed:>8.1f}   (API path: every result kept in memory; "
          f"goal >= 30 on dense; {engine_name()} engine)")
    print(f"{'ours, file path':<36}{size / one['file']:>8.1f}   (`flask deid`, dataset jobs; --jobs 1)")
    print(f"{'Presidio, pattern recognizers':<36}{presidio_speed:>8.2f}   ({slice_size:.2f} MB slice)")
    print(f"{'ratio ours/Presidio':<36}{ours_speed / presidio_speed:>8.1f}x  (goal >= 5x)   "
          f"[medians of {args.runs}, in turn; {one_load}]")
    if native.active():
        pure = json.loads(subprocess.run(
            [sys.executable, __file__, "--one-core-child", density, "--mb", str(args.mb), "--runs", str(args.runs)],
            env={**os.environ, "PORTAL_DEID_PURE": "1"}, capture_output=True, text=True, check=True).stdout)
        print(f"{'ours, pure Python: API path':<36}{size / pure['api']:>8.1f}   (PORTAL_DEID_PURE=1, a child "
              f"process; {one['api'] / pure['api']:.2f}x the compiled time)")
        print(f"{'ours, pure Python: file path':<36}{size / pure['file']:>8.1f}   [{pure['load']}]")
    assert file_ours(default, data, args.jobs).getvalue() == file_ours(default, data, 1).getvalue()

    every_kind = Deidentifier(parse_policy(ALL_KINDS_POLICY), b"bench-secret")
    found = spans_of(run_ours(every_kind, documents))
    ours_recall, totals = recall(truth, found)
    ours_altered, trap_total = traps_altered(traps, found)
    presidio_found = run_presidio(analyzer, anonymizer, documents[:slice_end])
    presidio_recall, _ = recall(truth[:slice_end], presidio_found, lambda k: PRESIDIO_TYPES.get(k))
    presidio_altered, presidio_traps = traps_altered(traps[:slice_end], presidio_found)
    print()
    print(f"{'recall':<12}{'count':>7}{'ours':>8}{'Presidio':>10}")
    for kind in KINDS:
        theirs = f"{presidio_recall[kind]:.3f}" if kind in PRESIDIO_TYPES and kind in presidio_recall else "-"
        print(f"{kind:<12}{totals.get(kind, 0):>7}{ours_recall.get(kind, 0):>8.3f}{theirs:>10}")
    print(f"traps altered: ours {ours_altered}/{trap_total} = {100 * ours_altered / trap_total:.2f}% "
          f"(goal <= 0.5%); Presidio {presidio_altered}/{presidio_traps} = "
          f"{100 * presidio_altered / max(presidio_traps, 1):.2f}%")


def bench_person(args) -> None:
    people, people_truth = person_documents(args.person_texts)
    start = time.perf_counter()
    strict = Deidentifier(builtin_policies()["strict"], b"bench-secret")
    strict.run(["客户王小明"])  # loads jieba's dictionary
    load_seconds = time.perf_counter() - start
    person_seconds, person_found = timed(lambda: run_ours(strict, people), 1)
    person_recall, person_total = recall(people_truth, spans_of(person_found))
    print()
    print(f"PERSON (strict policy, jieba): {megabytes(people) / person_seconds:.2f} MB/s on "
          f"{person_total['PERSON']} short texts, recall {person_recall.get('PERSON', 0):.3f}, "
          f"jieba load {load_seconds:.1f} s")


if __name__ == "__main__":
    main()
