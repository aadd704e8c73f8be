"""The index: chunks with provenance, a FAISS dense index, a BM25 index and a manifest, saved atomically.

Layout of an index folder (`index/` by default):

    index/CURRENT                 name of the live generation (replaced atomically with os.replace)
    index/gen-<time>-<id>/        one complete generation:
        manifest.json             format/package/chunker/tokenizer versions, model, corpus folder, per-file
                                  hashes, counts
        chunks.jsonl              one chunk per line; line i is FAISS row i and BM25 document i
        bulletins.json            the parsed bulletins (clean text, paragraphs) that chunks point into
        dense.faiss               exact inner-product index over L2-normalised vectors
        bm25/                     bm25s arrays over `qa.tokens.tokenize(chunk.embed_text)`
        term_counts.npy           per-chunk token counts behind the BM25 arrays (reused by the next update)
        facts.sqlite              the fact table

A new generation is written completely, then CURRENT is switched to it in one rename, so a crash at any
moment leaves the previous index loadable; stale generations and temp folders are removed afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from bisect import bisect_left
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import __version__
from qa.bm25 import build_bm25, concat, count_terms, load_counts, save_counts, select_docs
from qa.bm25 import scores as bm25_scores
from qa.chunk import CHUNKER_VERSION, DEFAULT_MAX_CHARS, Chunk, chunk_bulletin
from qa.embed import Embedder
from qa.errors import (BackendMismatchError, CorpusMismatchError, IndexMismatchError, IndexMissingError, InputFileError,
                       Refusal)
from qa.facts import FACTS_VERSION
from qa.parse import PARSER_VERSION, YEAR_RE, Article, Bulletin, Item, Paragraph, Part, parse_bulletin, to_int
from qa.tables import Table
from qa.read import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, content_hash, read_bulletin_file
from qa.tokens import TOKENIZER_VERSION, document_frequency, tokenize

INDEX_FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
LOCK_FILE = "LOCK"  # writers hold an flock on it (see index_lock)
# The phases of an index run, in order, as `BuildProgress.phase` names them ("waiting": for another writer's lock).
PHASES = ("waiting", "reading", "embedding", "bm25", "facts", "writing")


@dataclass(frozen=True)
class BuildProgress:
    """Where an index run is: its phase, how much of it is done (items: files, chunks, indicators) and an estimate
    of the phase's time left, for a status line. A phase reports done=0 when it starts and done=total when it
    ends; the embedding phases also after every block of texts."""

    phase: str
    done: int = 0
    total: int = 0
    seconds: float = 0.0  # spent in this phase so far
    eta: float | None = None  # seconds this phase still needs (embedding phases, once a block is done)


ProgressCallback = Callable[[BuildProgress], None]


@dataclass
class UpdateReport:
    """What one `update_index` run did; `as_json()` is what `bulletin-qa index --json` prints."""

    files_added: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)
    files_refused: dict[str, str] = field(default_factory=dict)  # file → reason (English; set through `refuse`)
    refusals: dict[str, Refusal] = field(default_factory=dict)  # file → the reason's code and params, for the chat
    saved_as: dict[str, str] = field(default_factory=dict)  # uploaded name → name in the corpus folder
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    def refuse(self, name: str, refusal: Refusal) -> None:
        """Record that a file was not indexed, and why."""
        self.files_refused[name] = refusal.reason
        self.refusals[name] = refusal

    def as_json(self) -> dict:
        """Counts and file lists as one JSON-ready object."""
        return {
            "files_added": len(self.files_added),
            "files_changed": len(self.files_changed),
            "files_removed": len(self.files_removed),
            "files_unchanged": len(self.files_unchanged),
            "files_refused": self.files_refused,
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
            "seconds": round(self.seconds, 3),
            "warnings": self.warnings,
        }


def bulletin_to_dict(bulletin: Bulletin) -> dict:
    """A JSON-ready form of a bulletin: the JSON of `dataclasses.asdict`, without its deep copies (2× faster)."""
    return _plain(bulletin)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {name: _plain(item) for name, item in vars(value).items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def bulletin_from_dict(data: dict) -> Bulletin:
    """Inverse of `bulletin_to_dict`."""
    return Bulletin(
        **{
            **data,
            "paragraphs": tuple(Paragraph(**p) for p in data["paragraphs"]),
            "articles": tuple(Article(**a) for a in data["articles"]),
            "items": tuple(Item(**i) for i in data["items"]),
            "sections": tuple(data["sections"]),
            "warnings": tuple(data["warnings"]),
            "parts": tuple(Part(**{**part, "places": tuple(part["places"])}) for part in data.get("parts", ())),
            "tables": tuple(Table(**{**table, "columns": tuple(table["columns"]),
                                     "header_paragraphs": tuple(table["header_paragraphs"]),
                                     "row_paragraphs": tuple(table["row_paragraphs"])})
                            for table in data.get("tables", ())),
        }
    )


TEXT_FREQUENCY_FILE = "text_frequency.json"  # token → chunk texts holding it (the answer step's IDF)

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


def vector_key(chunk: Chunk) -> str:
    """Chunks with the same embedded text share one vector (embedded once)."""
    return hashlib.sha256(chunk.embed_text.encode("utf-8")).hexdigest()


def model_manifest(embedder: Embedder) -> dict:
    """The part of the manifest that must match the embedder used to query."""
    return {
        "name": embedder.name,
        "fingerprint": embedder.fingerprint,
        "dimension": int(embedder.dimension),
        "prompts": embedder.prompts or {},
        "normalised": True,
        "backend": getattr(embedder, "backend", "torch"),
    }


def chunk_years(chunk: Chunk) -> frozenset[str]:
    """The years a chunk speaks about: its period and every 'YYYY年' its text names."""
    named = {str(to_int(m.group(1))) for m in YEAR_RE.finditer(chunk.text)}
    return frozenset(named | ({chunk.period} if chunk.period else set()))


class FactTable(list):
    """The fact table (a list of `qa.facts.Fact`) with its facts grouped by indicator, built on first use, so
    `qa.facts.find_facts` scores each distinct indicator once and visits only the facts of those that match
    instead of every fact: at 100k chunks a table question scanned ~65k facts (~19 ms)."""

    def by_indicator(self) -> dict[str, list[tuple[int, object]]]:
        """Indicator → [(position in the table, fact)], in table order."""
        groups = getattr(self, "_groups", None)
        if groups is None:
            groups = {}
            for position, fact in enumerate(self):
                groups.setdefault(fact.indicator, []).append((position, fact))
            self._groups = groups
        return groups

    def kinds_between(self, file: str, start: int, end: int) -> set[str]:
        """The kinds (count, target, …) of the facts whose figure starts in [start, end) of a file: the answers
        ask the fact table whether a clause is a plan, so both call the same figure a target."""
        by_file = getattr(self, "_by_file", None)
        if by_file is None:
            by_file = {}
            for fact in sorted(self, key=lambda f: (f.file, f.start)):
                starts, kinds = by_file.setdefault(fact.file, ([], []))
                starts.append(fact.start)
                kinds.append(fact.kind)
            self._by_file = by_file
        starts, kinds = by_file.get(file, ([], []))
        return set(kinds[bisect_left(starts, start):bisect_left(starts, end)])


class BulletinIndex:
    """Chunks, their vectors (FAISS) and BM25, plus the bulletins they quote. Row i is chunk i everywhere."""

    def __init__(self, chunks: list[Chunk], bulletins: dict[str, Bulletin], file_hashes: dict[str, dict],
                 vectors: np.ndarray, model: dict, created: str | None = None, bm25=None,
                 corpus_dir: Path | None = None) -> None:
        self.chunks = chunks
        self.corpus_dir = corpus_dir  # the folder it was built from (absolute); None: not recorded
        self.bulletins = bulletins
        self.file_hashes = file_hashes
        self.model = model
        self.updated = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")  # ISO 8601, UTC, like created
        self.created = created or self.updated
        # No vectors: a keyword-only index (see `keyword_index`), for BM25 retrieval while the real one is built.
        self.dense = (build_dense_index(np.ascontiguousarray(vectors, dtype=np.float32), model["dimension"])
                      if vectors is not None else None)
        self.bm25 = bm25 if bm25 is not None else _build_bm25(chunks)
        self.row_of = {chunk.chunk_id: row for row, chunk in enumerate(chunks)}
        self._facts = None
        self._folder = None
        self._text_frequency: Counter | None = None

    # ----- reading -----
    def facts(self) -> list:
        """The fact table: every figure as a `qa.facts.Fact` (read from disk, or extracted, once)."""
        if self._facts is None:
            from qa.facts import read_facts

            if self._folder is not None and (self._folder / "facts.sqlite").exists():
                self._facts = FactTable(read_facts(self._folder / "facts.sqlite"))
            else:
                self._facts = FactTable(self._extract_facts())
        return self._facts

    def _extract_facts(self, old: "BulletinIndex | None" = None) -> list:
        """Facts of every bulletin; those of a bulletin taken over unchanged from `old` (the very same parsed
        object, so the same text and chunks) are `old`'s facts instead of being extracted again."""
        from qa.facts import extract_facts

        by_file: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            by_file.setdefault(chunk.file, []).append(chunk)
        reused: dict[str, list] = {}
        if old is not None:
            kept = {name for name, bulletin in self.bulletins.items() if old.bulletins.get(name) is bulletin}
            reused = {name: [] for name in kept}
            for fact in old.facts():
                if fact.file in kept:
                    reused[fact.file].append(fact)
        return [fact for name in sorted(self.bulletins)
                for fact in (reused[name] if name in reused else extract_facts(self.bulletins[name], by_file.get(name, [])))]

    def text_frequency(self) -> Counter:
        """Per token, how many chunk texts hold it (the answer step's IDF): read from the generation, else counted
        once. Counting tokenises every chunk (4.5 s for the 6,917 report chunks at load ~8.5), which every
        `bulletin-qa ask` used to pay before its first answer."""
        if self._text_frequency is None:
            path = self._folder / TEXT_FREQUENCY_FILE if self._folder is not None else None
            if path is not None and path.exists():
                self._text_frequency = Counter(json.loads(path.read_text(encoding="utf-8")))
            else:
                self._text_frequency = document_frequency(chunk.text for chunk in self.chunks)
        return self._text_frequency

    def reuse_text_frequency(self, old: "BulletinIndex") -> None:
        """The text frequency from `old`'s (same tokenizer), counting only the chunk texts gained or lost."""
        old_texts = Counter(chunk.text for chunk in old.chunks)
        new_texts = Counter(chunk.text for chunk in self.chunks)
        counts = Counter(old.text_frequency())
        counts.update(document_frequency((new_texts - old_texts).elements()))
        counts.subtract(document_frequency((old_texts - new_texts).elements()))
        self._text_frequency = +counts  # drops the tokens no chunk holds any more

    def reuse_facts(self, old: "BulletinIndex") -> None:
        """Take the facts of the bulletins `old` already held from `old` instead of extracting them again."""
        self._facts = FactTable(self._extract_facts(old))

    def chunk_years(self) -> list[frozenset[str]]:
        """Per chunk, the years it speaks about: its period and every 'YYYY年' its text names (cached)."""
        cached = getattr(self, "_chunk_years", None)
        if cached is None:
            cached = self._chunk_years = [chunk_years(chunk) for chunk in self.chunks]
        return cached

    def rows_by_year(self) -> dict[str, np.ndarray]:
        """Year → the rows of the chunks that speak about it (cached; a year question is a lookup)."""
        cached = getattr(self, "_rows_by_year", None)
        if cached is None:
            rows: dict[str, list[int]] = {}
            for row, years in enumerate(self.chunk_years()):
                for year in years:
                    rows.setdefault(year, []).append(row)
            cached = self._rows_by_year = {year: np.array(found, dtype=np.int64) for year, found in rows.items()}
        return cached

    def place_names(self) -> dict[str, str]:
        """Every name a bulletin's place goes by → that place (哈密 → 哈密市), learned from the indexed
        bulletins' title blocks and issuers; a short form shared by two places names neither (cached)."""
        cached = getattr(self, "_place_names", None)
        if cached is None:
            owners: dict[str, set[str]] = {}
            for bulletin in self.bulletins.values():
                for part in bulletin.parts:
                    if part.place:
                        for name in (part.place, *part.places):
                            owners.setdefault(name, set()).add(part.place)
            cached = self._place_names = {name: next(iter(places)) for name, places in owners.items()
                                          if len(places) == 1 or name in places}
        return cached

    def rows_by_place(self) -> dict[str, np.ndarray]:
        """Place → the rows of the chunks of bulletins that speak for it (cached)."""
        cached = getattr(self, "_rows_by_place", None)
        if cached is None:
            rows: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                if chunk.place:
                    rows.setdefault(chunk.place, []).append(row)
            cached = self._rows_by_place = {place: np.array(found, dtype=np.int64) for place, found in rows.items()}
        return cached

    def vector_matrix(self) -> np.ndarray:
        """All vectors as one matrix (for filtered searches over a subset of rows): a view into the float32
        storage of a flat or refined FAISS index, no copy; other index types reconstruct once and cache."""
        import faiss

        cached = getattr(self, "_vector_matrix", None)
        if cached is None:
            total, dimension = (self.dense.ntotal if self.dense is not None else 0), self.model.get("dimension")
            flat = self.dense
            if isinstance(flat, faiss.IndexRefine):  # its float32 vectors
                flat = faiss.downcast_index(flat.refine_index)
            if isinstance(flat, faiss.IndexFlat) and total:
                cached = faiss.rev_swig_ptr(flat.get_xb(), total * dimension).reshape(total, dimension)
            else:
                cached = self.vectors()
            self._vector_matrix = cached
        return cached

    def filter_mask(self, filters) -> np.ndarray:
        """Rows admitted by a `qa.retrieve.Filters` (cached per filter: the chat asks with the same one)."""
        return self._memo("_filter_masks", filters, 64,
                          lambda: np.array([filters.admits(chunk) for chunk in self.chunks], dtype=bool))

    def _memo(self, name: str, key, limit: int, compute):
        """A small per-index cache of query-time lookups (cleared when it grows past `limit`)."""
        cache = getattr(self, name, None)
        if cache is None:
            cache = {}
            setattr(self, name, cache)
        if key not in cache:
            if len(cache) > limit:
                cache.clear()
            cache[key] = compute()
        return cache[key]

    @property
    def has_vectors(self) -> bool:
        """False for a keyword-only index (no dense vectors: BM25 retrieval only)."""
        return self.dense is not None

    def vectors(self) -> np.ndarray:
        """All vectors, row i for chunk i (none for a keyword-only index)."""
        if self.dense is None or self.dense.ntotal == 0:
            return np.zeros((0, self.model.get("dimension") or 0), dtype=np.float32)
        return self.dense.reconstruct_n(0, self.dense.ntotal)

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for query tokens (all in the vocabulary): `bm25.get_scores`, faster."""
        vocab = self.bm25.vocab_dict
        return bm25_scores(self.bm25, [vocab[token] for token in tokens])

    def mentions(self, word: str) -> bool:
        """True when some chunk's text holds the word (cached per word)."""
        return self._memo("_mentions", word, 4096, lambda: any(word in chunk.text for chunk in self.chunks))

    def bulletin_of(self, chunk: Chunk) -> Bulletin:
        """The bulletin a chunk was cut from."""
        return self.bulletins[chunk.file]

    def manifest(self, index_dir: Path | None = None) -> dict:
        """The self-description written as manifest.json (into index_dir, against which the corpus folder is
        also recorded as a relative path)."""
        series = sorted({b.series for b in self.bulletins.values()})
        corpus = {}
        if self.corpus_dir is not None:
            corpus["corpus"] = {"path": str(self.corpus_dir)}
            if index_dir is not None:
                corpus["corpus"]["relative"] = os.path.relpath(self.corpus_dir, index_dir.resolve())
        return {
            "format_version": INDEX_FORMAT_VERSION,
            "package_version": __version__,
            "parser_version": PARSER_VERSION,
            "chunker_version": CHUNKER_VERSION,
            "chunker_max_chars": DEFAULT_MAX_CHARS,
            "tokenizer": TOKENIZER_VERSION,
            "facts_version": FACTS_VERSION,
            "model": self.model,
            **corpus,
            "files": self.file_hashes,
            "counts": {"files": len(self.bulletins), "chunks": len(self.chunks), "facts": len(self.facts()),
                       "series": series},
            "created": self.created,
            "updated": self.updated,
        }

    # ----- writing -----
    def save(self, index_dir: Path) -> Path:
        """Write a new generation and switch CURRENT to it atomically. Returns the generation folder."""
        import faiss

        if self.dense is None:
            raise ValueError("a keyword-only index (no vectors) is never saved; build the index with update_index")
        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        temp = index_dir / f".tmp-{name}"
        temp.mkdir()
        with open(temp / "chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in self.chunks:  # vars(): Chunk's fields are plain values, same JSON as asdict, 3× faster
                out.write(json.dumps(vars(chunk), ensure_ascii=False) + "\n")
        _write_json(temp / "bulletins.json", {f: bulletin_to_dict(b) for f, b in self.bulletins.items()})
        faiss.write_index(self.dense, str(temp / "dense.faiss"))
        self.bm25.save(str(temp / "bm25"), show_progress=False)
        save_counts(self.bm25, temp)
        from qa.facts import write_facts

        write_facts(temp / "facts.sqlite", self.facts())
        (temp / TEXT_FREQUENCY_FILE).write_text(  # compact: ~100k tokens, read on every open
            json.dumps(self.text_frequency(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        _write_json(temp / "manifest.json", self.manifest(index_dir))
        _fsync_tree(temp)
        os.replace(temp, index_dir / name)
        pointer = index_dir / f".tmp-{CURRENT_FILE}-{uuid.uuid4().hex[:8]}"
        pointer.write_text(name + "\n", encoding="utf-8")
        _fsync_file(pointer)
        os.replace(pointer, index_dir / CURRENT_FILE)
        _fsync_dir(index_dir)
        clean_stale(index_dir)
        return index_dir / name

    @classmethod
    def load(cls, index_dir: Path, embedder: Embedder | None = None, check_versions: bool = True) -> "BulletinIndex":
        """Load the live generation; refuse one built with another model, chunker or format.

        A writer that switches CURRENT meanwhile removes the generation being read: then the new one is read.

        Raises:
            IndexMissingError: no index in index_dir.
            IndexMismatchError: built with other versions; the message says how to rebuild.
        """
        for attempt in range(3):
            live = _pointer(index_dir)
            try:
                return cls._load_live(index_dir, embedder, check_versions)
            except (OSError, RuntimeError, IndexMissingError):  # faiss raises RuntimeError for a vanished file
                if attempt == 2 or _pointer(index_dir) == live:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _load_live(cls, index_dir: Path, embedder: Embedder | None, check_versions: bool) -> BulletinIndex:
        """One attempt at `load`."""
        import bm25s
        import faiss

        folder = current_generation(index_dir)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        check_manifest(manifest, embedder, index_dir, check_versions)
        chunks = [Chunk(**json.loads(line)) for line in
                  (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        bulletins = {f: bulletin_from_dict(d) for f, d in
                     json.loads((folder / "bulletins.json").read_text(encoding="utf-8")).items()}
        index = cls.__new__(cls)
        index.chunks = chunks
        index.bulletins = bulletins
        index.file_hashes = manifest["files"]
        index.model = manifest["model"]
        index.created = manifest["created"]
        index.updated = manifest.get("updated", manifest["created"])
        index.corpus_dir = Path(manifest["corpus"]["path"]) if manifest.get("corpus") else None
        index.dense = faiss.read_index(str(folder / "dense.faiss"))
        if isinstance(index.dense, faiss.IndexIVF):
            index.dense.make_direct_map()  # lets filtered searches reconstruct rows
            index.dense.nprobe = IVF_PROBES
        index.bm25 = bm25s.BM25.load(str(folder / "bm25"), load_vocab=True, show_progress=False)
        index.row_of = {chunk.chunk_id: row for row, chunk in enumerate(chunks)}
        index._facts = None
        index._folder = folder
        index._text_frequency = None
        if index.dense.ntotal != len(chunks):
            raise IndexMismatchError(f"index in {index_dir} is inconsistent ({index.dense.ntotal} vectors for "
                                     f"{len(chunks)} chunks); rebuild it with: bulletin-qa index --rebuild")
        return index


def check_manifest(manifest: dict, embedder: Embedder | None, index_dir: Path, check_versions: bool = True,
                   how: str | None = None) -> None:
    """Raise IndexMismatchError when the index on disk cannot be used with this code and embedder (`how`: the
    rebuild advice to give, by default for an index folder)."""
    how = how or f"rebuild it with: bulletin-qa index CORPUS_DIR --index {index_dir} --rebuild"
    expected = {
        "format_version": INDEX_FORMAT_VERSION,
        "parser_version": PARSER_VERSION,
        "chunker_version": CHUNKER_VERSION,
        "chunker_max_chars": DEFAULT_MAX_CHARS,
        "tokenizer": TOKENIZER_VERSION,
        "facts_version": FACTS_VERSION,
    }
    for key, value in expected.items():
        if check_versions and manifest.get(key) != value:
            raise IndexMismatchError(
                f"index in {index_dir} was built with {key} {manifest.get(key)!r}, this version needs {value!r}; {how}"
            )
    if embedder is not None:
        built = manifest.get("model", {})
        if built.get("fingerprint") != embedder.fingerprint or built.get("dimension") != embedder.dimension:
            raise IndexMismatchError(
                f"index in {index_dir} was built with model {built.get('name')!r} "
                f"({built.get('fingerprint')}, dim {built.get('dimension')}), but the model in use is "
                f"{embedder.name!r} ({embedder.fingerprint}, dim {embedder.dimension}); "
                f"use --model {built.get('name')} or {how}"
            )
        check_backend(built, embedder, index_dir, how)


def check_backend(built: dict, embedder: Embedder, index_dir: Path, how: str) -> None:
    """Raise BackendMismatchError when the index's vectors came from a backend whose vectors the embedder's do not
    match (`qa.embed.interchangeable`: torch and ONNX fp32 do, int8 does not)."""
    from qa.embed import interchangeable

    built_with = built.get("backend", "torch")  # an index from before the backend was recorded was built by torch
    used = getattr(embedder, "backend", "torch")
    if not interchangeable(built_with, used):
        raise BackendMismatchError(
            str(index_dir), built_with, used,
            f"index in {index_dir} was embedded by the {built_with} backend, whose vectors the {used} backend does "
            f"not reproduce closely enough to search them; use --backend {built_with} (or BULLETIN_QA_BACKEND="
            f"{built_with}), or embed it again for {used}: {how.removeprefix('rebuild it with: ')} --backend {used}")


def _versions_match(index_dir: Path) -> bool:
    """True when the index on disk was built by this parser, chunker, tokenizer and format."""
    manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
    try:
        check_manifest(manifest, None, index_dir)
    except IndexMismatchError:
        return False
    return True


def _vectors_only(old: "BulletinIndex") -> "BulletinIndex":
    """The old index with no file recorded, so every file counts as new while its vectors stay reusable."""
    old.file_hashes = {}
    return old


@contextmanager
def index_lock(index_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index folder's writer lock: one writer at a time, across threads and processes.

    Without it a second writer (another `bulletin-qa index`, an `ask` that updates, an upload in the chat)
    would remove the first one's temp folder as a crash leftover, or its fresh generation as stale. The lock
    is an flock on `LOCK`, released by the kernel when its holder exits or is killed. `on_wait` is called
    once when another writer holds it, before waiting for it.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(index_dir / LOCK_FILE, "a+b")  # noqa: SIM115 - held for the body of the with
    except OSError:  # a read-only index folder: nothing can be written there, so there is nothing to guard
        yield
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _pointer(index_dir: Path) -> str | None:
    """What CURRENT names right now (None when there is no index)."""
    try:
        return (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def current_generation(index_dir: Path) -> Path:
    """The folder CURRENT points at."""
    pointer = index_dir / CURRENT_FILE
    if not pointer.exists():
        raise IndexMissingError(f"no index in {index_dir}; build one with: bulletin-qa index CORPUS_DIR --index {index_dir}")
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    if not (folder / "manifest.json").exists():
        raise IndexMissingError(f"index in {index_dir} points at a missing generation {folder.name}; "
                                f"rebuild it with: bulletin-qa index CORPUS_DIR --index {index_dir} --rebuild")
    return folder


def has_index(index_dir: Path) -> bool:
    """True when index_dir holds an index (a CURRENT pointer), however old."""
    return (index_dir / CURRENT_FILE).is_file()


def _corpus_places(index_dir: Path) -> list[Path]:
    """Where the corpus folder the index records may be now: at its recorded place relative to the index folder
    (the two were moved or copied together), then at its recorded absolute path. Empty when the manifest
    predates the record (an unknown corpus)."""
    for attempt in range(3):  # a writer may replace the generation while its manifest is read
        live = _pointer(index_dir)
        try:
            manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
            break
        except (OSError, IndexMissingError):
            if attempt == 2 or _pointer(index_dir) == live:
                raise
    record = manifest.get("corpus")
    if not record:
        return []
    places = [(index_dir.resolve() / record["relative"]).resolve()] if record.get("relative") else []
    return places + [Path(record["path"])]


def recorded_corpus(index_dir: Path) -> Path | None:
    """The corpus folder the index in index_dir was built from (where it is now, if it moved together with the
    index), or None for an index that predates the record.

    Raises:
        IndexMissingError: no index in index_dir.
    """
    places = _corpus_places(index_dir)
    return next((place for place in places if place.is_dir()), places[-1] if places else None)


def check_corpus(index_dir: Path, corpus_dir: Path) -> None:
    """Raise CorpusMismatchError unless corpus_dir is the corpus folder the index records (or it records none)."""
    places = _corpus_places(index_dir) if has_index(index_dir) else []
    if places and all(corpus_dir.resolve() != place.resolve() for place in places):
        raise CorpusMismatchError(
            f"index {index_dir} was built from the corpus folder {places[-1]}, not {corpus_dir}; to index "
            f"{corpus_dir}, build a new index: bulletin-qa index {corpus_dir} --index NEW_INDEX (or switch this "
            f"index to it: bulletin-qa index {corpus_dir} --index {index_dir} --switch-corpus)")


def corpus_to_update(index_dir: Path, corpus_dir: Path | None, default_corpus: Path,
                     build_missing: bool) -> tuple[Path | None, str | None]:
    """The corpus folder to bring the index in index_dir up to date from before answering (ask, eval, the chat).

    The folder the index records wins; an explicit corpus_dir must be that one. A folder that holds no index is
    built only when build_missing (the default index on first start), from corpus_dir or default_corpus, so a
    mistyped index path never starts a build.

    Args:
        corpus_dir: the corpus folder given explicitly (a flag or its environment twin), else None.
        default_corpus: the corpus folder of a new default index, and of one that predates the record.
        build_missing: index_dir is the default index folder, built on first use.

    Returns:
        (the corpus folder, or None to use the index as it is; a warning to show, or None).

    Raises:
        IndexMissingError: no index in index_dir and not build_missing; the message says how to build one.
        CorpusMismatchError: corpus_dir is not the folder the index was built from.
    """
    if not has_index(index_dir):
        if not build_missing:
            state = "holds no index" if index_dir.exists() else "does not exist"
            raise IndexMissingError(f"index folder {index_dir} {state}; build an index there first with: "
                                    f"bulletin-qa index CORPUS --index {index_dir}")
        return corpus_dir or default_corpus, None
    recorded = recorded_corpus(index_dir)
    if recorded is None:  # built before indexes recorded their corpus
        if corpus_dir is not None:
            return corpus_dir, None
        if build_missing:  # the default index follows the default corpus, as it always did
            return (default_corpus if default_corpus.is_dir() else None), None
        return None, (f"index {index_dir} does not record the corpus folder it was built from (an older index), "
                      f"so it is used as it is; to record it and update from it: "
                      f"bulletin-qa index CORPUS --index {index_dir}")
    if corpus_dir is not None:
        check_corpus(index_dir, corpus_dir)
        recorded = corpus_dir
    if not recorded.is_dir():
        return None, (f"the corpus folder {recorded} that index {index_dir} was built from no longer exists; "
                      f"answering from the index as it is")
    return recorded, None


def clean_stale(index_dir: Path) -> list[str]:
    """Remove temp folders left by crashed runs and generations that CURRENT no longer points at."""
    live = None
    if (index_dir / CURRENT_FILE).exists():
        live = (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    removed = []
    for path in index_dir.iterdir() if index_dir.exists() else []:
        stale_gen = path.name.startswith("gen-") and path.name != live
        if path.name.startswith(".tmp-") or stale_gen:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def _build_bm25(chunks: list[Chunk], keys: list[str] | None = None, old: "BulletinIndex | None" = None):
    """A bm25s index over the Chinese-aware tokens of each chunk's embedded text.

    With `old` (an index built by this tokenizer) and the chunks' `vector_key`s, a chunk whose embedded text
    `old` already holds takes its term counts from `old` (`term_counts.npy`) instead of being tokenised again.
    """
    if not chunks:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([[""]], show_progress=False)
        return retriever
    previous = load_counts(old.bm25, old._folder) if old is not None and old._folder is not None else None
    old_rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(old.chunks if previous is not None else []):
        old_rows.setdefault(vector_key(chunk), []).append(row)
    # The n-th chunk with a text takes the counts of the n-th old chunk with it (a copy beyond those is counted
    # afresh): each old row is used once and in order, so build_bm25 merges instead of sorting.
    reused: list[tuple[int, int]] = []  # (row, row in old)
    fresh: list[int] = []
    for row, key in enumerate(keys or [vector_key(chunk) for chunk in chunks]):
        copies = old_rows.get(key)
        if copies:
            reused.append((row, copies.pop(0)))
        else:
            fresh.append(row)
    parts = [(count_terms([tokenize(chunks[row].embed_text) or [""] for row in fresh]), np.array(fresh, np.int64))]
    if reused:
        rows, sources = (np.array(column, np.int64) for column in zip(*reused))
        parts.insert(0, (select_docs(previous, sources), rows))
    return build_bm25(concat(parts, len(chunks)))


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder below folder, so the rename that publishes it never exposes a partial file."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _fsync_file(path)
    for path in [*sorted(p for p in folder.rglob("*") if p.is_dir()), folder]:
        _fsync_dir(path)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Bulletin files in a corpus folder (recursively), sorted; hidden files, README files and unsupported
    types are skipped."""
    if not corpus_dir.is_dir():
        raise IndexMissingError(f"corpus folder {corpus_dir} does not exist")
    return sorted(
        path for path in corpus_dir.rglob("*")
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        and not path.name.upper().startswith("README.")
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
    )


def _file_bytes_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_corpus(corpus_dir: Path, old: BulletinIndex | None, report: UpdateReport, progress: bool = False,
                phase: "_Phase | None" = None) -> tuple[dict[str, Bulletin], dict[str, dict], dict[str, list[Chunk]]]:
    """Read, parse and chunk the corpus folder's files; files `old` holds unchanged are taken from `old`.
    Shared by every store (the FAISS folder, Milvus).

    Refusals, warnings and the added, changed, unchanged and removed files go into `report`.

    Returns:
        (bulletins, file hashes, chunks) by file name.
    """
    old_hashes = old.file_hashes if old else {}
    old_chunks_of: dict[str, list[Chunk]] = {}
    for chunk in old.chunks if old else []:
        old_chunks_of.setdefault(chunk.file, []).append(chunk)
    bulletins: dict[str, Bulletin] = {}
    file_hashes: dict[str, dict] = {}
    chunks_by_file: dict[str, list[Chunk]] = {}
    seen_text: dict[str, str] = {}  # text hash → file, to refuse duplicates under another name

    paths = corpus_files(corpus_dir)
    names = {path: path.relative_to(corpus_dir).as_posix() for path in paths}
    # Files already in the index first: a copy dropped in later under a name that sorts earlier is the
    # duplicate, and must not push the indexed original out.
    paths.sort(key=lambda path: (names[path] not in old_hashes, names[path]))
    phase = phase or _Phase(None)
    phase.start("reading", len(paths))
    # A bar only when there is reading to do: checking that indexed files are unchanged (every `ask`) is a blink.
    new_files = sum(1 for path in paths if names[path] not in old_hashes)
    iterator = _progress(paths, "reading", progress and new_files >= 5)
    for path in iterator:
        name = names[path]
        previous = old_hashes.get(name)
        try:
            # An oversized file is refused by the reader below before a byte of it is read: do not hash it either.
            raw_hash = _file_bytes_hash(path) if path.stat().st_size <= MAX_FILE_BYTES else None
        except OSError as error:
            report.refuse(name, Refusal("cannot_read", f"cannot read: {error.strerror}"))
            continue
        if previous and previous["bytes_sha256"] == raw_hash and old is not None:
            duplicate_of = seen_text.get(previous["text_sha256"])
            if duplicate_of:
                report.refuse(name, Refusal("duplicate", f"same text as {duplicate_of}; not added twice",
                                            {"of": duplicate_of}))
                continue
            bulletins[name] = old.bulletins[name]
            file_hashes[name] = previous
            chunks_by_file[name] = old_chunks_of.get(name, [])
            seen_text[previous["text_sha256"]] = name
            report.files_unchanged.append(name)
            continue
        try:
            text = read_bulletin_file(path)
            text_hash = content_hash(text)
            if text_hash in seen_text:
                raise InputFileError(name, f"same text as {seen_text[text_hash]}; not added twice", code="duplicate",
                                     of=seen_text[text_hash])
            bulletin = parse_bulletin(text, name)
            chunks = chunk_bulletin(bulletin, text_hash)
            if not chunks:
                raise InputFileError(name, "no text to index after parsing", code="no_chunks")
        except InputFileError as error:
            report.refuse(name, error.refusal)
            if previous and old is not None and name in old.bulletins:
                # Keep the version that was indexed before: a bad edit must not lose the old text.
                bulletins[name] = old.bulletins[name]
                file_hashes[name] = previous
                chunks_by_file[name] = old_chunks_of.get(name, [])
                seen_text[previous["text_sha256"]] = name
            continue
        bulletins[name] = bulletin
        file_hashes[name] = {"bytes_sha256": raw_hash, "text_sha256": text_hash}
        chunks_by_file[name] = chunks
        seen_text[text_hash] = name
        report.warnings.extend(bulletin.warnings)
        (report.files_changed if previous else report.files_added).append(name)
    report.files_removed = sorted(set(old_hashes) - set(names.values()))

    phase.end(len(paths))
    return bulletins, file_hashes, chunks_by_file


def keyword_index(corpus_dir: Path, model_name: str) -> tuple[BulletinIndex, UpdateReport]:
    """An index of the corpus folder for BM25 retrieval only, in seconds: parsed, chunked and BM25-indexed like
    `update_index` does, with no vectors (nothing embedded) and never saved. It answers while the real index is
    built (`BulletinIndex.has_vectors` is False).

    Args:
        corpus_dir: folder of bulletin files.
        model_name: the embedding model the real index will be built with (named in its status).
    """
    started = time.perf_counter()
    report = UpdateReport()
    corpus_dir = corpus_dir.resolve()
    bulletins, file_hashes, chunks_by_file = scan_corpus(corpus_dir, None, report, False, _Phase(None))
    chunks = [chunk for name in sorted(chunks_by_file) for chunk in chunks_by_file[name]]
    index = BulletinIndex(chunks, bulletins, file_hashes, None, {"name": model_name, "dimension": None},
                          bm25=_build_bm25(chunks), corpus_dir=corpus_dir)
    report.chunks_total = len(chunks)
    report.seconds = time.perf_counter() - started
    return index, report


class _Phase:
    """Reports the phases of one index run to an optional `ProgressCallback`."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.name = ""
        self.total = 0
        self.started = time.perf_counter()

    def start(self, name: str, total: int = 0) -> None:
        self.name, self.total, self.started = name, total, time.perf_counter()
        self.report(0)

    def report(self, done: int, eta: float | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(BuildProgress(self.name, done, self.total, time.perf_counter() - self.started, eta))

    def end(self, total: int | None = None) -> None:
        self.report(self.total if total is None else total, 0.0)


# When progress is reported, texts are embedded in blocks of a whole number of the embedder's batches (32) sized to
# take about BLOCK_SECONDS each (measured as it goes), so the time left is re-estimated that often.
BATCH = 32
BLOCK_SECONDS = 5.0


def embed_texts(embedder: Embedder, texts: list[str], phase: str,
                on_progress: ProgressCallback | None = None, progress: bool = False) -> np.ndarray:
    """`embedder.embed_documents(texts)`; with on_progress, in blocks, reporting `phase` after each block with an
    estimate of the time left (by characters: a block of long texts takes longer).

    The texts are embedded longest first, which is the order sentence-transformers batches them in anyway, so the
    blocks hold the same batches as one call over all texts would."""
    if on_progress is None or not texts:
        return embedder.embed_documents(texts, progress=progress)
    reporter = _Phase(on_progress)
    reporter.start(phase, len(texts))
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors: np.ndarray | None = None
    total_chars, done_chars = sum(len(text) for text in texts) or 1, 0
    begin, block = 0, BATCH
    while begin < len(order):
        rows = order[begin:begin + block]
        block_started = time.perf_counter()
        part = embedder.embed_documents([texts[i] for i in rows])
        if vectors is None:
            vectors = np.zeros((len(texts), part.shape[1]), dtype=np.float32)
        vectors[rows] = part
        begin += len(rows)
        done_chars += sum(len(texts[i]) for i in rows)
        elapsed = time.perf_counter() - reporter.started
        reporter.report(begin, elapsed / done_chars * (total_chars - done_chars))
        took = max(time.perf_counter() - block_started, 1e-3)
        block = max(BATCH, min(32 * BATCH, int(len(rows) * BLOCK_SECONDS / took) // BATCH * BATCH))
    return vectors


def update_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, rebuild: bool = False,
                 progress: bool = True, extra_files: list[Path] | None = None,
                 switch_corpus: bool = False,
                 on_progress: ProgressCallback | None = None) -> tuple[BulletinIndex, UpdateReport]:
    """Bring the index in index_dir up to date with the files in corpus_dir, embedding only what changed.

    New, changed and removed files are found by content hash. A file that cannot be read or parsed is
    refused (listed in `files_refused` with the reason) and, if an earlier version of it was indexed,
    that version stays. The same text under another file name is refused as a duplicate.

    Args:
        corpus_dir: folder of bulletin files.
        index_dir: index folder; created if missing.
        embedder: the embedding model (must match an existing index unless rebuild).
        rebuild: ignore the existing index and embed everything again.
        progress: show progress bars.
        switch_corpus: allow a corpus folder other than the one the index records; it is recorded instead.
        on_progress: called with a `BuildProgress` as each phase starts and ends, and after every block of texts
            embedded (then the texts are embedded in blocks), e.g. to print it or show it in a status line.

    Returns:
        The new index (already saved, with corpus_dir recorded in its manifest) and a report of what changed.

    Raises:
        CorpusMismatchError: the index records another corpus folder and not switch_corpus.
    """
    notify = on_progress or (lambda _: None)
    with index_lock(index_dir, on_wait=lambda: notify(BuildProgress("waiting"))):
        return _update_index(corpus_dir, index_dir, embedder, rebuild, progress, switch_corpus, on_progress)


def _update_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, rebuild: bool,
                  progress: bool, switch_corpus: bool = False,
                  on_progress: ProgressCallback | None = None) -> tuple[BulletinIndex, UpdateReport]:
    """`update_index` for the holder of the index folder's writer lock."""
    started = time.perf_counter()
    report = UpdateReport()
    corpus_dir = corpus_dir.resolve()
    # Record the corpus when the index has none on record yet, or is switched to another one; a corpus found at
    # its recorded place relative to the index (moved together) is the same, and is recorded at the next change.
    new_record = not has_index(index_dir)
    if not new_record:
        try:
            check_corpus(index_dir, corpus_dir)
            new_record = recorded_corpus(index_dir) is None
        except CorpusMismatchError:
            if not switch_corpus:
                raise
            new_record = True
        except (IndexMissingError, OSError, ValueError):  # no readable manifest: nothing to protect or reuse
            new_record = True
    index_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(index_dir)

    old: BulletinIndex | None = None
    old_was_reparsed = False
    if not rebuild and (index_dir / CURRENT_FILE).exists():
        try:
            old = BulletinIndex.load(index_dir, embedder, check_versions=False)
        except (TypeError, KeyError, ValueError):  # records of an older format: nothing reusable
            report.warnings.append("index in an older format: building it again")
        if old is not None and not _versions_match(index_dir):
            # Built by another parser/chunker version: re-parse every file, but keep the vectors of
            # chunk texts that did not change (same model, checked above).
            report.warnings.append("index built by another parser/chunker version: every file is parsed again")
            old = _vectors_only(old)
            old_was_reparsed = True

    phase = _Phase(on_progress)
    bulletins, file_hashes, chunks_by_file = scan_corpus(corpus_dir, old, report, progress, phase)
    chunks = [chunk for name in sorted(chunks_by_file) for chunk in chunks_by_file[name]]
    known: dict[str, np.ndarray] = {}
    if old is not None:
        old_vectors = old.vectors()
        known = {vector_key(chunk): old_vectors[row] for row, chunk in enumerate(old.chunks)}
    keys = [vector_key(chunk) for chunk in chunks]
    missing: dict[str, str] = {}
    for key, chunk in zip(keys, chunks):
        if key not in known and key not in missing:
            missing[key] = chunk.embed_text
    if missing:
        fresh = embed_texts(embedder, list(missing.values()), "embedding", on_progress, progress)
        known.update(zip(missing.keys(), fresh))
    report.chunks_embedded = len(missing)
    report.chunks_total = len(chunks)
    vectors = np.stack([known[key] for key in keys]) if keys else np.zeros((0, embedder.dimension), np.float32)

    # An index written before text_frequency.json is written again once (the next update or ask), with it.
    without_frequency = old is not None and old._folder is not None and not (old._folder / TEXT_FREQUENCY_FILE).exists()
    changed = (report.files_added or report.files_changed or report.files_removed or old is None or new_record
               or without_frequency)
    if changed:
        # What the previous generation already computed for unchanged chunks and bulletins is reused: their
        # term counts (BM25) when the tokenizer is the same, and their facts when every version matches.
        same_versions = old is not None and not old_was_reparsed
        phase.start("bm25", len(chunks))
        bm25 = _build_bm25(chunks, keys, old if same_versions else None)
        index = BulletinIndex(chunks, bulletins, file_hashes, vectors, model_manifest(embedder),
                              created=old.created if old else None, bm25=bm25, corpus_dir=corpus_dir)
        phase.end()
        phase.start("facts", len(bulletins))
        if same_versions:
            index.reuse_facts(old)
            index.reuse_text_frequency(old)
        index.facts()
        phase.end()
        phase.start("writing", len(chunks))
        index.save(index_dir)
        phase.end()
    else:
        index = old
    report.seconds = time.perf_counter() - started
    return index, report


def _progress(items: list, label: str, enabled: bool):
    """Wrap items in a tqdm bar when enabled and there is more than a handful."""
    if not enabled or len(items) < 5:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=label, unit="file")
