"""De-identification benchmark: our engine against Presidio's pattern recognizers.

Run from the repository root::

    python bench/deid/bench_deid.py [--mb 5] [--runs 5] [--presidio-mb 0.5] [--density both]

Builds deterministic ~5 MB mixed Chinese/English corpora (``corpus.py``) with ground-truth
spans and look-alike traps, sparse (a fifth of the sentences hold an entity or a trap, one per
~350 bytes) and dense (36 %, one per ~180 bytes). For each it prints, from one run: our MB/s
on one core with the ``default`` policy (the API path with the mapping, and the file path of
`flask deid` and dataset jobs), Presidio's MB/s on a slice, their ratio, and the file path in
worker processes (``--jobs``) against one; medians of ``--runs`` (ours and Presidio's runs
taken in turn, so that both see the same load), with the machine's load average beside them,
as the machine is shared. Then recall per kind, the share of traps altered, and PERSON (jieba).
"""
import argparse
import io
import logging
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, for `portal`
sys.path.insert(0, str(HERE))

from corpus import build, person_documents  # noqa: E402

from portal.deid import parallel  # noqa: E402
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


def cpu_seconds(function) -> tuple[float, float]:
    """CPU seconds this process and its (finished) workers spent in *function*: unlike the
    wall clock, what a shared machine's other users take does not show in it."""
    def now():
        own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime

    before = now()
    function()
    after = now()
    return after[0] - before[0], after[1] - before[1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="corpus size in MB (UTF-8)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each figure (median)")
    parser.add_argument("--density", choices=["sparse", "dense", "both"], default="both")
    parser.add_argument("--presidio-mb", type=float, default=0.5, help="slice given to Presidio")
    parser.add_argument("--jobs", type=int, default=parallel.cores(), help="worker processes for the file path")
    parser.add_argument("--person-texts", type=int, default=2000, help="texts for the PERSON run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {load()} at the start")
    analyzer, anonymizer = presidio_engines()
    for density in DENSITIES if args.density == "both" else [args.density]:
        bench_density(args, density, analyzer, anonymizer)
    bench_person(args)


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
    many = in_turn({"1": lambda: file_ours(default, data, 1),
                    "n": lambda: file_ours(default, data, args.jobs)}, args.runs)
    many_load = load()
    ours_speed, presidio_speed = size / one["api"], slice_size / one["presidio"]
    print(f"{'throughput, one core':<36}{'MB/s':>8}")
    print(f"{'ours, default policy + mapping':<36}{ours_speed:>8.1f}   (API path: every result kept in memory; "
          "goal >= 30 on dense)")
    print(f"{'ours, file path':<36}{size / one['file']:>8.1f}   (`flask deid`, dataset jobs; --jobs 1)")
    print(f"{'Presidio, pattern recognizers':<36}{presidio_speed:>8.2f}   ({slice_size:.2f} MB slice)")
    print(f"{'ratio ours/Presidio':<36}{ours_speed / presidio_speed:>8.1f}x  (goal >= 5x)   "
          f"[medians of {args.runs}, in turn; {one_load}]")
    print(f"{'file path, --jobs %d' % args.jobs:<36}{size / many['n']:>8.1f}   "
          f"{many['1'] / many['n']:.2f}x --jobs 1 ({size / many['1']:.1f} MB/s; goal >= 1.8x on 2 cores; "
          f"same output bytes)   [{many_load}]")
    assert file_ours(default, data, args.jobs).getvalue() == file_ours(default, data, 1).getvalue()
    alone, _ = cpu_seconds(lambda: file_ours(default, data, 1))
    parent, workers = cpu_seconds(lambda: file_ours(default, data, args.jobs))
    print(f"{'  CPU seconds':<36}one process {alone:.2f}; --jobs {args.jobs}: this process {parent:.2f} + workers "
          f"{workers:.2f} (on idle cores at most {alone / max(parent, (parent + workers) / args.jobs):.2f}x)")

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
