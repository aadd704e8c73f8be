"""BM25 arrays built with numpy from per-chunk term counts, so an update counts only the chunks that are new.

`bm25s.BM25.index` builds its score matrix with a Python loop per document and per token (≈1.2 s for the 7k
chunks of the 52 reports, plus ≈0.6 s to tokenise them), and an index update paid that for every chunk. This
module builds the same matrix — bm25s's lucene idf and tf formulas, the same float32 values, the same CSC
layout — from (token, document, count) triples in a few vectorised passes. The counts are saved beside the
BM25 files (`term_counts.npy`, aligned with bm25s's `indices` array), so the next update takes the counts of
every chunk whose embedded text did not change from there and tokenises only the rest.
`tests/test_bm25.py` checks the matrix and the scores against `bm25s.BM25.index` on the same tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COUNTS_FILE = "term_counts.npy"


@dataclass
class TermCounts:
    """How often each token occurs in each document: one entry per (token, document) pair that occurs."""

    vocab: list[str]  # token id → token
    tokens: np.ndarray  # per entry: token id (int64)
    docs: np.ndarray  # per entry: document row (int64)
    counts: np.ndarray  # per entry: occurrences (int64, ≥ 1)
    n_docs: int


def count_terms(token_lists: list[list[str]]) -> TermCounts:
    """Term counts of freshly tokenised documents (document i is token_lists[i])."""
    vocab: dict[str, int] = {}
    tokens: list[int] = []
    docs: list[int] = []
    counts: list[int] = []
    for doc, doc_tokens in enumerate(token_lists):
        for token, count in Counter(doc_tokens).items():
            tokens.append(vocab.setdefault(token, len(vocab)))
            docs.append(doc)
            counts.append(count)
    return TermCounts(list(vocab), np.array(tokens, np.int64), np.array(docs, np.int64),
                      np.array(counts, np.int64), len(token_lists))


def counts_of(bm25, counts: np.ndarray) -> TermCounts:
    """The term counts of a built index, from its CSC arrays and the saved counts aligned with them."""
    indptr = np.asarray(bm25.scores["indptr"], np.int64)
    vocab = [""] * len(bm25.vocab_dict)
    for token, token_id in bm25.vocab_dict.items():
        vocab[token_id] = token
    tokens = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    return TermCounts(vocab, tokens, np.asarray(bm25.scores["indices"], np.int64), np.asarray(counts, np.int64),
                      int(bm25.scores["num_docs"]))


def select_docs(counts: TermCounts, rows: np.ndarray) -> TermCounts:
    """Documents `rows` of counts (in that order, repeats allowed) as documents 0..len(rows)-1."""
    if len(np.unique(rows)) == len(rows):  # the usual case: a mask keeps the entries in their order
        target = np.full(counts.n_docs, -1, dtype=np.int64)
        target[rows] = np.arange(len(rows))
        new_doc = target[counts.docs]
        keep = new_doc >= 0
        return TermCounts(counts.vocab, counts.tokens[keep], new_doc[keep], counts.counts[keep], len(rows))
    order = np.argsort(counts.docs, kind="stable")
    starts = np.searchsorted(counts.docs[order], np.arange(counts.n_docs + 1))
    lengths = starts[rows + 1] - starts[rows]
    new_doc = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    offsets = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    picked = order[np.repeat(starts[rows], lengths) + offsets]
    return TermCounts(counts.vocab, counts.tokens[picked], new_doc, counts.counts[picked], len(rows))


def concat(parts: list[tuple[TermCounts, np.ndarray]], n_docs: int) -> TermCounts:
    """One TermCounts from parts, each with the final document row of each of its documents; ids that no
    document uses any more are dropped, so the vocabulary is the one a fresh build would have."""
    vocab: dict[str, int] = {}
    tokens, docs, counts = [], [], []
    for part, rows in parts:
        if not vocab:  # the first part keeps its numbering
            vocab = {token: i for i, token in enumerate(part.vocab)}
            tokens.append(part.tokens)
        else:
            remap = np.array([vocab.setdefault(token, len(vocab)) for token in part.vocab], np.int64)
            tokens.append(remap[part.tokens] if len(part.vocab) else part.tokens)
        docs.append(np.asarray(rows, np.int64)[part.docs])
        counts.append(part.counts)
    merged = TermCounts(list(vocab), *(np.concatenate(a) if a else np.zeros(0, np.int64)
                                       for a in (tokens, docs, counts)), n_docs)
    used = np.zeros(len(merged.vocab), bool)
    used[merged.tokens] = True
    new_id = np.cumsum(used) - 1
    merged.vocab = [token for token, keep in zip(merged.vocab, used) if keep]
    merged.tokens = new_id[merged.tokens]
    return merged


@dataclass
class Postings:
    """Term counts by token (the layout of the BM25 matrix): token i's entries are [indptr[i], indptr[i + 1])."""

    vocab: list[str]  # token id → token
    indptr: np.ndarray  # int64, len(vocab) + 1
    docs: np.ndarray  # per entry: document row (int64)
    counts: np.ndarray  # per entry: occurrences (int64, ≥ 1)
    n_docs: int
    ids: dict[str, int] | None = None  # token → id, when the merge already built it (97k tokens: ~40 ms)


