"""Encoder benchmark: the embedding backends (torch, ONNX fp32, ONNX int8) side by side, measured in one run.

    python bench/encoder_bench.py                                   # encoder table only (~5 min on 2 cores)
    python bench/encoder_bench.py --ask-index torch=index --ask-index onnx-int8=index-int8   # + `ask` end to end
    git archive 1d43358 | tar -x -C /tmp/before && python bench/encoder_bench.py --ask-index torch=index \
        --baseline-code /tmp/before                                # + `ask` with the code before, same run

For each backend, in a fresh subprocess (so load time includes importing the backend, as a CLI start does):
load time, chunks/s over real chunks of the bundled corpus (corpus/, a fixed sample), the p50 of embedding one
question at a time, and the cosine of its chunk vectors to torch fp32's (mean / min). With --ask-index, the wall
time of `python -m qa.cli ask QUESTION --index DIR --backend B` (median of --ask-runs), and where it goes: imports,
model load, opening the index (the corpus update check included), the ask itself. The load average is printed
before and after: on a shared machine it explains most of the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BACKENDS = ("torch", "onnx", "onnx-int8")
QUESTIONS = ("全区社会工作者持证人数是多少？", "2023年城镇新增就业多少人？", "社会组织党组织覆盖率是多少？",
             "2025年国内生产总值增长的预期目标是多少？", "骑手码覆盖了多少个小区？", "居民消费价格涨幅是多少？",
             "粮食产量是多少？", "赤字率拟按多少安排？", "新市民驿站建了多少个？", "城镇调查失业率是多少？")
ASK_QUESTION = "2023年城镇新增就业多少人？"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def corpus_chunks(count: int, seed: int = 0) -> list[str]:
    """A fixed sample of the embedded texts of the bundled corpus's chunks (what indexing embeds)."""
    from qa.chunk import chunk_bulletin
    from qa.parse import parse_bulletin
    from qa.read import content_hash, read_bulletin_file
    from qa.corpus import corpus_files

    corpus = ROOT / "corpus"
    texts = []
    for path in corpus_files(corpus):
        text = read_bulletin_file(path)
        bulletin = parse_bulletin(text, path.relative_to(corpus).as_posix())
        texts += [chunk.embed_text for chunk in chunk_bulletin(bulletin, content_hash(text))]
    return random.Random(seed).sample(texts, min(count, len(texts)))


# ---------------------------------------------------------------- steps run in subprocesses
def step_encode(backend: str, texts_file: str, vectors_file: str, threads: int) -> dict:
    """Load the backend, embed the chunks and the questions; save the chunk vectors for the cosine."""
    started = time.perf_counter()
    from qa.embed import load_embedder

    embedder = load_embedder(None, progress=False, backend=backend, threads=threads)
    load_s = time.perf_counter() - started
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    embedder.embed_documents(texts[:8])  # warm-up: first-call allocations are not throughput
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    encode_s = time.perf_counter() - started
    np.save(vectors_file, vectors)
    latencies = []
    for question in QUESTIONS * 2:
        started = time.perf_counter()
        embedder.embed_queries([question])
        latencies.append((time.perf_counter() - started) * 1000)
    return {"load_s": load_s, "chunks_per_s": len(texts) / encode_s, "query_p50_ms": statistics.median(latencies)}


def step_ask_phases(backend: str, index: str) -> dict:
    """Where `bulletin-qa ask` spends its time, phase by phase, as cmd_ask does it."""
    started = time.perf_counter()
    from qa.assistant import Assistant
    from qa.corpus import corpus_to_update

    imports_s = time.perf_counter() - started
    from qa.embed import load_embedder

    started = time.perf_counter()
    embedder = load_embedder(None, progress=False, backend=backend)
    model_s = time.perf_counter() - started
    from qa.store import BulletinIndex
    from qa.update import update_index

    started = time.perf_counter()
    corpus, _ = corpus_to_update(Path(index), None, ROOT / "corpus", build_missing=False)
    if corpus is not None:
        opened, _ = update_index(corpus, Path(index), embedder, progress=False)
    else:
        opened = BulletinIndex.load(Path(index), embedder)
    assistant = Assistant(opened, embedder)  # the answer step's lookups (IDF counts, years, vectors, facts)
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    assistant.ask(ASK_QUESTION)
    ask_s = time.perf_counter() - started
    return {"imports_s": imports_s, "model_s": model_s, "index_s": index_s, "ask_s": ask_s}


