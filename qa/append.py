"""Adding new files to an index as a new segment, without reading or writing what is already indexed.

Dropping a new issue into the corpus folder is the usual update. The full update (`qa.update`) loads the previous
generation and writes every file of the new one: about 1.3 s at 7k chunks on top of embedding the new chunks,
whatever was added, growing with the index. Here the files already indexed are checked against the manifest's
hashes only; the new files are read, parsed, chunked, embedded, counted for BM25 and their facts extracted; and
the new generation is the previous generation's segments, as hard links, plus one segment of the new files
(`qa.segments`). Loading merges the segments into the index a build in one go would give.

Anything else goes the full way, which writes one segment again (a compaction): a changed or removed file, an
index of other versions or another model, an unreadable manifest, a generation without text frequencies,
MAX_SEGMENTS segments already, or more vectors than the exact dense index holds (an IVF index would be trained
again at every load).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from qa.bm25 import TermCounts, count_terms
from qa.dense import EXACT_LIMIT
from qa.embed import Embedder
from qa.errors import IndexMismatchError, IndexMissingError
from qa.generations import current_generation, publish, read_manifest
from qa.progress import Phase, ProgressCallback, embed_texts
from qa.segments import ROOT_SEGMENT, SEGMENT_PREFIX, SEGMENTS_KEY, link_segment, segment_names
from qa.store import TEXT_FREQUENCY_FILE, BulletinIndex, check_manifest, model_manifest, vector_key, write_manifest
from qa.tokens import tokenize
from qa.update import UpdateReport, read_corpus

# Each segment costs a load a little (its files are read and merged): past this many the next update compacts.
MAX_SEGMENTS = 8


def append_new_files(corpus_dir: Path, index_dir: Path, embedder: Embedder, progress: bool,
                     on_progress: ProgressCallback | None, record_corpus: bool = False) -> UpdateReport | None:
    """Publish the corpus folder's new files as a new segment of the index in index_dir, when new files are all
    that changed. The caller holds the writer lock and has checked the recorded corpus folder.

    Args:
        record_corpus: the manifest must record corpus_dir anew; with no file added that takes the full way.

    Returns:
        What was done (nothing written when nothing changed), or None when the update must go the full way
        (then nothing was written).
    """
    started = time.perf_counter()
    try:
        generation = current_generation(index_dir)
        manifest = read_manifest(generation)
        check_manifest(manifest, embedder, index_dir)
    except (IndexMissingError, IndexMismatchError, OSError, ValueError):  # the full update says what is wrong
        return None
    segments = segment_names(manifest)
    if len(segments) >= MAX_SEGMENTS or not all(
            (generation / name / TEXT_FREQUENCY_FILE).exists() for name in segments):
        return None
    report = UpdateReport()
    phase = Phase(on_progress)
    bulletins, file_hashes, chunks_by_file = read_corpus(corpus_dir, manifest["files"], None, report, progress, phase)
    if report.files_changed or report.files_removed or (record_corpus and not report.files_added):
        return None
    if not report.files_added:  # up to date (`bulletin-qa ask` checks this before it answers)
        report.chunks_total = manifest["counts"]["chunks"]
        report.seconds = time.perf_counter() - started
        return report
    added = sorted(report.files_added)
    chunks = [chunk for name in added for chunk in chunks_by_file[name]]
    total = manifest["counts"]["chunks"] + len(chunks)
    if total > EXACT_LIMIT:
        return None

    keys = [vector_key(chunk) for chunk in chunks]
    missing = {key: chunk.embed_text for key, chunk in zip(keys, chunks)}  # a text repeated is embedded once
    known = dict(zip(missing, embed_texts(embedder, list(missing.values()), "embedding", on_progress, progress)))
    vectors = np.stack([known[key] for key in keys]).astype(np.float32)
    report.chunks_embedded, report.chunks_total = len(missing), total
    phase.start("bm25", len(chunks))
    counts = count_terms([tokenize(chunk.embed_text) or [""] for chunk in chunks])
    phase.end()
    phase.start("facts", len(added))
    # no dense or BM25 index of its own: the segment is only ever read merged with the others
    part = BulletinIndex(chunks, {name: bulletins[name] for name in added}, {name: file_hashes[name] for name in added},
                         model_manifest(embedder), None, None, corpus_dir=corpus_dir)
    part.facts()
    phase.end()
    phase.start("writing", len(chunks))
    publish(index_dir, lambda folder: _write(folder, generation, manifest, part, vectors, counts, index_dir))
    phase.end()
    report.seconds = time.perf_counter() - started
    return report


def _write(folder: Path, previous: Path, manifest: dict, part: BulletinIndex, vectors: np.ndarray,
           counts: TermCounts, index_dir: Path) -> None:
    """The new generation: the previous generation's segments linked, the new one written, the manifest of all."""
    names = []
    for name in segment_names(manifest):
        # the root segment of a generation written in one go gets a folder named after that generation
        kept = f"{SEGMENT_PREFIX}{previous.name}" if name == ROOT_SEGMENT else name
        link_segment(previous if name == ROOT_SEGMENT else previous / name, folder / kept,
                     root=name == ROOT_SEGMENT)
        names.append(kept)
    name = f"{SEGMENT_PREFIX}{folder.name.split('-')[-1]}"  # the new generation's id: unique
    part.write_segment(folder / name, vectors, counts)
    combined = part.manifest(index_dir)
    counts, added = manifest["counts"], combined["counts"]
    combined.update({
        "files": {**manifest["files"], **part.file_hashes},
        "counts": {key: counts[key] + added[key] for key in ("files", "chunks", "facts")}
                  | {"series": sorted(set(counts["series"]) | set(added["series"]))},
        "created": manifest["created"],
        SEGMENTS_KEY: [*names, name],
    })
    write_manifest(folder, combined)
