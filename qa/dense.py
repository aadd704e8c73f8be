"""The dense (FAISS) index over the chunks' vectors: which kind of index a number of vectors gets, and its settings.

Row i is chunk i. Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import numpy as np

# Every vector is scored up to EXACT_LIMIT chunks, an IVF index above it. Measured by bench/bench.py on
# 2 cores (README "Performance"): exact float32 inner product (IndexFlatIP) costs ~14 ms per query at 100k
# vectors and grows linearly (~290 ms at 1M); the approximate indexes lost 19–34 % of the exact top 10 at
# 100k (HNSW M=32 ef 128: recall@10 0.77; IVF nprobe 32: 0.81), too much to pay below ~250k. Above
# FLAT_LIMIT the scan reads fp16 codes (half the bytes of float32: the scan is bound by memory bandwidth)
# and re-scores its best REFINE_FACTOR·k with the float32 vectors (IndexRefineFlat): at 100k real-structured
# vectors the top 50 is the exact set for every query (in the exact order for 97 %; the rest swap near-equal
# scores) at 1/3–1/2 of the exact scan's time (13.6–21 ms vs 25.8–41.4 ms in the same runs on the loaded
# machine; 8-bit codes re-scored took 16–22 ms: their decoding costs more than the bytes saved). Below
# FLAT_LIMIT the exact scan costs under ~3 ms and stays. At 1M real-structured vectors IVF with 2·√n lists and nprobe 64 keeps
# recall@10 0.93 at 4.4 ms per query.
FLAT_LIMIT = 20_000
REFINE_FACTOR = 2
EXACT_LIMIT = 250_000
IVF_PROBES = 64


def build_dense_index(vectors: np.ndarray, dimension: int):
    """Exact inner product (IndexFlatIP) up to FLAT_LIMIT vectors, an fp16 scan re-scored exactly
    (IndexRefineFlat) up to EXACT_LIMIT, IVF-Flat with 2·√n lists above it."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= min(FLAT_LIMIT, EXACT_LIMIT):
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return index
    if len(vectors) <= EXACT_LIMIT:
        codes = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexRefineFlat(codes)
        index.k_factor = REFINE_FACTOR
        index.train(vectors)  # fp16 codes need no training; this only marks the index trained
        index.add(vectors)
        return index
    lists = int(2 * np.sqrt(len(vectors)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), lists * 40), replace=False)]
    index.train(sample)
    index.add(vectors)
    index.make_direct_map()
    index.nprobe = IVF_PROBES
    return index
