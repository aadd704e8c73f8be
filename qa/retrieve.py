"""Hybrid retrieval: FAISS dense + BM25, fused by reciprocal rank, with metadata and period filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from qa.chunk import Chunk
from qa.embed import Embedder
from qa.errors import FilterError
from qa.identity import AREA_WORDS
from qa.question import question_years
from qa.store import BulletinIndex
from qa.tokens import tokenize

# Weighted reciprocal-rank fusion, chosen by measurement on eval/ (README "Retrieval"): BM25 over character
# bigrams is the stronger retriever on Chinese figures, the dense ranking breaks its ties and adds recall.
RRF_K = 30
DENSE_WEIGHT = 0.3
BM25_WEIGHT = 1.0
CANDIDATES = 50  # how deep each retriever's list goes before fusion
METHODS = ("hybrid", "bm25", "dense")


DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_day(value: str) -> bool:
    """Whether value is a real calendar day written YYYY-MM-DD (2026-02-30 is not)."""
    if not DAY_RE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some bulletins. Empty fields do not filter."""

    series: str | None = None
    issue: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    department: str | None = None
    place: str | None = None  # a place a bulletin speaks for (哈密市), or one of its names (哈密)

    def __post_init__(self) -> None:
        """Refuse a date that is not a real YYYY-MM-DD day, and a range that ends before it starts: a filter
        that can match nothing must say so, not answer 未找到 in silence."""
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value and not _is_day(value):
                which = "start" if name == "date_from" else "end"
                raise FilterError(name, value, "not_a_date",
                                  f"the {which} date {value!r} is not a valid date; write YYYY-MM-DD, e.g. 2026-02-12")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError("date_to", self.date_to, "date_order",
                              f"the end date {self.date_to} is before the start date {self.date_from}")

    def admits(self, chunk: Chunk) -> bool:
        """True when the chunk passes every filter that is set."""
        if self.series and chunk.series != self.series:
            return False
        if self.issue and str(chunk.issue) != str(self.issue):
            return False
        if self.date_from and (not chunk.date or chunk.date < self.date_from):
            return False
        if self.date_to and (not chunk.date or chunk.date > self.date_to):
            return False
        if self.department and self.department not in (chunk.department or ""):
            return False
        if self.place and not (chunk.place and (self.place in chunk.place or chunk.place in self.place)):
            return False
        return True

    def is_empty(self) -> bool:
        return not any((self.series, self.issue, self.date_from, self.date_to, self.department, self.place))


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks it had in each retriever (None: not in the list)."""

    chunk: Chunk
    row: int
    score: float
    dense_rank: int | None
    bm25_rank: int | None


# A place a question opens with (or names after 在): a name ending like a place (省, 市, 县, 自治州, 地区, 盟…).
# Function words and question words never stand inside a place name.
PLACE_WORD_RE = re.compile(r"(?:^|在)\s*((?:(?![的了是在有和与及我你他它哪这那个多少几么谁])[\u4e00-\u9fff]){2,7}?"
                           r"(?:自治区|自治州|自治县|地区|省|市|县|州|盟|旗))(?![里内外上中])")
LEADING_NAME_RE = re.compile(r"^\s*((?:(?![的了是在有和与及我你他它哪这那个多少几么谁年])[\u4e00-\u9fff]){2,8})\s*[12][0-9]{3}\s*年")
NOT_A_PLACE_START = tuple("全本我该各城外省市县州地分人每总区")
# Words that end like a place but name a kind of area (试点小区, 工业园区) or a reference (区里, 省内).
NOT_A_PLACE_END = AREA_WORDS + ("里", "内", "外", "上", "中")


def question_places(index: BulletinIndex, question: str) -> tuple[list[str], list[str]]:
    """Places a question names: (places some indexed bulletin speaks for, place words no bulletin mentions).

    Known places are matched by every name the bulletins give them (哈密市, 哈密), longest first. A word
    shaped like a place that opens the question (洛阳市…) and that no chunk mentions at all is unknown: the
    corpus cannot answer for it. A place mentioned inside some bulletin (a county in a city's table) is
    neither: retrieval finds it by its words."""
    names = index.place_names()
    text = re.sub(r"[12][0-9]{3}\s*年(?:度)?", " ", question).strip()
    known: list[str] = []
    for name in sorted(names, key=len, reverse=True):
        if name in text:
            known.append(names[name])
            text = text.replace(name, " ")
    words = [match.group(1) for match in PLACE_WORD_RE.finditer(text.strip())]
    # A name right before the year that opens a question is a place, suffix or not: "克拉玛依2025年…".
    leading = LEADING_NAME_RE.match(question)
    if leading and not known and leading.group(1) not in names:
        words.append(leading.group(1))
    unknown = [word for word in dict.fromkeys(words)
               if not word.startswith(NOT_A_PLACE_START) and not word.endswith(NOT_A_PLACE_END)
               and not any(index.mentions(word[:end]) for end in range(3, len(word) + 1)
                           if word[:end].endswith(("区", "县", "市", "州", "旗", "盟")) or end == len(word))]
    return list(dict.fromkeys(known)), unknown


def year_mask(index: BulletinIndex, years: list[str]) -> np.ndarray:
    """Chunks that speak about one of the years: their period is that year, or their text names it."""
    mask = np.zeros(len(index.chunks), dtype=bool)
    rows_by_year = index.rows_by_year()
    for year in years:
        mask[rows_by_year.get(year, [])] = True
    return mask


def candidate_mask(index: BulletinIndex, filters: Filters | None, years: list[str],
                   places: list[str] = ()) -> np.ndarray | None:
    """Boolean mask of the chunks that may be returned, or None when everything may."""
    mask = None
    if filters is not None and not filters.is_empty():
        mask = index.filter_mask(filters)
    if years:
        by_year = year_mask(index, years)
        mask = by_year if mask is None else mask & by_year
    if places:
        by_place = np.zeros(len(index.chunks), dtype=bool)
        for place in places:
            by_place[index.rows_by_place().get(place, [])] = True
        mask = by_place if mask is None else mask & by_place
    return mask


def dense_ranking(index: BulletinIndex, query_vector: np.ndarray, mask: np.ndarray | None, depth: int) -> list[int]:
    """Rows by inner product with the query, best first, restricted to the mask."""
    total = index.dense.ntotal if index.has_vectors else 0
    if total == 0:
        return []
    query = query_vector.reshape(1, -1).astype(np.float32)
    if mask is None:
        _, rows = index.dense.search(query, min(depth, total))
        return [int(row) for row in rows[0] if row >= 0]
    # Filtered: exact scores over the admitted rows only. Gathering a few rows is cheapest; when most rows
    # are admitted, one matrix product over all of them and a mask avoids copying the matrix.
    matrix = index.vector_matrix()
    admitted = np.flatnonzero(mask)
    if admitted.size * 4 < total:
        scores = matrix[admitted] @ query[0]
        return [int(admitted[i]) for i in _top(scores, depth)]
    scores = np.where(mask, matrix @ query[0], -np.inf)
    return [int(i) for i in _top(scores, min(depth, admitted.size))]


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Indices of the `depth` highest scores, best first (argpartition, then a small sort)."""
    if scores.size <= depth:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, depth)[:depth]
    return part[np.argsort(-scores[part], kind="stable")]


