"""`bulletin-qa`: thin subcommands over the qa library (index, ask, eval, facts).

Library errors become one line `error: …` and exit code 1; heavy imports happen inside the subcommands so
`--help` is instant. About 500 lines, most of them argparse help that teaches each subcommand; each
`cmd_*` is a few lines over the library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from qa.errors import BulletinQAError
from qa.facts import KINDS as FACT_KINDS
from qa.settings import default_for, given, help_for, is_default_path, parse_day, resolve_path, setting

EPILOG = """\
examples:
  bulletin-qa index                      # build or update index/ from corpus/
  bulletin-qa ask "全区社会工作者持证人数是多少？"
  echo "灵芝雀合唱团代表谁参加了展演？" | bulletin-qa ask --json
  bulletin-qa index corpus --json        # counts as one JSON object
  bulletin-qa index corpus --milvus index.db   # the same index in Milvus Lite (pip install -e '.[milvus]')
  bulletin-qa ask --milvus index.db "全区社会工作者持证人数是多少？"

Every option has an environment twin, e.g. BULLETIN_QA_INDEX=/data/index.
An index remembers the corpus folder it was built from: ask and eval update it from that folder only.
"""

CORPUS_HELP = ("folder of bulletin files the index is updated from first; it must be the one the index was built "
               "from (env BULLETIN_QA_CORPUS; default: the folder the index records, corpus for a new index/)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=default_for("index"), help=help_for("index"))
    parser.add_argument("--model", default=default_for("model"), help=help_for("model"))
    # Checked by load_embedder (which lists the choices), so --help need not import the embedding module.
    # None when not given: the backend then follows an existing int8 index (qa.embed.choose_backend)
    parser.add_argument("--backend", default=None, help=help_for("backend"))
    parser.add_argument("--milvus", default=default_for("milvus"), metavar="URI", help=help_for("milvus"))
    parser.add_argument("--milvus-collection", default=default_for("milvus-collection"), metavar="NAME",
                        help=help_for("milvus-collection"))


def milvus_target(args: argparse.Namespace):
    """The --milvus target, or None for the index folder.

    Raises:
        BulletinQAError: --milvus is neither a .db path nor a server address.
    """
    if not args.milvus:
        return None
    from qa.milvus import parse_target

    return parse_target(args.milvus, collection=args.milvus_collection)


def milvus_corpus(args: argparse.Namespace, target) -> Path | None:
    """The corpus folder `ask` and `eval` update the index in Milvus from (None: use it as it is)."""
    from qa.milvus_update import corpus_to_update as choose

    corpus = given("corpus", getattr(args, "corpus", None))
    folder, warning = choose(target, resolve_path(corpus) if corpus else None)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return folder


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="bulletin-qa",
        description="Answer questions about Chinese government bulletins (政务信息, 工作简报) with verbatim, cited quotes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    index = commands.add_parser(
        "index", help="build or update the index from a corpus folder (only new or changed files are embedded)",
        description="Build or update the index. New, changed and removed files are found by content hash; "
                    "only new or changed chunks are embedded. Bad files are refused with the reason and the "
                    "index keeps what it had.",
        epilog="examples:\n"
               "  bulletin-qa index corpus --index index --json\n"
               "  bulletin-qa index corpus/gov-work-reports --index index-gov   # a second index, of another folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    index.add_argument("corpus", nargs="?", default=None,
                       help="folder of bulletin files (md, txt, docx, pdf, html) (env BULLETIN_QA_CORPUS; default: "
                            "the folder the index was built from, corpus for a new index)")
    _add_common(index)
    index.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    index.add_argument("--switch-corpus", action="store_true",
                       help="let an index built from another corpus folder follow CORPUS from now on (files with "
                            "the same content are not embedded again)")
    index.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    ask = commands.add_parser(
        "ask", help="answer a question with a verbatim quote and a citation",
        description="Answer a question from the indexed bulletins. With no QUESTION, reads one question per "
                    "line from standard input (the model is loaded once).",
        epilog='examples:\n'
               '  bulletin-qa ask "社会组织党组织覆盖率是多少？" --json\n'
               '  bulletin-qa ask "那新市民驿站呢？" --history "全区建成了多少个友好场景？"\n'
               '  printf "2023年城镇新增就业多少人？\\n那2024年呢？\\n" | bulletin-qa ask --conversation',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask.add_argument("question", nargs="?", help="the question; omit to read questions from stdin")
    _add_common(ask)
    ask.add_argument("--json", action="store_true", help="print exactly one JSON object per question")
    ask.add_argument("--history", action="append", default=[], metavar="EARLIER_QUESTION",
                     help="an earlier question of the conversation, oldest first (repeatable): a follow-up such as "
                          "那2024年呢？ is read against it, as in the chat")
    ask.add_argument("--conversation", action="store_true",
                     help="with questions on stdin: each line follows up the lines before it (as in the chat)")
    ask.add_argument("--series", help="only bulletins of this series, e.g. 上街信息")
    ask.add_argument("--issue", help="only this issue number, e.g. 8")
    ask.add_argument("--from", dest="date_from", help="only issues dated on or after YYYY-MM-DD")
    ask.add_argument("--to", dest="date_to", help="only issues dated on or before YYYY-MM-DD")
    ask.add_argument("--department", help="only articles tagged with this department, e.g. 区委社工部")
    ask.add_argument("--reranker", default=default_for("reranker"), help=help_for("reranker"))
    ask.add_argument("--today", default=default_for("today"), help=help_for("today"))
    ask.add_argument("--corpus", default=None, help=CORPUS_HELP)
    ask.add_argument("--no-update", action="store_true",
                     help="use the index as it is, without checking the corpus folder for new files")
    evaluate = commands.add_parser(
        "eval", help="score the assistant on Q&A sets: retrieval and answer metrics, with baselines",
        description="Run Q&A sets (JSON lines) through the assistant with hybrid retrieval, the BM25-only and "
                    "dense-only variants, and the naive baseline (BM25 over sentences, best sentence verbatim), and "
                    "print the metrics. --report writes report.md with every failure and PNG charts. --write-pins "
                    "writes eval/pins/SET.json (the ids that pass). --min-METRIC thresholds make the exit code "
                    "non-zero when not met. eval/run_all.py runs every set over its own corpus in one table.",
        epilog="examples:\n"
               "  bulletin-qa eval eval/shangjie-08.jsonl --report report/seed\n"
               "  bulletin-qa import-reports ../shared/data/gov-work-reports/government_work_reports.jsonl gov-corpus\n"
               "  bulletin-qa index gov-corpus --index gov-index\n"
               "  bulletin-qa eval eval/gov-reports.jsonl --index gov-index --json\n"
               "  bulletin-qa eval --cmrc ../shared/data/cmrc2018/cmrc2018_trial.json\n"
               "  bulletin-qa eval eval/shangjie-08.jsonl --min-answer-accuracy 0.85 --min-recall@5 0.95\n"
               "  bulletin-qa eval eval/shangjie-08.jsonl --methods hybrid --write-pins",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("files", nargs="*", type=Path, help="Q&A sets (JSON lines)")
    _add_common(evaluate)
    evaluate.add_argument("--corpus", default=None, help=CORPUS_HELP)
    evaluate.add_argument("--methods", default="hybrid,bm25,dense,baseline",
                          help="methods to compare, first is the product's: hybrid, bm25, dense (the answer module "
                               "over one retriever), baseline (BM25 over sentences, no answer module) "
                               "(default: hybrid,bm25,dense,baseline)")
    evaluate.add_argument("--cmrc", type=Path, help="also run the external CMRC 2018 check on this SQuAD-style JSON file")
    evaluate.add_argument("--cmrc-index", default="index-cmrc",
                          help="index folder for the CMRC paragraphs (built on first use; default: index-cmrc)")
    evaluate.add_argument("--today", default=default_for("today"),
                          help=help_for("today") + "; a question's own asked_on wins")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    evaluate.add_argument("--report", type=Path, help="write report.md and charts into this folder")
    evaluate.add_argument("--write-pins", action="store_true",
                          help="write each set's per-question pins (the first method's passing ids) to "
                               "PINS_DIR/SET.json")
    evaluate.add_argument("--pins-dir", type=Path,
                          help="folder for --write-pins (default: a pins/ folder beside each set, e.g. eval/pins/)")
    for metric in ("answer-accuracy", "citation-accuracy", "recall@1", "recall@5", "mrr@10",
                   "abstention-precision", "abstention-recall", "doc-first", "leads-with-figure"):
        evaluate.add_argument(f"--min-{metric}", type=float, dest=f"min_{metric.replace('-', '_').replace('@', '_at_')}",
                              help=f"fail (exit 1) when the first method's {metric} on any set is below this")

    facts = commands.add_parser(
        "facts", help="list the figures of one indicator across issues (the fact table)",
        description="Print the facts of the indicator QUERY, matched as the chat's tables match it: the same "
                    "indicator, or one with words in front of it (财政赤字率 is a 赤字率; synonyms such as GDP → "
                    "国内生产总值 apply). One line per figure with its period, value, unit, kind and citation.",
        epilog="examples:\n"
               "  bulletin-qa facts 城镇新增就业 --series 政府工作报告 --from 2019 --to 2024\n"
               "  bulletin-qa facts 赤字率 --csv > deficit.csv\n"
               "  bulletin-qa facts 持证人数 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    facts.add_argument("query", help="the indicator, e.g. 城镇新增就业, GDP, 赤字率")
    _add_common(facts)
    facts.add_argument("--series", help="only this series, e.g. 政府工作报告")
    facts.add_argument("--from", dest="year_from", type=int, help="first period (year)")
    facts.add_argument("--to", dest="year_to", type=int, help="last period (year)")
    facts.add_argument("--kind", choices=FACT_KINDS, action="append",
                       help="only these kinds (repeatable)")
    output = facts.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per fact")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")

    importer = commands.add_parser(
        "import-reports", help="write the 政府工作报告 JSON-lines archive as one bulletin file per year",
        description="Turn the 国务院《政府工作报告》 archive (JSON lines: title, content, year) into markdown bulletin "
                    "files with front matter (series 政府工作报告, issue = year), ready for `bulletin-qa index`.",
        epilog="example: bulletin-qa import-reports ../shared/data/gov-work-reports/government_work_reports.jsonl gov-corpus",
    )
    importer.add_argument("jsonl", type=Path, help="the archive (JSON lines)")
    importer.add_argument("out", type=Path, help="folder to write the files into")
    importer.add_argument("--years", help="only these years, comma-separated, e.g. 2023,2024")
    return parser


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the eval suite and print or write its results."""
    from qa.assistant import Assistant
    from qa.evaluate import METHODS, evaluate_cmrc, evaluate_set, metrics_table, pins_path, write_pins, write_report

    if not args.files and not args.cmrc:
        raise BulletinQAError("give at least one Q&A set (e.g. eval/shangjie-08.jsonl) or --cmrc FILE")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise BulletinQAError(f"unknown method {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}")
    results = []
    if args.files:
        target = milvus_target(args)
        if target is not None:
            assistant = Assistant.open(None, model=args.model, backend=args.backend,
                                       corpus_dir=milvus_corpus(args, target),
                                       progress=not args.json, today=parse_day(args.today), milvus=target)
        else:
            assistant = Assistant.open(resolve_path(args.index), model=args.model, backend=args.backend,
                                       corpus_dir=corpus_to_update(args),
                                       progress=not args.json, today=parse_day(args.today))
        for path in args.files:
            outcome = evaluate_set(assistant, path, methods, progress=not args.json)
            if args.write_pins:
                target = pins_path(path, args.pins_dir)
                write_pins(outcome[0], target)
                print(f"pins: {target}", file=sys.stderr)
            results += outcome
    cmrc = None
    if args.cmrc:
        cmrc = evaluate_cmrc(args.cmrc, resolve_path(args.cmrc_index), model=args.model, backend=args.backend,
                             methods=methods,
                             progress=not args.json)
    if args.json:
        payload = {f"{r.name}/{r.method}": r.metrics() for r in results}
        if cmrc:
            payload.update({f"cmrc2018/{method}": values for method, values in cmrc.items()})
        print(json.dumps(payload, ensure_ascii=False))
    else:
        if results:
            print(metrics_table(results))
        if cmrc:
            print(cmrc_table(cmrc))
    if args.report:
        report = write_report(results, args.report, cmrc=cmrc)
        print(f"report: {report}", file=sys.stderr)
    failed = check_thresholds(args, results)
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0


