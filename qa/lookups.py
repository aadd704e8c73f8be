"""Query-time lookups over one index's chunks and bulletins: the years and places each chunk speaks for, the rows
a filter admits, whether a word is mentioned. Each is computed on first use and kept as long as the index.

Derived from the chunk records alone (nothing here is stored on disk), so the FAISS folder and Milvus share them.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from qa.chunk import Chunk
from qa.parse import YEAR_RE, Bulletin, to_int

FILTER_MASKS = 64  # filter masks kept (the chat asks with the same filters again and again)
MENTIONS = 4096  # words whose mention is kept


def chunk_years(chunk: Chunk) -> frozenset[str]:
    """The years a chunk speaks about: its period and every 'YYYY年' its text names."""
    named = {str(to_int(m.group(1))) for m in YEAR_RE.finditer(chunk.text)}
    return frozenset(named | ({chunk.period} if chunk.period else set()))


class Lookups:
    """The lookups retrieval and answering make over the chunks (row i is chunk i) and bulletins of one index."""

    def __init__(self, chunks: list[Chunk], bulletins: dict[str, Bulletin]) -> None:
        self.chunks = chunks
        self.bulletins = bulletins
        self._filter_masks: dict = {}
        self._mentions: dict[str, bool] = {}

    @cached_property
    def chunk_years(self) -> list[frozenset[str]]:
        """Per chunk, the years it speaks about: its period and every 'YYYY年' its text names."""
        return [chunk_years(chunk) for chunk in self.chunks]

    @cached_property
    def rows_by_year(self) -> dict[str, np.ndarray]:
        """Year → the rows of the chunks that speak about it (a year question is a lookup)."""
        rows: dict[str, list[int]] = {}
        for row, years in enumerate(self.chunk_years):
            for year in years:
                rows.setdefault(year, []).append(row)
        return {year: np.array(found, dtype=np.int64) for year, found in rows.items()}

    @cached_property
    def place_names(self) -> dict[str, str]:
        """Every name a bulletin's place goes by → that place (哈密 → 哈密市), learned from the indexed
        bulletins' title blocks and issuers; a short form shared by two places names neither."""
        owners: dict[str, set[str]] = {}
        for bulletin in self.bulletins.values():
            for part in bulletin.parts:
                if part.place:
                    for name in (part.place, *part.places):
                        owners.setdefault(name, set()).add(part.place)
        return {name: next(iter(places)) for name, places in owners.items() if len(places) == 1 or name in places}

    @cached_property
    def rows_by_place(self) -> dict[str, np.ndarray]:
        """Place → the rows of the chunks of bulletins that speak for it."""
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            if chunk.place:
                rows.setdefault(chunk.place, []).append(row)
        return {place: np.array(found, dtype=np.int64) for place, found in rows.items()}

    def filter_mask(self, filters) -> np.ndarray:
        """Rows admitted by a `qa.retrieve.Filters`."""
        return _memo(self._filter_masks, filters, FILTER_MASKS,
                     lambda: np.array([filters.admits(chunk) for chunk in self.chunks], dtype=bool))

    def mentions(self, word: str) -> bool:
        """True when some chunk's text holds the word."""
        return _memo(self._mentions, word, MENTIONS, lambda: any(word in chunk.text for chunk in self.chunks))


def _memo(cache: dict, key, limit: int, compute):
    """`cache[key]`, computed on first use; the cache is cleared when it grows past `limit`."""
    if key not in cache:
        if len(cache) > limit:
            cache.clear()
        cache[key] = compute()
    return cache[key]