def postings_of(bm25, counts: np.ndarray) -> Postings:
    """The postings of a built index, from its CSC arrays and the counts saved aligned with them."""
    indptr = np.asarray(bm25.scores["indptr"], np.int64)
    vocab = [""] * (len(indptr) - 1)
    for token, token_id in bm25.vocab_dict.items():
        if token_id < len(vocab):  # bm25s's empty token "" can sit past the matrix, with no postings
            vocab[token_id] = token
    return Postings(vocab, indptr, np.asarray(bm25.scores["indices"], np.int64), np.asarray(counts, np.int64),
                    int(bm25.scores["num_docs"]))


def postings_from_counts(counts: TermCounts) -> Postings:
    """Term counts ordered by token."""
    order = np.argsort(counts.tokens, kind="stable")
    indptr = np.zeros(len(counts.vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(counts.tokens, minlength=len(counts.vocab)), out=indptr[1:])
    return Postings(counts.vocab, indptr, counts.docs[order], counts.counts[order], counts.n_docs)


def merge_postings(parts: list[tuple[Postings, np.ndarray]], n_docs: int) -> Postings:
    """The postings of documents from several parts, each with the final row of each of its documents (no
    document in two parts). The largest part's postings stay in place and the others' entries are inserted at the
    end of their token's run, so merging a few new documents into a large index copies it once and sorts only
    the new entries (instead of sorting every entry, as `concat` + `build_bm25` would)."""
    base_at = max(range(len(parts)), key=lambda i: len(parts[i][0].docs))
    base, base_rows = parts[base_at]
    vocab = {token: i for i, token in enumerate(base.vocab)}
    tokens, docs, counts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for at, (part, rows) in enumerate(parts):
        if at == base_at:
            continue
        remap = np.array([vocab.setdefault(token, len(vocab)) for token in part.vocab], np.int64)
        tokens.append(remap[np.repeat(np.arange(len(part.vocab), dtype=np.int64), np.diff(part.indptr))])
        docs.append(np.asarray(rows, np.int64)[part.docs])
        counts.append(part.counts)
    added = np.concatenate(tokens)
    order = np.argsort(added, kind="stable")
    added = added[order]
    run_ends = np.full(len(vocab), base.indptr[-1], dtype=np.int64)  # a token new to the base: after all
    run_ends[:len(base.vocab)] = base.indptr[1:]
    where = run_ends[added]
    per_token = np.bincount(added, minlength=len(vocab))
    per_token[:len(base.vocab)] += np.diff(base.indptr)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(per_token, out=indptr[1:])
    return Postings(list(vocab), indptr,
                    np.insert(np.asarray(base_rows, np.int64)[base.docs], where, np.concatenate(docs)[order]),
                    np.insert(base.counts, where, np.concatenate(counts)[order]), n_docs, vocab)


def build_bm25(counts: TermCounts):
    """A `bm25s.BM25` whose arrays equal what `bm25s.BM25().index(tokens)` builds for the same documents
    (up to the numbering of the vocabulary, which bm25s draws from a set), plus the counts aligned with its
    `indices` array for `save_counts`."""
    sorter = _csc_order((counts.tokens << 32) | counts.docs)
    indptr = np.zeros(len(counts.vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(counts.tokens, minlength=len(counts.vocab)), out=indptr[1:])
    return bm25_of(Postings(counts.vocab, indptr, counts.docs[sorter], counts.counts[sorter], counts.n_docs))


def bm25_of(postings: Postings):
    """A `bm25s.BM25` over postings (see `build_bm25`), with the counts aligned with its `indices` array."""
    import bm25s

    retriever = bm25s.BM25()
    if retriever.method != "lucene" or retriever.idf_method != "lucene" or postings.n_docs == 0:
        raise ValueError("build_bm25 reproduces bm25s's lucene defaults over at least one document only")
    k1, b, dtype = retriever.k1, retriever.b, np.dtype(retriever.dtype)
    n_docs, frequencies = postings.n_docs, np.diff(postings.indptr)
    tokens = np.repeat(np.arange(len(postings.vocab), dtype=np.int64), frequencies)
    # The same operations in the same precision as bm25s.scoring, so every float32 score is equal.
    doc_lengths = np.bincount(postings.docs, weights=postings.counts, minlength=n_docs).astype(np.int64)
    avg_doc_len = doc_lengths.mean()
    # math.log, as bm25s, once per distinct document frequency (a few hundred, not one per token)
    distinct, which = np.unique(frequencies, return_inverse=True)
    idf = np.array([math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) if df else 0.0 for df in distinct.tolist()],
                   dtype=dtype)[which]
    length_norm = k1 * ((1 - b) + b * doc_lengths.astype(np.float64) / avg_doc_len)
    tf = postings.counts.astype(dtype).astype(np.float64)
    scores = (idf[tokens] * (tf / (length_norm[postings.docs] + tf))).astype(dtype)
    retriever.scores = {"data": scores, "indices": postings.docs.astype(retriever.int_dtype),
                        "indptr": postings.indptr, "num_docs": n_docs}
    vocab_dict = postings.ids if postings.ids is not None else {token: i for i, token in enumerate(postings.vocab)}
    if "" not in vocab_dict:
        vocab_dict[""] = max(vocab_dict.values(), default=-1) + 1
    retriever.vocab_dict = vocab_dict
    retriever.unique_token_ids_set = set(vocab_dict.values())
    retriever.nonoccurrence_array = None
    retriever.term_counts = postings.counts.astype(np.int32)
    return retriever


def _csc_order(keys: np.ndarray) -> np.ndarray:
    """The order that sorts unique keys. An update passes the previous matrix's entries first, already in
    order: only the entries after that sorted head are sorted, then merged in (≈10× faster than one sort)."""
    breaks = np.flatnonzero(keys[1:] <= keys[:-1])
    head = int(breaks[0]) + 1 if len(breaks) else len(keys)
    tail = np.argsort(keys[head:]) + head
    return np.insert(np.arange(head), np.searchsorted(keys[:head], keys[tail]), tail)


def save_counts(bm25, folder: Path) -> None:
    """Write the term counts of an index built by `build_bm25` (nothing for one bm25s built itself)."""
    counts = getattr(bm25, "term_counts", None)
    if counts is not None:
        np.save(folder / COUNTS_FILE, counts)


def write_term_counts(counts: TermCounts, path: Path) -> None:
    """Write term counts on their own (a segment added to an index keeps no BM25 matrix: loading merges the
    segments' counts into one)."""
    with open(path, "wb") as out:
        np.savez(out, vocab=np.array(counts.vocab, dtype=str), tokens=counts.tokens, docs=counts.docs,
                 counts=counts.counts, n_docs=np.array(counts.n_docs))


def read_term_counts(path: Path) -> TermCounts:
    """Term counts written by `write_term_counts`."""
    with np.load(path) as stored:
        return TermCounts(stored["vocab"].tolist(), stored["tokens"], stored["docs"], stored["counts"],
                          int(stored["n_docs"]))


def load_counts(bm25, folder: Path) -> TermCounts | None:
    """The term counts saved beside a loaded index, or None when there are none (or they do not fit it)."""
    path = folder / COUNTS_FILE
    if not path.exists():
        return None
    counts = np.load(path)
    if len(counts) != len(bm25.scores["indices"]):
        return None
    return counts_of(bm25, counts)


def scores(bm25, token_ids: list[int]) -> np.ndarray:
    """BM25 score of every document for the query token ids: equal to `bm25.get_scores`, which adds each
    token's postings with `np.add.at`; a token's postings name each document once, so a plain fancy-index
    add gives the same float32 sums several times faster."""
    data, indices, indptr = bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"]
    total = np.zeros(bm25.scores["num_docs"], dtype=data.dtype)
    for token_id in token_ids:
        if token_id + 1 >= len(indptr):
            continue  # bm25s's empty token "" can sit past the matrix: it has no postings
        start, end = indptr[token_id], indptr[token_id + 1]
        total[indices[start:end]] += data[start:end]
    return total