def cmrc_table(cmrc: dict) -> str:
    """The CMRC 2018 metrics as a Markdown table."""
    keys = list(next(iter(cmrc.values())))
    rows = ["| CMRC 2018 | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    rows += [f"| {method} | " + " | ".join(str(values[key]) for key in keys) + " |" for method, values in cmrc.items()]
    return "\n".join(rows)


def check_thresholds(args: argparse.Namespace, results: list) -> list[str]:
    """Every --min-… threshold the product's method (the first) misses, as readable lines."""
    failed = []
    product = [r for r in results if r.method == results[0].method] if results else []
    for name, value in vars(args).items():
        if not name.startswith("min_") or value is None:
            continue
        metric = name[4:].replace("_at_", "@")
        for result in product:
            got = result.metrics().get(metric)
            if got is not None and got < value:
                failed.append(f"{result.name}: {metric} {got} is below --min-{metric.replace('_', '-')} {value}")
    return failed


def cmd_facts(args: argparse.Namespace) -> int:
    """Print the facts of one indicator."""
    import csv
    import dataclasses

    from qa.store import BulletinIndex
    from qa.trend import find_facts

    target = milvus_target(args)
    if target is not None:
        from qa.milvus import MilvusIndex

        index = MilvusIndex.load(target)
    else:
        index = BulletinIndex.load(resolve_path(args.index))
    found = find_facts(index.facts(), args.query, series=args.series, year_from=args.year_from,
                       year_to=args.year_to, kinds=tuple(args.kind) if args.kind else None)
    found.sort(key=lambda f: (f.series, f.period or "", f.file, f.start))
    columns = ["period", "indicator", "text", "value", "unit", "kind", "series", "issue", "date", "file", "quote"]

    def row(fact) -> dict:
        data = dataclasses.asdict(fact)
        data["quote"] = index.bulletins[fact.file].clean_text[fact.sentence_start:fact.sentence_end]
        return data

    if args.json:
        for fact in found:
            print(json.dumps(row(fact), ensure_ascii=False))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for fact in found:
            writer.writerow(row(fact))
    else:
        if not found:
            print(f"no facts match {args.query!r}")
        for fact in found:
            print(f"{fact.period or '—':>6}  {fact.text:<14} {fact.kind:<8} {fact.indicator}  "
                  f"《{fact.series}》{fact.issue or ''} {fact.file}")
    return 0


def cmd_import_reports(args: argparse.Namespace) -> int:
    """Write the report archive as bulletin files."""
    from qa.importers import export_gov_reports

    years = [y.strip() for y in args.years.split(",")] if args.years else None
    written = export_gov_reports(args.jsonl, args.out, years=years)
    print(f"wrote {len(written)} files into {args.out}")
    return 0


def corpus_to_update(args: argparse.Namespace) -> Path | None:
    """The corpus folder `ask` and `eval` update --index from: the one it records (None: use it as it is).

    Raises:
        IndexMissingError: --index holds no index and is not the default index/ (never built here).
        CorpusMismatchError: an explicit --corpus that is not the one the index records.
    """
    from qa.corpus import corpus_to_update as choose

    corpus = given("corpus", args.corpus)
    folder, warning = choose(resolve_path(args.index), resolve_path(corpus) if corpus else None,
                             resolve_path(str(setting("corpus").default)),
                             build_missing=is_default_path("index", args.index))
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return folder


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed."""
    from qa.embed import load_embedder
    from qa.corpus import recorded_corpus
    from qa.generations import has_index
    from qa.update import update_index

    target = milvus_target(args)
    if target is not None:
        return index_milvus(args, target)
    index_dir = resolve_path(args.index)
    corpus = given("corpus", args.corpus)
    if corpus is None and has_index(index_dir):
        corpus = recorded_corpus(index_dir)
        if corpus is not None and not corpus.is_dir():
            raise BulletinQAError(f"the corpus folder {corpus} that index {index_dir} was built from no longer exists; "
                                  f"give its new place: bulletin-qa index CORPUS --index {index_dir} --switch-corpus")
    from qa.store import recorded_backend

    embedder = load_embedder(args.model, backend=args.backend, recorded=recorded_backend(index_dir))
    from qa.build import ProgressPrinter

    # Every phase on stderr (the fact indicators' embedding used to take minutes without a word).
    _, report = update_index(resolve_path(corpus or str(setting("corpus").default)), index_dir, embedder,
                             rebuild=args.rebuild, progress=not args.json, switch_corpus=args.switch_corpus,
                             on_progress=None if args.json else ProgressPrinter(), open_index=False)
    return print_report(args, report)


def index_milvus(args: argparse.Namespace, target) -> int:
    """`bulletin-qa index --milvus URI`: build or update the index in Milvus."""
    from qa.embed import load_embedder
    from qa.milvus import connect, read_manifest
    from qa.milvus_update import update_milvus

    corpus = given("corpus", args.corpus)
    client = connect(target)
    if corpus is None:
        manifest = read_manifest(client, target) or {}
        corpus = manifest.get("corpus", {}).get("path")
        if corpus is not None and not Path(corpus).is_dir():
            raise BulletinQAError(f"the corpus folder {corpus} that the index in Milvus at {target} was built from no "
                                  f"longer exists; give its new place: bulletin-qa index CORPUS --milvus {args.milvus} "
                                  f"--switch-corpus")
    embedder = load_embedder(args.model, backend=args.backend)
    _, report = update_milvus(resolve_path(corpus or str(setting("corpus").default)), target, embedder,
                              rebuild=args.rebuild, progress=not args.json, switch_corpus=args.switch_corpus,
                              client=client)
    return print_report(args, report)


def print_report(args: argparse.Namespace, report) -> int:
    """Print what an index update did; exit code 1 when a file was refused."""
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        rows = [("added", len(report.files_added)), ("changed", len(report.files_changed)),
                ("removed", len(report.files_removed)), ("unchanged", len(report.files_unchanged)),
                ("refused", len(report.files_refused)), ("chunks embedded", report.chunks_embedded),
                ("chunks in index", report.chunks_total), ("seconds", f"{report.seconds:.1f}")]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    for name, reason in report.files_refused.items():
        print(f"error: {name}: {reason}", file=sys.stderr)
    return 1 if report.files_refused else 0


FILTER_FLAGS = {"date_from": "--from", "date_to": "--to"}


def ask_filters(args: argparse.Namespace):
    """The ask filters from the flags; a date that is not YYYY-MM-DD is one clear error naming its flag."""
    from qa.retrieve import Filters
    from qa.errors import FilterError

    try:
        return Filters(series=args.series, issue=args.issue, date_from=args.date_from, date_to=args.date_to,
                       department=args.department)
    except FilterError as error:
        if error.code == "date_order":
            raise BulletinQAError(f"--to {error.value} is before --from {args.date_from}; "
                                  "give a range that ends on or after its start") from None
        flag = FILTER_FLAGS[error.field]
        raise BulletinQAError(f"{flag} {error.value!r} is not a valid date; write YYYY-MM-DD, e.g. {flag} 2026-02-12"
                              ) from None


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question, or one per stdin line; no question at all is an error."""
    from qa.assistant import Assistant

    filters = ask_filters(args)  # before the model loads: a bad date fails at once
    questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
    assistant = None
    asked = 0
    earlier: list[str] = []  # this run's questions so far (--conversation)
    for question in questions:
        if args.question is None and not question.strip():
            continue
        if assistant is None:  # opened at the first question, so empty input fails without loading the model
            target = milvus_target(args)
            if target is not None:
                corpus = None if args.no_update else milvus_corpus(args, target)
                assistant = Assistant.open(None, model=args.model, backend=args.backend, reranker=args.reranker,
                                           corpus_dir=corpus,
                                           progress=not args.json, today=parse_day(args.today), milvus=target)
            else:
                corpus = None if args.no_update else corpus_to_update(args)
                assistant = Assistant.open(resolve_path(args.index), model=args.model, backend=args.backend,
                                           reranker=args.reranker,
                                           corpus_dir=corpus, progress=not args.json, today=parse_day(args.today))
        history = list(args.history) + (earlier if args.conversation else [])
        answer = assistant.ask(question, history=history, filters=filters)
        earlier.append(question)
        asked += 1
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(answer.to_text(), flush=True)
            if args.question is None:
                print()
    if not asked:
        raise BulletinQAError('no question: give one (bulletin-qa ask "全区社会工作者持证人数是多少？") or pipe one '
                              "question per line on standard input")
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "eval": cmd_eval, "facts": cmd_facts,
            "import-reports": cmd_import_reports}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bulletin-qa` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except BulletinQAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `bulletin-qa facts … | head`: the reader left, nothing went wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (silence the interpreter's flush at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
