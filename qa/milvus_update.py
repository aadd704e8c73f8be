"""The index in Milvus, write side: create the collections, upsert what changed, commit, then clean up.

An update reads the corpus exactly as the FAISS folder does (`qa.update.scan_corpus`: content hashes, refusals),
then, in this order:

1. upserts the chunks of new and changed files (vectors reused by vector key from rows already in Milvus,
   only new texts embedded) and their bulletins;
2. writes the fact table of the new generation beside the index;
3. commits: the manifest (model, versions, corpus, per-file hashes, generation) replaces the collection's
   `bulletin_qa.manifest` property in one call;
4. deletes the rows of file versions the manifest no longer lists, and older fact generations.

Readers search only the file versions the committed manifest lists, so a crash before step 3 leaves the
previous state answering as before (its rows are untouched: new versions have new chunk ids), and the next
update removes what the crashed one left.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from qa.chunk import Chunk
from qa.embed import Embedder
from qa.errors import CorpusMismatchError
from qa.milvus import (MANIFEST_PROPERTY, MILVUS_FORMAT_VERSION, PIECE_CHARS, MilvusIndex, MilvusTarget, connect,
                       connect_existing, encode_tokens, fetch_vectors, literal, missing_index, query_all,
                       read_manifest)
from qa.lookups import chunk_years
from qa.progress import progress_bar
from qa.store import bulletin_to_dict, check_manifest, model_manifest, vector_key
from qa.tokens import tokenize
from qa.update import UpdateReport, scan_corpus

UPSERT_BATCH = 64


def create_collections(client, target: MilvusTarget, dimension: int) -> None:
    """The chunk collection (dense vector, two BM25 fields, provenance as scalars) and the bulletin pieces."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description="Bulletin QA chunks")
    schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "jieba"})
    schema.add_field("tokens", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse_text", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("sparse_tokens", DataType.SPARSE_FLOAT_VECTOR)
    for name, length in (("source", 64), ("vector_key", 64), ("file", 1024), ("series", 512), ("issue", 64),
                         ("date", 16), ("period", 16), ("place", 256), ("department", 512), ("kind", 16)):
        schema.add_field(name, DataType.VARCHAR, max_length=length)
    for name in ("start", "end", "position"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("years", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=512, max_length=8)
    # The same years as one string "|2019|2023|": a year filter is then a LIKE, which Milvus Lite evaluates
    # column-wise; array_contains_any sends Lite's whole filter row by row (1.8 s a search at 7k chunks).
    schema.add_field("years_text", DataType.VARCHAR, max_length=4096)
    schema.add_field("record", DataType.VARCHAR, max_length=65535)
    schema.add_function(Function(name="bm25_text", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse_text"]))
    schema.add_function(Function(name="bm25_tokens", function_type=FunctionType.BM25,
                                 input_field_names=["tokens"], output_field_names=["sparse_tokens"]))
    indexes = client.prepare_index_params()
    indexes.add_index("vector", index_type="FLAT", metric_type="IP")
    indexes.add_index("sparse_text", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    indexes.add_index("sparse_tokens", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(target.collection, schema=schema, index_params=indexes)

    pieces = client.create_schema(auto_id=False, description="Bulletin QA bulletins, in pieces")
    pieces.add_field("key", DataType.VARCHAR, is_primary=True, max_length=80)
    pieces.add_field("source", DataType.VARCHAR, max_length=64)
    pieces.add_field("piece", DataType.INT64)
    pieces.add_field("payload", DataType.VARCHAR, max_length=65535)
    pieces.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    piece_indexes = client.prepare_index_params()
    piece_indexes.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(target.bulletins, schema=pieces, index_params=piece_indexes)


def chunk_row(chunk: Chunk, position: int, source: str, vector: np.ndarray) -> dict:
    """One chunk as a row of the chunk collection."""
    return {
        "chunk_id": chunk.chunk_id, "vector": np.asarray(vector, np.float32).tolist(),
        "text": chunk.embed_text, "tokens": encode_tokens(tokenize(chunk.embed_text)),
        "source": source, "vector_key": vector_key(chunk), "file": chunk.file, "series": chunk.series or "",
        "issue": str(chunk.issue or ""), "date": chunk.date or "", "period": chunk.period or "",
        "place": chunk.place or "", "department": chunk.department or "", "kind": chunk.kind,
        "start": chunk.start, "end": chunk.end, "position": position, "years": sorted(chunk_years(chunk)),
        "years_text": "|" + "|".join(sorted(chunk_years(chunk))) + "|",
        "record": json.dumps(vars(chunk), ensure_ascii=False),
    }


def bulletin_rows(bulletin, source: str) -> list[dict]:
    """A bulletin's JSON as rows of PIECE_CHARS characters."""
    text = json.dumps(bulletin_to_dict(bulletin), ensure_ascii=False)
    return [{"key": f"{source}:{i:05d}", "source": source, "piece": i, "payload": text[start:start + PIECE_CHARS],
             "vector": [0.0, 0.0]}
            for i, start in enumerate(range(0, max(len(text), 1), PIECE_CHARS))]


@contextmanager
def writer_lock(target: MilvusTarget) -> Iterator[None]:
    """One writer at a time for a Lite file (an flock beside it); a server's writers must take turns themselves
    (README "Scaling out": one indexer, many readers)."""
    if not target.lite:
        yield
        return
    with open(target.uri + ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def corpus_to_update(target: MilvusTarget, corpus_dir: Path | None) -> tuple[Path | None, str | None]:
    """The corpus folder `ask`, `eval` and the chat update the index at target from (as `qa.corpus.corpus_to_update`
    for a folder): the one its manifest records; an explicit corpus_dir must be that one. Never a build.

    Returns:
        (the corpus folder, or None to use the index as it is; a warning to show, or None).

    Raises:
        IndexMissingError: nothing committed at target; the message says how to build it.
        CorpusMismatchError: corpus_dir is not the folder the index was built from.
    """
    manifest = read_manifest(connect_existing(target), target)
    if manifest is None:
        raise missing_index(target)
    recorded = Path(manifest["corpus"]["path"]) if manifest.get("corpus") else None
    if corpus_dir is not None:
        if recorded is not None and corpus_dir.resolve() != recorded:
            raise CorpusMismatchError(
                f"the index in Milvus at {target} was built from the corpus folder {recorded}, not {corpus_dir}; "
                f"to index {corpus_dir}, build another one: bulletin-qa index {corpus_dir} --milvus OTHER.db")
        return corpus_dir, None
    if recorded is None or not recorded.is_dir():
        return None, (f"the corpus folder {recorded} that the index in Milvus at {target} was built from no longer "
                      f"exists; answering from the index as it is")
    return recorded, None


def open_milvus(target: MilvusTarget, embedder: Embedder, corpus_dir: Path | None,
                progress: bool = True) -> tuple[MilvusIndex, UpdateReport]:
    """The index at target, first brought up to date from corpus_dir when given (built there when missing).

    Raises:
        IndexMissingError: no index at target and no corpus_dir to build it from.
        CorpusMismatchError: corpus_dir is not the folder the index was built from.
    """
    client = connect(target)
    if corpus_dir is None:
        return MilvusIndex.load(target, embedder, client=client), UpdateReport()
    return update_milvus(corpus_dir, target, embedder, progress=progress, client=client)


def update_milvus(corpus_dir: Path, target: MilvusTarget, embedder: Embedder, rebuild: bool = False,
                  progress: bool = True, switch_corpus: bool = False, client=None) -> tuple[MilvusIndex, UpdateReport]:
    """Bring the index at target up to date with corpus_dir, embedding only what changed (as `update_index`).

    Raises:
        CorpusMismatchError: the index records another corpus folder and not switch_corpus.
        IndexMismatchError: built with another model (unless rebuild).
    """
    with writer_lock(target):
        return _update(corpus_dir.resolve(), target, embedder, rebuild, progress, switch_corpus,
                       client or connect(target))


def _update(corpus_dir: Path, target: MilvusTarget, embedder: Embedder, rebuild: bool, progress: bool,
            switch_corpus: bool, client) -> tuple[MilvusIndex, UpdateReport]:
    started = time.perf_counter()
    report = UpdateReport()
    how = f"rebuild it with: bulletin-qa index CORPUS --milvus {target.uri} --rebuild"
    manifest = None if rebuild else read_manifest(client, target)
    if manifest is not None:
        check_manifest(manifest, embedder, Path(target.uri), check_versions=False, how=how)
        recorded = manifest.get("corpus", {}).get("path")
        if recorded and Path(recorded) != corpus_dir and not switch_corpus:
            raise CorpusMismatchError(
                f"the index in Milvus at {target} was built from the corpus folder {recorded}, not {corpus_dir}; "
                f"index {corpus_dir} into another one (--milvus OTHER.db, or --milvus-collection NAME) or switch "
                f"this one to it: bulletin-qa index {corpus_dir} --milvus {target.uri} --switch-corpus")
    reusable: dict[str, np.ndarray] = {}  # vector key → vector, from an index of another layout
    if manifest is not None and manifest.get("milvus_format") != MILVUS_FORMAT_VERSION:
        report.warnings.append(f"index in Milvus with layout {manifest.get('milvus_format')!r}: building it again "
                               f"(its vectors are reused)")
        if manifest.get("model", {}).get("fingerprint") == embedder.fingerprint:
            MilvusIndex.ensure_loaded(client, target)
            sources = sorted({entry["text_sha256"] for entry in manifest["files"].values()})
            for row in query_all(client, target.collection, "source", sources, ["vector_key", "vector"],
                                 manifest.get("chunk_counts", {})):
                reusable[row["vector_key"]] = np.asarray(row["vector"], dtype=np.float32)
        manifest = None
    if manifest is None or rebuild or manifest.get("model", {}).get("dimension") != embedder.dimension:
        for name in (target.collection, target.bulletins):
            if client.has_collection(name):
                client.drop_collection(name)
        shutil.rmtree(target.facts_root(), ignore_errors=True)
        create_collections(client, target, embedder.dimension)
        manifest = None

    old: MilvusIndex | None = None
    same_versions = False
    if manifest is not None:
        old = MilvusIndex.from_rows(client, target, manifest)
        try:
            check_manifest(manifest, None, Path(target.uri), how=how)
            same_versions = True
        except Exception:  # another parser/chunker: every file is parsed again, vectors are still reused by text
            report.warnings.append("index built by another parser/chunker version: every file is parsed again")
            old.file_hashes = {}
    bulletins, file_hashes, chunks_by_file = scan_corpus(corpus_dir, old, report, progress)
    chunks = [chunk for name in sorted(chunks_by_file) for chunk in chunks_by_file[name]]
    changed = bool(report.files_added or report.files_changed or report.files_removed or old is None
                   or not same_versions or (manifest or {}).get("corpus", {}).get("path") != str(corpus_dir))
    report.chunks_total = len(chunks)
    if not changed:
        report.seconds = time.perf_counter() - started
        return old, report

    # 1. the chunks and bulletins Milvus does not hold yet
    held = set(old.row_of) if old is not None and same_versions else set()
    fresh = [(chunk, position) for name in sorted(chunks_by_file)
             for position, chunk in enumerate(chunks_by_file[name]) if chunk.chunk_id not in held]
    keys = {vector_key(chunk) for chunk, _ in fresh}
    known = fetch_vectors(client, target, "vector_key", sorted(keys)) if keys and old is not None else {}
    known.update({key: reusable[key] for key in keys if key in reusable and key not in known})
    missing: dict[str, str] = {}
    for chunk, _ in fresh:
        key = vector_key(chunk)
        if key not in known and key not in missing:
            missing[key] = chunk.embed_text
    if missing:
        known.update(zip(missing, embedder.embed_documents(list(missing.values()), progress=progress)))
    report.chunks_embedded = len(missing)
    source_of = {name: entry["text_sha256"] for name, entry in file_hashes.items()}
    rows = [chunk_row(chunk, position, source_of[chunk.file], known[vector_key(chunk)]) for chunk, position in fresh]
    for batch in progress_bar(list(_batched(rows, UPSERT_BATCH)), "upserting", progress, unit="batch", minimum=2):
        client.upsert(target.collection, batch)
    old_sources = set(old.sources) if old is not None else set()
    for name in sorted(bulletins):
        if source_of[name] not in old_sources:
            client.upsert(target.bulletins, bulletin_rows(bulletins[name], source_of[name]))
    client.flush(target.collection)
    client.flush(target.bulletins)

    # 2. the fact table of the new generation
    generation = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    index = MilvusIndex.from_rows(client, target, {
        "generation": generation, "files": file_hashes, "model": model_manifest(embedder),
        "created": old.created if old is not None else _now(), "updated": _now(), "corpus": {"path": str(corpus_dir)},
    }, chunks=chunks, bulletins=bulletins)
    if old is not None and same_versions:
        index.reuse_facts(old)
    index.write_facts()

    # 3. commit
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[source_of[chunk.file]] = counts.get(source_of[chunk.file], 0) + 1
    committed = {**index.manifest(), "store": "milvus", "milvus_format": MILVUS_FORMAT_VERSION,
                 "generation": generation, "chunk_counts": counts}
    client.alter_collection_properties(target.collection,
                                       properties={MANIFEST_PROPERTY: json.dumps(committed, ensure_ascii=False)})

    # 4. clean up what no committed manifest lists any more
    live = sorted(set(source_of.values()))
    for collection in (target.collection, target.bulletins):
        client.delete(collection, filter=f"not (source in {literal(live)})" if live else "source != \"\"")
    for path in target.facts_root().iterdir():
        if path.name != generation:
            shutil.rmtree(path, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return index, report


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
