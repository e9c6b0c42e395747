"""De-identification benchmark: our engine against Presidio's pattern recognizers.

Run from the repository root::

    python bench/deid/bench_deid.py [--mb 5] [--runs 3] [--presidio-mb 0.5]

Builds a deterministic ~5 MB mixed Chinese/English corpus (``corpus.py``) with ground-truth
spans and look-alike traps, then prints, from one single-process run: our MB/s with the
``default`` policy (mapping on, median of ``--runs``), Presidio's MB/s on a slice, their
ratio, recall per kind for both, the share of traps altered, and PERSON (jieba) apart.
"""
import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, for `portal`
sys.path.insert(0, str(HERE))

from corpus import build, person_documents  # noqa: E402

from portal.deid.engine import Deidentifier  # noqa: E402
from portal.deid.policies import builtin_policies, parse_policy  # noqa: E402

KINDS = ("PHONE", "LANDLINE", "ID_CARD", "BANK_CARD", "USCC", "PASSPORT", "POSTCODE", "PLATE", "EMAIL", "IP", "URL")
PRESIDIO_TYPES = {"PHONE": "CN_PHONE", "ID_CARD": "CN_ID", "EMAIL": "EMAIL_ADDRESS", "BANK_CARD": "CREDIT_CARD"}
ALL_KINDS_POLICY = "extends: default\nentities: {PASSPORT: tag, POSTCODE: tag}\n"
BATCH = 200  # texts per request, as the web layer would send them


def megabytes(documents) -> float:
    return sum(len(text.encode()) for text in documents) / 1e6


def run_ours(deid, documents):
    results = []
    for i in range(0, len(documents), BATCH):
        results.extend(deid.run(documents[i:i + BATCH], return_mapping=True).results)
    return [[(e["start"], e["end"], e["type"]) for e in result["entities"]] for result in results]


def stream_ours(deid, documents):
    """The file path (CLI, dataset jobs): one session, each text replaced and written away."""
    session, entities = deid.session(), 0
    for text in documents:
        entities += len(session.apply(text)["entities"])
    return entities


def timed(function, runs):
    seconds, output = [], None
    for _ in range(runs):
        start = time.perf_counter()
        output = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), output


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
    parser.add_argument("--runs", type=int, default=3, help="timed runs of our engine (median)")
    parser.add_argument("--share", type=float, default=0.2, help="share of sentences with an entity or trap")
    parser.add_argument("--presidio-mb", type=float, default=0.5, help="slice given to Presidio")
    parser.add_argument("--person-texts", type=int, default=2000, help="texts for the PERSON run")
    args = parser.parse_args()

    documents, truth, traps = build(args.mb, share=args.share)
    size = megabytes(documents)
    found_count = sum(map(len, truth)) + sum(map(len, traps))
    print(f"corpus: {len(documents)} texts, {size:.2f} MB, {sum(map(len, truth))} entities, "
          f"{sum(map(len, traps))} traps (one per {size * 1e6 / found_count:.0f} bytes)")

    default = Deidentifier(builtin_policies()["default"], b"bench-secret")
    ours_seconds, _ = timed(lambda: run_ours(default, documents), args.runs)
    stream_seconds, _ = timed(lambda: stream_ours(default, documents), args.runs)
    every_kind = Deidentifier(parse_policy(ALL_KINDS_POLICY), b"bench-secret")
    every_seconds, found = timed(lambda: run_ours(every_kind, documents), 1)
    ours_recall, totals = recall(truth, found)
    ours_altered, trap_total = traps_altered(traps, found)

    analyzer, anonymizer = presidio_engines()
    slice_end, slice_size = 0, 0.0
    while slice_end < len(documents) and slice_size < args.presidio_mb:
        slice_size += len(documents[slice_end].encode()) / 1e6
        slice_end += 1
    presidio_seconds, presidio_found = timed(
        lambda: run_presidio(analyzer, anonymizer, documents[:slice_end]), 1)
    presidio_recall, _ = recall(truth[:slice_end], presidio_found, lambda k: PRESIDIO_TYPES.get(k))
    presidio_altered, presidio_traps = traps_altered(traps[:slice_end], presidio_found)

    ours_speed = size / ours_seconds
    presidio_speed = slice_size / presidio_seconds
    print()
    print(f"{'throughput':<34}{'MB/s':>10}")
    print(f"{'ours, default policy + mapping':<34}{ours_speed:>10.1f}   (median of {args.runs}; goal >= 40; "
          "API path: every result kept in memory)")
    print(f"{'ours, default policy, streamed':<34}{size / stream_seconds:>10.1f}   (median of {args.runs}; "
          "file path of `flask deid` and dataset jobs)")
    print(f"{'ours, all kinds but PERSON':<34}{size / every_seconds:>10.1f}")
    print(f"{'Presidio, pattern recognizers':<34}{presidio_speed:>10.2f}   ({slice_size:.2f} MB slice)")
    print(f"{'ratio ours/Presidio':<34}{ours_speed / presidio_speed:>10.1f}x  (goal >= 5x)")
    print()
    print(f"{'recall':<12}{'count':>7}{'ours':>8}{'Presidio':>10}")
    for kind in KINDS:
        theirs = f"{presidio_recall[kind]:.3f}" if kind in PRESIDIO_TYPES and kind in presidio_recall else "-"
        print(f"{kind:<12}{totals.get(kind, 0):>7}{ours_recall.get(kind, 0):>8.3f}{theirs:>10}")
    print()
    print(f"traps altered: ours {ours_altered}/{trap_total} = {100 * ours_altered / trap_total:.2f}% "
          f"(goal <= 0.5%); Presidio {presidio_altered}/{presidio_traps} = "
          f"{100 * presidio_altered / max(presidio_traps, 1):.2f}%")

    people, people_truth = person_documents(args.person_texts)
    start = time.perf_counter()
    strict = Deidentifier(builtin_policies()["strict"], b"bench-secret")
    strict.run(["客户王小明"])  # loads jieba's dictionary
    load_seconds = time.perf_counter() - start
    person_seconds, person_found = timed(lambda: run_ours(strict, people), 1)
    person_recall, person_total = recall(people_truth, person_found)
    print()
    print(f"PERSON (strict policy, jieba): {megabytes(people) / person_seconds:.2f} MB/s on "
          f"{person_total['PERSON']} short texts, recall {person_recall.get('PERSON', 0):.3f}, "
          f"jieba load {load_seconds:.1f} s")


if __name__ == "__main__":
    main()
