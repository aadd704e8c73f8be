"""The index: one persisted generation — chunks with provenance, a FAISS dense index, a BM25 index, the parsed
bulletins, the fact table and a manifest — read from and written to a generation folder.

Files of a generation folder (which folder is live, and how a new one is published: `qa.generations`):

    manifest.json             format/package/parser/chunker/tokenizer/facts versions, model, corpus folder,
                              per-file hashes, counts, and the segments (below) when there are several
    chunks.jsonl              one chunk per line; line i is FAISS row i and BM25 document i
    bulletins.json            the parsed bulletins (clean text, paragraphs) that chunks point into
    dense.faiss               inner-product index over L2-normalised vectors (exact, fp16 re-scored, or IVF by size)
    bm25/                     bm25s arrays over `qa.tokens.tokenize(chunk.embed_text)`
    term_counts.npy           per-chunk token counts behind the BM25 arrays (reused by the next update)
    facts.sqlite              the fact table
    text_frequency.json       per token, how many chunk texts hold it (the answer step's IDF)

A generation that files were added to holds these files (all but the manifest) once per segment, in folders
seg-…, and loading merges them (`qa.segments`; the adding is `qa.append`).

Building one from a corpus folder is `qa.update`; the lookups retrieval makes over it are `qa.lookups`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from qa import __version__
from qa.bm25 import TermCounts, save_counts, write_term_counts
from qa.bm25 import scores as bm25_scores
from qa.chunk import CHUNKER_VERSION, DEFAULT_MAX_CHARS, Chunk
from qa.dense import IVF_PROBES
from qa.embed import Embedder
from qa.errors import BackendMismatchError, IndexMismatchError, IndexMissingError
from qa.facts import FACTS_VERSION, FactTable
from qa.generations import publish, read_live, read_manifest
from qa.lookups import Lookups
from qa.parse import PARSER_VERSION, Article, Bulletin, Item, Paragraph, Part
from qa.segments import (ADDED_COUNTS_FILE, VECTORS_FILE, merge_bm25, merge_facts, merge_frequencies, merge_vectors,
                         merged_rows, segment_folders, segment_postings, segment_vectors)
from qa.tables import Table
from qa.tokens import TOKENIZER_VERSION, document_frequency

INDEX_FORMAT_VERSION = 2  # 2: segments; an index of format 1 is a generation of one segment and is read as it is
READABLE_FORMATS = (1, 2)


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


class BulletinIndex:
    """Chunks, their vectors (FAISS) and BM25, plus the bulletins they quote and the fact table. Row i is chunk i
    everywhere."""

    def __init__(self, chunks: list[Chunk], bulletins: dict[str, Bulletin], file_hashes: dict[str, dict],
                 model: dict, dense, bm25, *, created: str | None = None, updated: str | None = None,
                 corpus_dir: Path | None = None, folder: Path | None = None,
                 segments: list[Path] | None = None) -> None:
        """An index of these parts.

        Args:
            chunks: the chunks, row i is chunk i.
            bulletins: the parsed bulletins by file name.
            file_hashes: per file, its bytes and text hashes.
            model: the embedding model's part of the manifest (`model_manifest`).
            dense: a FAISS index over the chunks' vectors (`build_dense_index`), or None for a keyword-only index
                (`qa.update.keyword_index`: BM25 retrieval while the real one is built).
            bm25: the bm25s index over the chunks (None only for an index searched elsewhere, Milvus).
            created, updated: ISO 8601 times (UTC); by default now.
            corpus_dir: the folder it was built from (absolute); None: not recorded.
            folder: the generation folder it was read from (its fact table and text frequencies are read from
                there on first use); None for an index built in memory or merged from segments.
            segments: the segment folders it was merged from (their fact tables and text frequencies are read on
                first use); by default [folder].
        """
        self.chunks = chunks
        self.bulletins = bulletins
        self.file_hashes = file_hashes
        self.model = model
        self.dense = dense
        self.bm25 = bm25
        self.updated = updated or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.created = created or self.updated
        self.corpus_dir = corpus_dir
        self.folder = folder
        self.segments = segments if segments is not None else ([folder] if folder is not None else [])
        self.row_of = {chunk.chunk_id: row for row, chunk in enumerate(chunks)}
        self.lookups = Lookups(chunks, bulletins)
        self._facts: FactTable | None = None
        self._text_frequency: Counter | None = None
        self._vector_matrix: np.ndarray | None = None

    # ----- the fact table and text frequencies (stored with the generation, else computed once) -----
    def facts(self) -> list:
        """The fact table: every figure as a `qa.facts.Fact` (read from disk, or extracted, once)."""
        if self._facts is None:
            from qa.facts import read_facts

            stored = [folder / "facts.sqlite" for folder in self.segments]
            if stored and all(path.exists() for path in stored):
                self._facts = FactTable(merge_facts([read_facts(path) for path in stored]))
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
            stored = [folder / TEXT_FREQUENCY_FILE for folder in self.segments]
            if stored and all(path.exists() for path in stored):
                self._text_frequency = merge_frequencies([json.loads(path.read_text(encoding="utf-8"))
                                                          for path in stored])
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

    # ----- lookups: retrieval and the answer step call these on the index (the work is `qa.lookups`) -----
    def chunk_years(self) -> list[frozenset[str]]:
        """Per chunk, the years it speaks about: its period and every 'YYYY年' its text names (cached)."""
        return self.lookups.chunk_years

    def rows_by_year(self) -> dict[str, np.ndarray]:
        """Year → the rows of the chunks that speak about it (cached; a year question is a lookup)."""
        return self.lookups.rows_by_year

    def place_names(self) -> dict[str, str]:
        """Every name a bulletin's place goes by → that place (哈密 → 哈密市); see `qa.lookups`."""
        return self.lookups.place_names

    def rows_by_place(self) -> dict[str, np.ndarray]:
        """Place → the rows of the chunks of bulletins that speak for it (cached)."""
        return self.lookups.rows_by_place

    def filter_mask(self, filters) -> np.ndarray:
        """Rows admitted by a `qa.retrieve.Filters` (cached per filter: the chat asks with the same one)."""
        return self.lookups.filter_mask(filters)

    def mentions(self, word: str) -> bool:
        """True when some chunk's text holds the word (cached per word)."""
        return self.lookups.mentions(word)

    # ----- vectors and BM25 -----
    def vector_matrix(self) -> np.ndarray:
        """All vectors as one matrix (for filtered searches over a subset of rows): a view into the float32
        storage of a flat or refined FAISS index, no copy; other index types reconstruct once and cache."""
        import faiss

        if self._vector_matrix is None:
            total, dimension = (self.dense.ntotal if self.dense is not None else 0), self.model.get("dimension")
            flat = self.dense
            if isinstance(flat, faiss.IndexRefine):  # its float32 vectors
                flat = faiss.downcast_index(flat.refine_index)
            if isinstance(flat, faiss.IndexFlat) and total:
                self._vector_matrix = faiss.rev_swig_ptr(flat.get_xb(), total * dimension).reshape(total, dimension)
            else:
                self._vector_matrix = self.vectors()
        return self._vector_matrix

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

    # ----- writing and reading a generation -----
    def save(self, index_dir: Path) -> Path:
        """Publish this index as a new generation of index_dir (`qa.generations.publish`). Returns its folder."""
        if self.dense is None:
            raise ValueError("a keyword-only index (no vectors) is never saved; build the index with update_index")
        return publish(index_dir, lambda folder: self._write(folder, index_dir))

    def _write(self, folder: Path, index_dir: Path) -> None:
        """Write this index's files into an empty generation folder of index_dir (one segment, the folder itself)."""
        self.write_segment(folder)
        write_manifest(folder, self.manifest(index_dir))

    def write_segment(self, folder: Path, vectors: np.ndarray | None = None, counts: TermCounts | None = None) -> None:
        """Write this index's files, all but the manifest, into an empty folder: with its dense and BM25 indexes,
        or, given its vectors and term counts (a segment added to an index: `qa.append`), those instead."""
        from qa.facts import write_facts

        folder.mkdir(exist_ok=True)
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in self.chunks:  # vars(): Chunk's fields are plain values, same JSON as asdict, 3× faster
                out.write(json.dumps(vars(chunk), ensure_ascii=False) + "\n")
        _write_json(folder / "bulletins.json", {f: bulletin_to_dict(b) for f, b in self.bulletins.items()})
        if vectors is not None and counts is not None:
            np.save(folder / VECTORS_FILE, vectors)
            write_term_counts(counts, folder / ADDED_COUNTS_FILE)
        else:
            import faiss

            faiss.write_index(self.dense, str(folder / "dense.faiss"))
            self.bm25.save(str(folder / "bm25"), show_progress=False)
            save_counts(self.bm25, folder)
        write_facts(folder / "facts.sqlite", self.facts())
        (folder / TEXT_FREQUENCY_FILE).write_text(  # compact: ~100k tokens, read on every open
            json.dumps(self.text_frequency(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, index_dir: Path, embedder: Embedder | None = None, check_versions: bool = True) -> "BulletinIndex":
        """Load the live generation; refuse one built with another model, chunker or format.

        A writer that switches CURRENT meanwhile removes the generation being read: then the new one is read.

        Raises:
            IndexMissingError: no index in index_dir.
            IndexMismatchError: built with other versions; the message says how to rebuild.
        """
        # faiss raises RuntimeError for a file that vanished under it
        return read_live(index_dir, lambda folder: cls._read(folder, index_dir, embedder, check_versions),
                         errors=(OSError, RuntimeError, IndexMissingError))

    @classmethod
    def _read(cls, folder: Path, index_dir: Path, embedder: Embedder | None, check_versions: bool) -> "BulletinIndex":
        """The index stored in one generation folder of index_dir (its segments merged)."""
        manifest = read_manifest(folder)
        check_manifest(manifest, embedder, index_dir, check_versions)
        folders = segment_folders(folder, manifest)
        parts = [_read_texts(segment) for segment in folders]
        if len(parts) == 1:
            (chunks, bulletins), (dense, bm25) = parts[0], _read_search(folders[0])
        else:
            order = merged_rows([part[0] for part in parts])
            joined = [chunk for part in parts for chunk in part[0]]
            chunks = [joined[row] for row in order]
            bulletins = {name: bulletin for part in parts for name, bulletin in part[1].items()}
            bulletins = {name: bulletins[name] for name in sorted(bulletins)}
            vectors = [segment_vectors(segment) for segment in folders]
            if [len(block) for block in vectors] != [len(part[0]) for part in parts]:
                raise IndexMismatchError(f"index in {index_dir} is inconsistent (a segment's vectors do not match its "
                                         f"chunks); rebuild it with: bulletin-qa index --rebuild")
            dense = merge_vectors(vectors, order, manifest["model"]["dimension"])
            bm25 = merge_bm25([segment_postings(segment, part[0]) for part, segment in zip(parts, folders)], order)
        if dense.ntotal != len(chunks):
            raise IndexMismatchError(f"index in {index_dir} is inconsistent ({dense.ntotal} vectors for "
                                     f"{len(chunks)} chunks); rebuild it with: bulletin-qa index --rebuild")
        return cls(chunks, bulletins, manifest["files"], manifest["model"], dense, bm25,
                   created=manifest["created"], updated=manifest.get("updated", manifest["created"]),
                   corpus_dir=Path(manifest["corpus"]["path"]) if manifest.get("corpus") else None,
                   folder=folder if len(parts) == 1 else None, segments=folders)


def _read_texts(folder: Path) -> tuple[list[Chunk], dict[str, Bulletin]]:
    """The chunks and bulletins stored in one segment folder."""
    chunks = [Chunk(**json.loads(line)) for line in
              (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
    bulletins = {f: bulletin_from_dict(d) for f, d in
                 json.loads((folder / "bulletins.json").read_text(encoding="utf-8")).items()}
    return chunks, bulletins


def _read_search(folder: Path) -> tuple[object, object]:
    """The dense (FAISS) and BM25 indexes of a segment written in one go."""
    import bm25s
    import faiss

    dense = faiss.read_index(str(folder / "dense.faiss"))
    if isinstance(dense, faiss.IndexIVF):
        dense.make_direct_map()  # lets filtered searches reconstruct rows
        dense.nprobe = IVF_PROBES
    return dense, bm25s.BM25.load(str(folder / "bm25"), load_vocab=True, show_progress=False)


def recorded_backend(index_dir: Path | None) -> str | None:
    """The backend the index in index_dir was embedded by (torch for an index from before backends were recorded),
    or None when there is no index there."""
    if index_dir is None:
        return None
    try:
        manifest = read_live(index_dir, read_manifest)
    except (OSError, IndexMissingError, ValueError):
        return None
    return manifest.get("model", {}).get("backend", "torch")


def check_manifest(manifest: dict, embedder: Embedder | None, index_dir: Path, check_versions: bool = True,
                   how: str | None = None) -> None:
    """Raise IndexMismatchError when the index on disk cannot be used with this code and embedder (`how`: the
    rebuild advice to give, by default for an index folder)."""
    how = how or f"rebuild it with: bulletin-qa index CORPUS_DIR --index {index_dir} --rebuild"
    if check_versions and manifest.get("format_version") not in READABLE_FORMATS:
        raise IndexMismatchError(f"index in {index_dir} was built with format_version "
                                 f"{manifest.get('format_version')!r}, this version reads {READABLE_FORMATS}; {how}")
    expected = {
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


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write a generation's manifest.json."""
    _write_json(folder / "manifest.json", manifest)


def _write_json(path: Path, data: object) -> None:
    """Write data as indented UTF-8 JSON (Chinese kept as it is)."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
