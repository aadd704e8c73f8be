"""Segments: a generation made of parts written once, so adding files never rewrites the files already indexed.

A generation's manifest lists its segments (`"segments"`: folder names inside the generation; an index written
in one go has none listed and is one segment, the generation folder itself). Each segment holds the index files
of some of the corpus files — chunks, bulletins, vectors, BM25 term counts, facts and text frequencies, as
`qa.store` writes them — and no file is in two segments. `qa.append` publishes a new generation as hard links to
the previous generation's segments plus one segment of the new files; the full update (`qa.update`) writes one
segment again (compaction).

A segment written in one go holds the dense (FAISS) and BM25 indexes, ready to search; a segment added to an
index holds its vectors (`vectors.npy`) and term counts (`term_counts.npz`) instead, which is all the merge reads
(and spares the adding the import of faiss and bm25s). Loading merges the segments into the index a build in one
go would give: rows ordered by file name (a file's
chunks in their order), one dense index over every vector, BM25 from every segment's term counts, facts ordered
by file and position, text frequencies summed.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from qa.bm25 import (COUNTS_FILE, Postings, bm25_of, count_terms, merge_postings, postings_from_counts, postings_of,
                     read_term_counts)
from qa.chunk import Chunk
from qa.dense import build_dense_index

SEGMENTS_KEY = "segments"
ROOT_SEGMENT = "."  # an index written in one go: its files lie in the generation folder itself
SEGMENT_PREFIX = "seg-"
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "vectors.npy"  # an added segment's vectors, row i for its chunk i
ADDED_COUNTS_FILE = "term_counts.npz"  # an added segment's term counts (`qa.bm25.write_term_counts`)


def segment_names(manifest: dict) -> list[str]:
    """The generation's segments, as folder names inside it."""
    return list(manifest.get(SEGMENTS_KEY) or [ROOT_SEGMENT])


def segment_folders(generation: Path, manifest: dict) -> list[Path]:
    """The folders of the generation's segments, in the manifest's order."""
    return [generation if name == ROOT_SEGMENT else generation / name for name in segment_names(manifest)]


def link_segment(source: Path, target: Path, root: bool = False) -> None:
    """Put segment `source`'s files into `target` as hard links (a segment's files never change after they are
    written, so two generations can share them; removing the old generation leaves the links). A root segment
    (`root`: the generation folder) leaves the generation's manifest behind. Copies where links are refused."""
    target.mkdir()
    for path in sorted(source.iterdir()):
        if root and (path.name == MANIFEST_FILE or path.name.startswith(SEGMENT_PREFIX)):
            continue
        if path.is_dir():
            link_segment(path, target / path.name)
            continue
        try:
            os.link(path, target / path.name)
        except OSError:  # a file system without hard links (some network and FAT mounts)
            shutil.copy2(path, target / path.name)


def merged_rows(chunk_lists: list[list[Chunk]]) -> np.ndarray:
    """For the segments' chunks one after another, the order that sorts them by file name, each file's chunks in
    their order: the rows of a build in one go (`qa.update` orders by file name)."""
    files = [chunk.file for chunks in chunk_lists for chunk in chunks]
    return np.array(sorted(range(len(files)), key=files.__getitem__), dtype=np.int64)


def segment_vectors(folder: Path) -> np.ndarray:
    """A segment's vectors: an added segment's as stored, a written one's from its dense index."""
    if (folder / VECTORS_FILE).exists():
        return np.load(folder / VECTORS_FILE)
    import faiss

    dense = faiss.read_index(str(folder / "dense.faiss"))
    if isinstance(dense, faiss.IndexIVF):
        dense.make_direct_map()
    return dense.reconstruct_n(0, dense.ntotal)


def segment_postings(folder: Path, chunks: list[Chunk]) -> Postings:
    """A segment's term counts by token: an added segment's as stored, a written one's from its BM25 arrays and
    the counts saved beside them (tokenised again when there are none: an index from before they were saved)."""
    if (folder / ADDED_COUNTS_FILE).exists():
        return postings_from_counts(read_term_counts(folder / ADDED_COUNTS_FILE))
    import bm25s

    from qa.tokens import tokenize

    bm25 = bm25s.BM25.load(str(folder / "bm25"), load_vocab=True, show_progress=False)
    counts = np.load(folder / COUNTS_FILE) if (folder / COUNTS_FILE).exists() else None
    if counts is not None and len(counts) == len(bm25.scores["indices"]):
        return postings_of(bm25, counts)
    return postings_from_counts(count_terms([tokenize(chunk.embed_text) or [""] for chunk in chunks]))


def merge_bm25(postings: list[Postings], order: np.ndarray):
    """One BM25 index over the segments' documents (their postings, segment after segment) in the merged order."""
    final_row = np.empty(len(order), dtype=np.int64)
    final_row[order] = np.arange(len(order))
    offsets = np.cumsum([0, *(part.n_docs for part in postings)])
    return bm25_of(merge_postings([(part, final_row[start:start + part.n_docs])
                                   for part, start in zip(postings, offsets)], len(order)))


def merge_vectors(vectors: list[np.ndarray], order: np.ndarray, dimension: int):
    """One dense index over the segments' vectors (segment after segment) in the merged order
    (`build_dense_index` picks its kind by the total)."""
    blocks = [block for block in vectors if len(block)]
    stacked = np.vstack(blocks) if blocks else np.zeros((0, dimension), dtype=np.float32)
    return build_dense_index(stacked[order], dimension)


def merge_facts(fact_lists: list[list]) -> list:
    """The segments' facts in the fact table's order (by file, then position: what `read_facts` gives)."""
    if len(fact_lists) == 1:
        return fact_lists[0]
    return sorted((fact for facts in fact_lists for fact in facts), key=lambda fact: (fact.file, fact.start))


def merge_frequencies(frequencies: list[dict]) -> Counter:
    """Text frequencies of disjoint sets of chunks, summed."""
    total: Counter = Counter()
    for frequency in frequencies:
        total.update(frequency)
    return total
