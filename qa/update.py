"""The update algorithm: bring an index folder up to date with its corpus folder, embedding only what changed.

Files are compared by content hash with the previous generation's; unchanged files keep their parsed bulletin,
chunks and vectors, identical chunk texts are embedded once, and the term counts (BM25), facts and text
frequencies of unchanged chunks and bulletins are taken over instead of being computed again. The result is
published as a new generation (`qa.generations`) under the folder's writer lock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.bm25 import build_bm25, concat, count_terms, counts_of, load_counts, select_docs
from qa.chunk import Chunk, chunk_bulletin
from qa.corpus import check_corpus, corpus_files, recorded_corpus
from qa.dense import build_dense_index
from qa.embed import Embedder
from qa.errors import CorpusMismatchError, IndexMismatchError, IndexMissingError, InputFileError, Refusal
from qa.generations import CURRENT_FILE, clean_stale, current_generation, has_index, index_lock, read_manifest
from qa.parse import Bulletin, parse_bulletin
from qa.progress import BuildProgress, Phase, ProgressCallback, embed_texts, progress_bar
from qa.read import MAX_FILE_BYTES, content_hash, read_bulletin_file
from qa.store import TEXT_FREQUENCY_FILE, BulletinIndex, check_manifest, model_manifest, vector_key
from qa.tokens import tokenize


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


def _file_bytes_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_corpus(corpus_dir: Path, old: BulletinIndex | None, report: UpdateReport, progress: bool = False,
                phase: "Phase | None" = None) -> tuple[dict[str, Bulletin], dict[str, dict], dict[str, list[Chunk]]]:
    """Read, parse and chunk the corpus folder's files; files `old` holds unchanged are taken from `old`.
    Shared by every store (the FAISS folder, Milvus).

    Refusals, warnings and the added, changed, unchanged and removed files go into `report`.

    Returns:
        (bulletins, file hashes, chunks) by file name.
    """
    old_chunks_of: dict[str, list[Chunk]] = {}
    for chunk in old.chunks if old else []:
        old_chunks_of.setdefault(chunk.file, []).append(chunk)
    take_over = (lambda name: (old.bulletins[name], old_chunks_of.get(name, []))) if old is not None else None
    return read_corpus(corpus_dir, old.file_hashes if old else {}, take_over, report, progress, phase)


def read_corpus(corpus_dir: Path, old_hashes: dict[str, dict],
                take_over: Callable[[str], tuple[Bulletin, list[Chunk]]] | None, report: UpdateReport,
                progress: bool = False, phase: "Phase | None" = None
                ) -> tuple[dict[str, Bulletin], dict[str, dict], dict[str, list[Chunk]]]:
    """`scan_corpus` against the file hashes of an index (`old_hashes`): a file indexed unchanged is taken over
    with `take_over(name)` (its parsed bulletin and chunks), or, without it, only listed as unchanged
    (`qa.append`, which never reads what is indexed)."""
    bulletins: dict[str, Bulletin] = {}
    file_hashes: dict[str, dict] = {}
    chunks_by_file: dict[str, list[Chunk]] = {}
    seen_text: dict[str, str] = {}  # text hash → file, to refuse duplicates under another name

    paths = corpus_files(corpus_dir)
    names = {path: path.relative_to(corpus_dir).as_posix() for path in paths}
    # Files already in the index first: a copy dropped in later under a name that sorts earlier is the
    # duplicate, and must not push the indexed original out.
    paths.sort(key=lambda path: (names[path] not in old_hashes, names[path]))
    phase = phase or Phase(None)
    phase.start("reading", len(paths))
    # A bar only when there is reading to do: checking that indexed files are unchanged (every `ask`) is a blink.
    new_files = sum(1 for path in paths if names[path] not in old_hashes)
    iterator = progress_bar(paths, "reading", progress and new_files >= 5)
    for path in iterator:
        name = names[path]
        previous = old_hashes.get(name)
        try:
            # An oversized file is refused by the reader below before a byte of it is read: do not hash it either.
            raw_hash = _file_bytes_hash(path) if path.stat().st_size <= MAX_FILE_BYTES else None
        except OSError as error:
            report.refuse(name, Refusal("cannot_read", f"cannot read: {error.strerror}"))
            continue
        if previous and previous["bytes_sha256"] == raw_hash:
            duplicate_of = seen_text.get(previous["text_sha256"])
            if duplicate_of:
                report.refuse(name, Refusal("duplicate", f"same text as {duplicate_of}; not added twice",
                                            {"of": duplicate_of}))
                continue
            if take_over is not None:
                bulletins[name], chunks_by_file[name] = take_over(name)
            file_hashes[name] = previous
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
            if previous:
                # Keep the version that was indexed before: a bad edit must not lose the old text.
                if take_over is not None:
                    bulletins[name], chunks_by_file[name] = take_over(name)
                file_hashes[name] = previous
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
    bulletins, file_hashes, chunks_by_file = scan_corpus(corpus_dir, None, report, False, Phase(None))
    chunks = [chunk for name in sorted(chunks_by_file) for chunk in chunks_by_file[name]]
    index = BulletinIndex(chunks, bulletins, file_hashes, {"name": model_name, "dimension": None}, None,
                          chunk_bm25(chunks), corpus_dir=corpus_dir)
    report.chunks_total = len(chunks)
    report.seconds = time.perf_counter() - started
    return index, report


def update_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, rebuild: bool = False,
                 progress: bool = True, switch_corpus: bool = False,
                 on_progress: ProgressCallback | None = None,
                 open_index: bool = True) -> tuple[BulletinIndex | None, UpdateReport]:
    """Bring the index in index_dir up to date with the files in corpus_dir, embedding only what changed.

    New, changed and removed files are found by content hash. A file that cannot be read or parsed is
    refused (listed in `files_refused` with the reason) and, if an earlier version of it was indexed,
    that version stays. The same text under another file name is refused as a duplicate. When new files are
    all that changed, they are added as a new segment and nothing indexed before is read or written again
    (`qa.append`); otherwise the whole index is written again as one segment.

    Args:
        corpus_dir: folder of bulletin files.
        index_dir: index folder; created if missing.
        embedder: the embedding model (must match an existing index unless rebuild).
        rebuild: ignore the existing index and embed everything again.
        progress: show progress bars.
        switch_corpus: allow a corpus folder other than the one the index records; it is recorded instead.
        on_progress: called with a `BuildProgress` as each phase starts and ends, and after every block of texts
            embedded (then the texts are embedded in blocks), e.g. to print it or show it in a status line.
        open_index: return the index; False returns None instead, for a caller that only updates the folder
            (`bulletin-qa index`), which then never loads an index it added files to.

    Returns:
        The new index (already saved, with corpus_dir recorded in its manifest), or None (`open_index`), and a
        report of what changed.

    Raises:
        CorpusMismatchError: the index records another corpus folder and not switch_corpus.
    """
    notify = on_progress or (lambda _: None)
    with index_lock(index_dir, on_wait=lambda: notify(BuildProgress("waiting"))):
        index, report = _update_index(corpus_dir, index_dir, embedder, rebuild, progress, switch_corpus,
                                      on_progress, open_index)
        return (index if open_index else None), report


def _update_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, rebuild: bool,
                  progress: bool, switch_corpus: bool = False,
                  on_progress: ProgressCallback | None = None,
                  open_index: bool = True) -> tuple[BulletinIndex | None, UpdateReport]:
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
    if not rebuild and (index_dir / CURRENT_FILE).exists():
        from qa.append import append_new_files  # qa.append builds on this module's corpus scan

        appended = append_new_files(corpus_dir, index_dir, embedder, progress, on_progress, new_record)
        if appended is not None:
            return (BulletinIndex.load(index_dir, embedder) if open_index else None), appended

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

    phase = Phase(on_progress)
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
    without_frequency = old is not None and not all((folder / TEXT_FREQUENCY_FILE).exists()
                                                    for folder in old.segments)
    changed = (report.files_added or report.files_changed or report.files_removed or old is None or new_record
               or without_frequency)
    if changed:
        # What the previous generation already computed for unchanged chunks and bulletins is reused: their
        # term counts (BM25) when the tokenizer is the same, and their facts when every version matches.
        same_versions = old is not None and not old_was_reparsed
        phase.start("bm25", len(chunks))
        bm25 = chunk_bm25(chunks, keys, old if same_versions else None)
        model = model_manifest(embedder)
        index = BulletinIndex(chunks, bulletins, file_hashes, model, build_dense_index(vectors, model["dimension"]),
                              bm25, created=old.created if old else None, corpus_dir=corpus_dir)
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


def _versions_match(index_dir: Path) -> bool:
    """True when the index on disk was built by this parser, chunker, tokenizer and format."""
    manifest = read_manifest(current_generation(index_dir))
    try:
        check_manifest(manifest, None, index_dir)
    except IndexMismatchError:
        return False
    return True


def _vectors_only(old: "BulletinIndex") -> "BulletinIndex":
    """The old index with no file recorded, so every file counts as new while its vectors stay reusable."""
    old.file_hashes = {}
    return old


def chunk_bm25(chunks: list[Chunk], keys: list[str] | None = None, old: "BulletinIndex | None" = None):
    """A bm25s index over the Chinese-aware tokens of each chunk's embedded text.

    With `old` (an index built by this tokenizer) and the chunks' `vector_key`s, a chunk whose embedded text
    `old` already holds takes its term counts from `old` (`term_counts.npy`) instead of being tokenised again.
    """
    if not chunks:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([[""]], show_progress=False)
        return retriever
    previous = None
    if old is not None:  # an index merged from segments keeps the counts it was built from (`build_bm25`)
        kept = getattr(old.bm25, "term_counts", None)
        previous = (counts_of(old.bm25, kept) if kept is not None
                    else load_counts(old.bm25, old.folder) if old.folder is not None else None)
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