def run_step(*args: str) -> dict:
    """Run one step in a fresh interpreter; its last stdout line is the JSON result."""
    done = subprocess.run([sys.executable, __file__, "--step", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"step {args[0]} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the tables
def encoder_table(backends: list[str], chunks: int, threads: int) -> str:
    """backend × load s × chunks/s × query p50 × cosine to torch fp32."""
    work = Path(tempfile.mkdtemp(prefix="encoder-bench-"))
    texts = corpus_chunks(chunks)
    (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    order = ["torch"] + [b for b in backends if b != "torch"]  # torch first: the reference for the cosine
    results, vectors = {}, {}
    for backend in order:
        results[backend] = run_step("encode", backend, str(work / "texts.json"), str(work / f"{backend}.npy"),
                                    str(threads))
        vectors[backend] = np.load(work / f"{backend}.npy")
        print(f"  {backend}: {results[backend]}", file=sys.stderr)
    chars = sum(len(text) for text in texts) / len(texts)
    lines = [f"{len(texts)} chunks of corpus/ (mean {chars:.0f} characters), {threads} threads",
             "| backend | load s | chunks/s | × torch | query p50 ms | cosine to torch fp32 (mean / min) |",
             "|---|---|---|---|---|---|"]
    for backend in order:
        result = results[backend]
        cosine = (vectors[backend] * vectors["torch"]).sum(axis=1)
        lines.append(f"| {backend} | {result['load_s']:.1f} | {result['chunks_per_s']:.1f} | "
                     f"{result['chunks_per_s'] / results['torch']['chunks_per_s']:.2f} | "
                     f"{result['query_p50_ms']:.0f} | {cosine.mean():.4f} / {cosine.min():.4f} |")
    return "\n".join(lines)


def time_ask(code: Path, index: str, backend: str | None) -> float:
    """Wall time of one `python -m qa.cli ask` with the `qa` of `code`."""
    command = [sys.executable, "-m", "qa.cli", "ask", ASK_QUESTION, "--index", index]
    command += ["--backend", backend] if backend else []
    started = time.perf_counter()
    done = subprocess.run(command, cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"ask ({backend}, code {code}) failed: {done.stderr[-1000:]}")
    return time.perf_counter() - started


def time_asks(runs: list[tuple[Path, str, str | None]], count: int) -> list[list[float]]:
    """Wall times of each (code, index, backend) `count` times, the runs taking turns so a change of load hits
    them alike, after one untimed run each (which also writes what an index from older code lacks, once)."""
    for run in runs:
        time_ask(*run)
    walls: list[list[float]] = [[] for _ in runs]
    for _ in range(count):
        for times, run in zip(walls, runs):
            times.append(time_ask(*run))
    return walls


def ask_table(indexes: dict[str, str], runs: int, baseline: Path | None) -> str:
    """backend × `ask` wall time (median of runs) × imports / model / index / ask."""
    lines = [f"`python -m qa.cli ask \"{ASK_QUESTION}\" --index DIR --backend B`, median of {runs} runs after "
             "one untimed run, the rows taking turns; phases from one more run, in-process (index open includes "
             "the answer step's set-up)",
             "| code | backend | index | ask end to end s (runs) | imports s | model load s | index open s | ask s |",
             "|---|---|---|---|---|---|---|---|"]
    measured = [(ROOT, index, backend) for backend, index in indexes.items()]
    if baseline is not None and "torch" in indexes:
        measured.insert(0, (baseline, indexes["torch"], None))
    all_walls = time_asks(measured, runs)
    if baseline is not None and "torch" in indexes:
        walls = all_walls.pop(0)
        print(f"  ask baseline: {walls}", file=sys.stderr)
        lines.append(f"| before ({baseline.name}) | torch | {Path(indexes['torch']).name} | "
                     f"{statistics.median(walls):.1f} ({', '.join(f'{w:.1f}' for w in walls)}) | | | | |")
    for (backend, index), walls in zip(indexes.items(), all_walls):
        phases = run_step("ask-phases", backend, index)
        print(f"  ask {backend}: {walls} {phases}", file=sys.stderr)
        lines.append(f"| now | {backend} | {Path(index).name} | {statistics.median(walls):.1f} "
                     f"({', '.join(f'{w:.1f}' for w in walls)}) | {phases['imports_s']:.1f} | {phases['model_s']:.1f} | "
                     f"{phases['index_s']:.1f} | {phases['ask_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: all three)")
    parser.add_argument("--chunks", type=int, default=256, help="chunks of corpus/ to embed (default: 256)")
    parser.add_argument("--threads", type=int, default=2, help="embedding threads (default: 2)")
    parser.add_argument("--ask-index", action="append", default=[], metavar="BACKEND=DIR",
                        help="also time `ask` over this existing index with this backend (repeatable)")
    parser.add_argument("--ask-runs", type=int, default=3, help="runs of `ask` per backend (default: 3)")
    parser.add_argument("--baseline-code", type=Path, metavar="DIR",
                        help="also time `ask` with the qa package of this checkout (e.g. an older commit, exported "
                             "with git archive) over the torch index, for a before/after in the same run")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)  # internal: one measurement in a subprocess
    args = parser.parse_args(argv)
    if args.step:
        name, *rest = args.step
        if name == "encode":
            result = step_encode(rest[0], rest[1], rest[2], int(rest[3]))
        else:
            result = step_ask_phases(rest[0], rest[1])
        print(json.dumps(result))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    indexes = dict(item.split("=", 1) for item in args.ask_index)
    print(f"load average before: {load_average()}")
    print(encoder_table(backends, args.chunks, args.threads))
    if indexes:
        print()
        print(ask_table(indexes, args.ask_runs, args.baseline_code))
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
