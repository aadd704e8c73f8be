"""The FAISS folder against Milvus Lite: build time and query latency, at the bundled corpus and at 100k chunks.

    python bench/milvus_bench.py --source /tmp/bqa-bench/index     # a FAISS index of corpus/ (real vectors)
    python bench/milvus_bench.py --source index --size 20000 --queries 100

Both stores get the same vectors: the bundled corpus's are read from --source (built once with the real
model: `bulletin-qa index corpus --index SOURCE`), so build times compare the stores, not the model (embedding
the corpus takes the same time before either). Queries use the real model's query vectors, embedded once
before timing. The 100k index is the real chunks replicated as other series with their vectors plus small noise
(as bench/bench.py's scale step). Prints Markdown tables. Not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import percentile, questions, table  # noqa: E402


class StoredVectors:
    """An embedder that serves the vectors an existing index holds for each text (the store is timed, not the
    model); queries come from the real model."""

    def __init__(self, source, embedder) -> None:
        from qa.store import vector_key

        vectors = source.vectors()
        self.known = {vector_key(chunk): vectors[row] for row, chunk in enumerate(source.chunks)}
        self.by_text = {chunk.embed_text: vectors[row] for row, chunk in enumerate(source.chunks)}
        self.real = embedder
        self.name, self.dimension, self.prompts = embedder.name, embedder.dimension, embedder.prompts
        self.fingerprint = embedder.fingerprint

    def embed_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        missing = [text for text in texts if text not in self.by_text]
        if missing:  # anything the source lacks: the real model
            self.by_text.update(zip(missing, self.real.embed_documents(missing)))
        return np.stack([self.by_text[text] for text in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.real.embed_queries(texts)


def timed_queries(search, vectors: list, asked: list[str]) -> tuple[float, float]:
    """p50 and p95 in ms of search(question, vector) over the questions (after 10 warm-up calls)."""
    for question, vector in list(zip(asked, vectors))[:10]:
        search(question, vector)
    times = []
    for question, vector in zip(asked, vectors):
        started = time.perf_counter()
        search(question, vector)
        times.append(time.perf_counter() - started)
    return percentile(times, 50) * 1000, percentile(times, 95) * 1000


def bench_corpus(source_dir: Path, work: Path, count: int) -> tuple[list[list], object, object]:
    """Build the bundled corpus into a FAISS folder and into Milvus Lite; time hybrid retrieve() on both."""
    from qa.embed import load_embedder
    from qa.milvus import parse_target
    from qa.milvus_update import update_milvus
    from qa.corpus import recorded_corpus
    from qa.question import question_years
    from qa.retrieve import retrieve
    from qa.store import BulletinIndex
    from qa.update import update_index

    embedder = load_embedder(None, progress=False)
    source = BulletinIndex.load(source_dir, embedder)
    corpus = recorded_corpus(source_dir) or ROOT / "corpus"
    stored = StoredVectors(source, embedder)
    started = time.perf_counter()
    faiss_index, _ = update_index(corpus, work / "faiss", stored, progress=False)
    faiss_build = time.perf_counter() - started
    started = time.perf_counter()
    milvus_index, _ = update_milvus(corpus, parse_target(work / "lite.db"), stored, progress=False)
    milvus_build = time.perf_counter() - started
    asked = [q for q, _ in questions(count)]
    vectors = list(embedder.embed_queries(asked))
    rows = []
    for label, index, build in (("FAISS folder + bm25s", faiss_index, faiss_build),
                                ("Milvus Lite", milvus_index, milvus_build)):
        p50, p95 = timed_queries(lambda q, v: retrieve(index, None, q, k=8, query_vector=v), vectors, asked)
        rows.append([f"bundled corpus ({len(index.chunks):,} chunks)", label, f"{build:.1f}", "hybrid retrieve",
                     f"{p50:.1f}", f"{p95:.1f}"])
    years = sum(1 for q in asked if question_years(q))
    print(f"note: {years} of {len(asked)} questions name a year (a filtered search)", file=sys.stderr)
    return rows, source, embedder


def bench_scale(source, embedder, work: Path, size: int, count: int, variants_all: bool = False) -> list[list]:
    """`size` chunks (real ones replicated with noisy vectors): FAISS + bm25s vs Milvus Lite, build and query."""
    from qa.milvus import MilvusIndex, connect, parse_target
    from qa.milvus_update import UPSERT_BATCH, chunk_row, create_collections
    from qa.retrieve import (BM25_WEIGHT, CANDIDATES, DENSE_WEIGHT, bm25_ranking, candidate_mask, dense_ranking,
                             fuse, question_years)
    from qa.dense import build_dense_index
    from qa.store import BulletinIndex
    from qa.update import chunk_bm25

    vectors = source.vectors()
    rng = np.random.default_rng(7)
    copies = max(1, -(-size // len(source.chunks)))
    chunks, blocks = [], []
    for copy in range(copies):
        chunks += [replace(c, chunk_id=f"{c.chunk_id}-{copy}", file=f"s{copy}/{c.file}", series=f"合成{copy}")
                   for c in source.chunks]
        noisy = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) * (copy > 0)
        blocks.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    chunks, matrix = chunks[:size], np.vstack(blocks)[:size].astype(np.float32)

    started = time.perf_counter()
    faiss_index = BulletinIndex(chunks, {}, {}, source.model, build_dense_index(matrix, source.model["dimension"]),
                                chunk_bm25(chunks))
    faiss_build = time.perf_counter() - started

    target = parse_target(work / "scale.db")
    client = connect(target)
    started = time.perf_counter()
    create_collections(client, target, source.model["dimension"])
    for start in range(0, len(chunks), UPSERT_BATCH * 16):
        client.upsert(target.collection, [chunk_row(chunk, start + i, "s", matrix[start + i])
                                          for i, chunk in enumerate(chunks[start:start + UPSERT_BATCH * 16])])
    client.flush(target.collection)
    milvus_build = time.perf_counter() - started
    milvus = MilvusIndex(chunks, {}, {}, source.model, None, None)
    milvus.client, milvus.target, milvus.sources = client, target, ["s"]
    milvus.lexical, milvus.fusion = "tokens", "weighted"
    print(f"built {len(chunks)}: FAISS {faiss_build:.1f} s, Milvus Lite {milvus_build:.1f} s", file=sys.stderr, flush=True)

    asked = [q for q, _ in questions(count)]
    query_vectors = list(embedder.embed_queries(asked))

    def faiss_search(question, vector):
        mask = candidate_mask(faiss_index, None, question_years(question))
        return fuse([dense_ranking(faiss_index, vector, mask, CANDIDATES),
                     bm25_ranking(faiss_index, question, mask, CANDIDATES)], weights=[DENSE_WEIGHT, BM25_WEIGHT])

    def milvus_search(question, vector):
        scope = milvus.scope(None, question_years(question), [])
        return fuse([milvus.search_dense(vector, scope, CANDIDATES), milvus.search_bm25(question, scope, CANDIDATES)],
                    weights=[DENSE_WEIGHT, BM25_WEIGHT])

    def milvus_rrf(question, vector):
        return milvus.search_hybrid(question, vector, milvus.scope(None, question_years(question), []), CANDIDATES)

    rows = []
    label = f"{len(chunks):,} chunks (synthetic)"
    variants = [("FAISS folder + bm25s", faiss_search, faiss_build),
                ("Milvus Lite", milvus_search, milvus_build)]
    if variants_all:
        variants.append(("Milvus Lite (Milvus RRF, one call)", milvus_rrf, milvus_build))
    for name, search, build in variants:
        p50, p95 = timed_queries(search, query_vectors, asked)
        rows.append([label, name, f"{build:.1f}", "dense + BM25 + fusion", f"{p50:.1f}", f"{p95:.1f}"])
        print(rows[-1], file=sys.stderr, flush=True)
    client.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="a FAISS index folder of corpus/ (real vectors)")
    parser.add_argument("--size", type=int, default=100_000, help="chunks of the synthetic index (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="questions timed per store (default 200)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bqa-milvus-bench-"))
    try:
        rows, source, embedder = bench_corpus(args.source, work, args.queries)
        print(table(["index", "store", "build s", "query", "p50 ms", "p95 ms"], rows), flush=True)
        rows += bench_scale(source, embedder, work, args.size, args.queries)
        print()
        print(table(["index", "store", "build s", "query", "p50 ms", "p95 ms"], rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