def bm25_ranking(index: BulletinIndex, question: str, mask: np.ndarray | None, depth: int) -> list[int]:
    """Rows by BM25 score over Chinese-aware tokens, best first; rows scoring 0 are left out."""
    vocab = index.bm25.vocab_dict
    tokens = [token for token in tokenize(question) if token in vocab]
    if not tokens:
        return []
    scores = index.bm25_scores(tokens)
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    return [int(row) for row in _top(scores, depth) if scores[row] > 0]


def fuse(rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: score(row) = Σ w/(k + rank). Returns (row, score), best first."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def retrieve(index: BulletinIndex, embedder: Embedder | None, question: str, k: int = 5,
             filters: Filters | None = None, method: str = "hybrid",
             query_vector: np.ndarray | None = None) -> list[Hit]:
    """The k best chunks for a question.

    Args:
        index: the loaded index.
        embedder: used to embed the question (not needed for method "bm25" or with query_vector).
        question: the question as asked.
        k: how many hits.
        filters: metadata filters.
        method: "hybrid" (default), "bm25" or "dense".
        query_vector: a precomputed query embedding (saves a model call).

    Returns:
        Hits, best first. A question that names a year only gets chunks about that year, and one that names
        a place only chunks of bulletins for that place; when no bulletin covers them the list is empty.
    """
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; choose one of {', '.join(METHODS)}")
    years = question_years(question)
    places, unknown = question_places(index, question)
    if unknown and not places:
        return []  # "2025年洛阳市…": no bulletin speaks for that place, and another city's figure is no answer
    # An index in Milvus (qa.milvus.MilvusIndex) searches itself, with the same restrictions as an expression.
    in_milvus = hasattr(index, "search_dense")
    if in_milvus:
        scope = index.scope(filters, years, places)
    else:
        mask = candidate_mask(index, filters, years, places)
        if mask is not None and not mask.any():
            return []
    rankings: list[list[int]] = []
    dense: list[int] = []
    lexical: list[int] = []
    if method in ("hybrid", "dense") and query_vector is None:
        query_vector = embedder.embed_queries([question])[0]
    if in_milvus and method == "hybrid" and index.fusion == "rrf":  # fused by Milvus in one call
        return [Hit(index.chunks[row], row, score, None, None)
                for row, score in index.search_hybrid(question, query_vector, scope, CANDIDATES)[:k]]
    if method in ("hybrid", "dense"):
        dense = (index.search_dense(query_vector, scope, CANDIDATES) if in_milvus
                 else dense_ranking(index, query_vector, mask, CANDIDATES))
        rankings.append(dense)
    if method in ("hybrid", "bm25"):
        lexical = (index.search_bm25(question, scope, CANDIDATES) if in_milvus
                   else bm25_ranking(index, question, mask, CANDIDATES))
        rankings.append(lexical)
    dense_rank = {row: rank for rank, row in enumerate(dense)}
    bm25_rank = {row: rank for rank, row in enumerate(lexical)}
    weights = [DENSE_WEIGHT, BM25_WEIGHT] if method == "hybrid" else [1.0]
    return [
        Hit(index.chunks[row], row, score, dense_rank.get(row), bm25_rank.get(row))
        for row, score in fuse(rankings, weights=weights)[:k]
    ]

