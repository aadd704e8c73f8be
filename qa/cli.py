"""`bulletin-qa`: thin subcommands over the qa library (index, ask, eval, facts).

Library errors become one line `error: …` and exit code 1; heavy imports happen inside the subcommands so
`--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qa.errors import BulletinQAError
from qa.settings import default_for, help_for, resolve_path

EPILOG = """\
examples:
  bulletin-qa index                      # build or update index/ from corpus/
  bulletin-qa ask "全区社会工作者持证人数是多少？"
  echo "灵芝雀合唱团代表谁参加了展演？" | bulletin-qa ask --json
  bulletin-qa index corpus --json        # counts as one JSON object

Every option has an environment twin, e.g. BULLETIN_QA_INDEX=/data/index.
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=default_for("index"), help=help_for("index"))
    parser.add_argument("--model", default=default_for("model"), help=help_for("model"))


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
        epilog="example: bulletin-qa index corpus --index index --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    index.add_argument("corpus", nargs="?", default=default_for("corpus"), help=help_for("corpus"))
    _add_common(index)
    index.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    index.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    ask = commands.add_parser(
        "ask", help="answer a question with a verbatim quote and a citation",
        description="Answer a question from the indexed bulletins. With no QUESTION, reads one question per "
                    "line from standard input (the model is loaded once).",
        epilog='example: bulletin-qa ask "社会组织党组织覆盖率是多少？" --json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask.add_argument("question", nargs="?", help="the question; omit to read questions from stdin")
    _add_common(ask)
    ask.add_argument("-k", type=int, default=default_for("k"), help=help_for("k"))
    ask.add_argument("--json", action="store_true", help="print exactly one JSON object per question")
    ask.add_argument("--series", help="only bulletins of this series, e.g. 上街信息")
    ask.add_argument("--issue", help="only this issue number, e.g. 8")
    ask.add_argument("--from", dest="date_from", help="only issues dated on or after YYYY-MM-DD")
    ask.add_argument("--to", dest="date_to", help="only issues dated on or before YYYY-MM-DD")
    ask.add_argument("--department", help="only articles tagged with this department, e.g. 区委社工部")
    ask.add_argument("--reranker", default=default_for("reranker"), help=help_for("reranker"))
    ask.add_argument("--corpus", default=default_for("corpus"),
                     help=help_for("corpus") + "; the index is built or updated from it before answering")
    ask.add_argument("--no-update", action="store_true",
                     help="use the index as it is, without checking the corpus folder for new files")
    return parser


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed."""
    from qa.embed import load_embedder
    from qa.store import update_index

    embedder = load_embedder(args.model)
    _, report = update_index(resolve_path(args.corpus), resolve_path(args.index), embedder,
                             rebuild=args.rebuild, progress=not args.json)
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


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question, or one per stdin line."""
    from qa.answer import Assistant, Filters

    corpus = None if args.no_update or not resolve_path(args.corpus).is_dir() else resolve_path(args.corpus)
    assistant = Assistant.open(resolve_path(args.index), model=args.model, reranker=args.reranker,
                               corpus_dir=corpus, progress=not args.json)
    filters = Filters(series=args.series, issue=args.issue, date_from=args.date_from, date_to=args.date_to,
                      department=args.department)
    questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
    for question in questions:
        if args.question is None and not question.strip():
            continue
        answer = assistant.ask(question, filters=filters, k=args.k)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(answer.to_text(), flush=True)
            if args.question is None:
                print()
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask}


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


if __name__ == "__main__":
    sys.exit(main())
