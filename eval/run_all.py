#!/usr/bin/env python3
"""Run every Q&A set over its own corpus (and the CMRC trial) and print ONE markdown table: set × method × metrics.

    python eval/run_all.py                                    # every eval/*.jsonl, methods hybrid and baseline
    python eval/run_all.py --sets shangjie-08,heldout-seed --previous main
    python eval/run_all.py --cmrc ../shared/data/cmrc2018/cmrc2018_trial.json --write-pins
    python eval/run_all.py --sets shangjie-08,heldout-seed,stat-bulletins --milvus tokens+weighted,jieba+rrf
    python eval/run_all.py --sets heldout-seed,heldout-gov --backends torch,onnx,onnx-int8

Corpora: shangjie-08 and heldout-seed over the seed bulletin alone (corpus/shangjie-xinxi-2026-08.md, as the
pinned tests run them); gov-reports and heldout-gov over corpus/gov-work-reports; stat-bulletins* and
heldout-stat* over eval/corpora/stat-bulletins/ when that folder exists. A set with no known corpus (such as
facts-labelled, which labels figures, not questions) is skipped with a note.

Indexes live in a cache folder (--cache, default /tmp/bqa-eval), one per corpus, model, backend and code
version, so a rerun only embeds what changed. `--backends` measures each embedding backend (torch, onnx,
onnx-int8) over its own indexes, in one table (rows labelled `current BACKEND`). `--previous GITREF` checks that ref out as a `git worktree` in a temp folder
and runs this same script's measurement there in a subprocess (cwd and PYTHONPATH = that worktree, so it
imports the old `qa`), over the same sets and corpora; its rows are labelled `previous`. A ref without
`qa/baseline.py` contributes its other methods only, and metrics it does not compute show as –.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = "shangjie-xinxi-2026-08.md"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "bqa-eval"
COLUMNS = ("questions", "recall@1", "recall@5", "mrr@10", "answer_accuracy", "citation_accuracy", "answered",
           "abstention_precision", "abstention_recall", "doc_first", "retrieval_doc_first", "leads_with_figure",
           "guard_caught", "unsupported_figures", "latency_p50_ms")
# CMRC reports paragraph-level retrieval and "a gold answer inside the first quote"; shown in the nearest columns.
CMRC_COLUMNS = {"questions": "questions", "paragraph_recall@1": "recall@1", "paragraph_recall@5": "recall@5",
                "mrr@10": "mrr@10", "gold_in_first_quote": "citation_accuracy", "answered": "answered",
                "guard_caught": "guard_caught",
                "latency_p50_ms": "latency_p50_ms"}


def corpus_for(set_name: str, data_root: Path, cache: Path) -> tuple[Path | None, str]:
    """The corpus folder a set is evaluated over, or None with the reason it is skipped."""
    if set_name.startswith(("shangjie", "heldout-seed")):
        folder = cache / "corpus-seed"
        folder.mkdir(parents=True, exist_ok=True)
        source, target = data_root / "corpus" / SEED_FILE, folder / SEED_FILE
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
        return folder, "seed bulletin"
    if set_name.startswith(("gov-reports", "heldout-gov")):
        return data_root / "corpus" / "gov-work-reports", "gov-work-reports"
    if set_name.startswith(("stat-bulletins", "heldout-stat")):
        folder = data_root / "eval" / "corpora" / "stat-bulletins"
        return (folder, "stat-bulletins") if folder.is_dir() else (None, f"{folder} does not exist")
    return None, "no corpus known for this set"


def index_dir_for(cache: Path, label: str, corpus: Path, model: str | None, code: str,
                  backend: str | None = None) -> Path:
    """A cache folder named after the corpus contents, the model, the backend and the code version measured."""
    # torch keeps the name it had before backends existed, so its cached indexes stay valid.
    key = f"{model}\0{code}" + (f"\0{backend}" if backend not in (None, "torch") else "")
    digest = hashlib.sha256(key.encode())
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(corpus)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return cache / f"{label}-{digest.hexdigest()[:12]}"


def open_milvus(index_dir: Path, corpus: Path, model: str | None, variant: str, backend: str | None = None):
    """An assistant over the same corpus in Milvus Lite (`index_dir`.db), searching with `variant`:
    LEXICAL+FUSION, e.g. tokens+weighted or jieba+rrf (qa/milvus.py)."""
    from qa.assistant import Assistant
    from qa.milvus import parse_target

    assistant = Assistant.open(None, model=model, corpus_dir=corpus, progress=False, backend=backend,
                               milvus=parse_target(index_dir.with_name(index_dir.name + ".db")))
    assistant.index.lexical, assistant.index.fusion = variant.split("+")
    return assistant


def measure(sets: list[Path], methods: list[str], data_root: Path, cache: Path, model: str | None, code: str,
            version: str, cmrc: Path | None, write_pins: bool, milvus: list[str] = (),
            backend: str | None = None, scorings: list[str] = ()) -> list[dict]:
    """Evaluate each set with each method using whatever `qa` is importable; one row per set and method (and,
    for each Milvus variant in `milvus`, the same rows through Milvus Lite, labelled `milvus VARIANT`)."""
    backend_arg = {"backend": backend} if backend else {}  # a --previous ref may predate backends
    try:
        from qa.assistant import Assistant
    except ImportError:  # a --previous ref from before qa/answer.py was split (186f9ab)
        from qa.answer import Assistant
    from qa.evaluate import evaluate_cmrc, evaluate_set

    import qa

    # Ask the package actually imported (the ref's, under --previous), not whatever a finder would resolve.
    if "baseline" in methods and not (Path(qa.__file__).parent / "baseline.py").exists():
        print(f"note: the {version} code has no qa/baseline.py; its baseline rows are left out", file=sys.stderr)
        methods = [m for m in methods if m != "baseline"]
    rows: list[dict] = []
    assistants: dict[Path, object] = {}
    for path in sets:
        corpus, label = corpus_for(path.stem, data_root, cache)
        if corpus is None:
            print(f"note: skipped {path.name}: {label}", file=sys.stderr)
            continue
        index_dir = index_dir_for(cache, label.replace(" ", "-"), corpus, model, code, backend)
        if index_dir not in assistants:
            started = time.perf_counter()
            assistants[index_dir] = Assistant.open(index_dir, model=model, corpus_dir=corpus, progress=False,
                                                   **backend_arg)
            print(f"{version}: index {index_dir} ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        runs = [(version, assistants[index_dir])]
        for scoring in scorings:  # the same index, reading questions' sentences chosen another way
            other = Assistant(assistants[index_dir].index, assistants[index_dir].embedder, sentence_scoring=scoring)
            runs.append((f"{version} scoring={scoring}", other))
        for variant in milvus:
            started = time.perf_counter()
            runs.append((f"milvus {variant}", open_milvus(index_dir, corpus, model, variant, backend)))
            print(f"milvus {variant}: index ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for label_version, assistant in runs:
            started = time.perf_counter()
            results = evaluate_set(assistant, path, tuple(methods), progress=False)
            print(f"{label_version}: {path.stem} × {', '.join(methods)} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
            for result in results:
                metrics = result.metrics()
                answered = sum(1 for r in result.results if not r.answer["abstained"])
                metrics["answered"] = round(answered / len(result.results), 4) if result.results else None
                rows.append({"set": result.name, "corpus": label, "method": result.method,
                             "version": label_version, **metrics})
        if write_pins:
            from qa.evaluate import pins_path, write_pins as write

            target = pins_path(path)
            write(results[0], target)
            print(f"pins: {target}", file=sys.stderr)
    if cmrc:
        index_dir = index_dir_for(cache, "cmrc", cmrc.parent, model, code, backend)
        for scoring in [None, *scorings]:
            scoring_arg = {"sentence_scoring": scoring} if scoring else {}  # a --previous ref may predate scorings
            results = evaluate_cmrc(cmrc, index_dir, model=model, methods=tuple(methods), progress=False,
                                    **scoring_arg, **backend_arg)
            label = version if scoring is None else f"{version} scoring={scoring}"
            for method, values in results.items():
                rows.append({"set": "cmrc2018", "corpus": "CMRC 2018 trial", "method": method, "version": label,
                             **{CMRC_COLUMNS[key]: value for key, value in values.items() if key in CMRC_COLUMNS}})
    return rows


def measure_previous(ref: str, args: argparse.Namespace, sets: list[Path]) -> list[dict]:
    """Run this script's measurement with the code of `ref`, checked out as a temporary git worktree."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"], check=True,
                         capture_output=True, text=True).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="bqa-previous-"))
    tree = folder / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), sha], check=True,
                   capture_output=True, text=True)
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--measure", "--code-root", str(tree),
                   "--code", sha[:12], "--version", f"previous ({ref} {sha[:7]})",
                   "--sets", ",".join(str(p.resolve()) for p in sets), "--methods", args.methods,
                   "--cache", str(args.cache)]
        command += ["--model", args.model] if args.model else []
        command += ["--cmrc", str(args.cmrc.resolve())] if args.cmrc else []
        env = {**os.environ, "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        done = subprocess.run(command, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"warning: the measurement of {ref} failed (exit {done.returncode}); no previous rows",
                  file=sys.stderr)
            return []
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def table(rows: list[dict]) -> str:
    """One markdown table: a row per set, method and version."""
    lines = ["| set | method | version | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 3)]
    for row in rows:
        cells = ["–" if row.get(key) is None else str(row[key]) for key in COLUMNS]
        lines.append(f"| {row['set']} | {row['method']} | {row['version']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def select_sets(names: str | None) -> list[Path]:
    """The sets named (stems or paths, comma-separated), or every eval/*.jsonl."""
    if not names:
        return sorted((ROOT / "eval").glob("*.jsonl"))
    if names == "NONE":  # only --cmrc
        return []
    paths = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        path = Path(name) if name.endswith(".jsonl") else ROOT / "eval" / f"{name}.jsonl"
        if not path.is_file():
            raise SystemExit(f"error: no Q&A set {path}; the sets are {', '.join(p.stem for p in sorted((ROOT / 'eval').glob('*.jsonl')))}")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", help="comma-separated set names or paths (default: every eval/*.jsonl)")
    parser.add_argument("--methods", default="hybrid,baseline", help="methods (default: hybrid,baseline)")
    parser.add_argument("--cmrc", type=Path, help="also run the CMRC 2018 trial file (SQuAD JSON)")
    parser.add_argument("--previous", metavar="GITREF", help="also measure this git ref's code; rows labelled previous")
    parser.add_argument("--model", default=None, help="embedding model (default: the project's default)")
    parser.add_argument("--backends", default=None,
                        help="comma-separated embedding backends to measure, each over its own indexes: torch, onnx, "
                             "onnx-int8 (default: the project's default backend; with several, rows are labelled "
                             "'current BACKEND')")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"index cache folder (default: {DEFAULT_CACHE})")
    parser.add_argument("--write-pins", action="store_true", help="rewrite eval/pins/SET.json from the first method's run")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON list instead of the table")
    parser.add_argument("--milvus", metavar="VARIANTS",
                        help="also run every set through Milvus Lite (an index.db beside each cached index), once per "
                             "comma-separated variant LEXICAL+FUSION: tokens+weighted (the product's), "
                             "tokens+rrf, jieba+weighted, jieba+rrf; needs pip install -e '.[milvus]'")
    parser.add_argument("--scoring", metavar="SCORINGS",
                        help="also answer with these sentence scorings of reading questions (comma-separated: "
                             "lexical, semantic, learned; the default is learned); rows labelled scoring=X")
    # Internal: the measurement half, run in a subprocess for --previous.
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code-root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--code", default="current", help=argparse.SUPPRESS)
    parser.add_argument("--version", default="current", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(args.code_root))  # import the qa of the code measured, not an installed copy
    sets = select_sets(args.sets)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    variants = [v.strip() for v in (args.milvus or "").split(",") if v.strip()]
    backends = [b.strip() for b in (args.backends or "").split(",") if b.strip()] or [None]
    scorings = [v.strip() for v in (args.scoring or "").split(",") if v.strip()]
    rows = []
    for backend in backends:
        version = args.version if len(backends) == 1 else f"{args.version} {backend}"
        rows += measure(sets, methods, ROOT, args.cache, args.model, args.code, version, args.cmrc,
                        args.write_pins and not args.measure and backend == backends[0], variants, backend,
                        scorings)
    if args.measure:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if args.previous:
        rows += measure_previous(args.previous, args, sets)
    order = {name: i for i, name in enumerate(dict.fromkeys(row["set"] for row in rows))}
    rows.sort(key=lambda row: (order[row["set"]], methods.index(row["method"]) if row["method"] in methods else 99,
                               not row["version"].startswith("current"), row["version"]))
    print(json.dumps(rows, ensure_ascii=False) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
