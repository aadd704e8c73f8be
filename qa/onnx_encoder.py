"""The ONNX encoder: a sentence-transformers model exported once to ONNX (fp32, or int8 by dynamic quantisation)
and run with onnxruntime, with the model's own tokenizer, prompts and pooling — no torch at query time.

The export lives in the model cache (`~/.cache/bulletin-qa/onnx/<model fingerprint>-e<EXPORT_VERSION>/`):
`model.onnx` (fp32: the transformer's token embeddings), `model-int8.onnx` (its weights quantised), the
tokenizer as `tokenizer.json` and `encoder.json` (pooling, prompts, maximum length, input names). Every file is
written to a temp name and renamed, `encoder.json` last, so a crash never leaves an export that gets loaded.

The weights sit beside each graph in `<graph>.data` (ONNX external data), which onnxruntime maps into memory
instead of parsing: opening the fp32 session took 1.0 s instead of 5.5 s, int8 1.0 s instead of 1.7 s (load
average ~6) — most of an `ask` that loads the model once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.errors import ModelError

try:  # POSIX only; without it two processes may export at once, which stays safe (temp names), just wasteful
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# Bump whenever the exported files change, so caches are exported again.
EXPORT_VERSION = "2"
MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
SPEC_FILE = "encoder.json"
TOKENIZER_FILE = "tokenizer.json"
OPSET = 17
# The export is checked against the torch model it came from on a padded batch and a single text.
CHECK_TEXTS = ("全区持证人数达 434 人，同比增长 61.5%，专业力量持续壮大。", "城镇新增就业1244万人", "短")
MIN_EXPORT_COSINE = 0.999
_LOCK_NAME = ".export.lock"


@dataclass(frozen=True)
class EncoderSpec:
    """What running the exported transformer needs besides its weights (written as encoder.json)."""

    pooling: str  # "mean" or "cls", as the model's Pooling module does it
    prompts: dict[str, str]  # {"query": "query: ", "document": "passage: "}
    max_seq_length: int
    input_names: tuple[str, ...]  # the tokenizer outputs the transformer takes (input_ids, attention_mask, …)
    dimension: int
    pad_id: int
    encode_special_tokens: bool  # the model's tokenizer reads "<s>" in text as ordinary characters
    export_version: str = EXPORT_VERSION


def onnx_folder(cache_root: Path, fingerprint: str) -> Path:
    """Where the ONNX export of the model with this fingerprint lives."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in fingerprint)[:120]
    return cache_root / "onnx" / f"{safe}-e{EXPORT_VERSION}"


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through `write(temp_path)`, then rename it into place."""
    temp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


@contextlib.contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    """One export into `folder` at a time, across processes (released when the file closes)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK_NAME, "a+b") as handle:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_spec(folder: Path) -> EncoderSpec | None:
    """The export's encoder.json, or None when the export is missing, unfinished or from another export version."""
    try:
        data = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
        spec = EncoderSpec(**{**data, "input_names": tuple(data["input_names"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if spec.export_version != EXPORT_VERSION or not (folder / TOKENIZER_FILE).is_file():
        return None
    return spec


def model_spec(model) -> EncoderSpec:
    """Read pooling, prompts and lengths off a loaded SentenceTransformer; refuse a pipeline this encoder cannot run.

    Raises:
        ModelError: modules other than Transformer → Pooling (mean or CLS) → optional Normalize.
    """
    modules = [type(module).__name__ for module in model]
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]):
        raise ModelError(f"the ONNX backends run Transformer → Pooling → Normalize models; this one is "
                         f"{' → '.join(modules)}; use --backend torch")
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None:  # sentence-transformers before 6 kept one flag per mode
        mode = "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else (
            "cls" if getattr(pooling, "pooling_mode_cls_token", False) else "other")
    if mode not in ("mean", "cls") or not getattr(pooling, "include_prompt", True):
        raise ModelError(f"the ONNX backends pool by mean or CLS token over the whole input; this model pools by "
                         f"{mode!r}; use --backend torch")
    tokenizer = model.tokenizer
    names = tuple(name for name in tokenizer(["x"])  # what the transformer is fed, in the tokenizer's order
                  if name in ("input_ids", "attention_mask", "token_type_ids"))
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return EncoderSpec(pooling=mode, prompts=dict(getattr(model, "prompts", {}) or {}),
                       max_seq_length=int(model.max_seq_length or tokenizer.model_max_length),
                       input_names=names, dimension=int(getter()), pad_id=int(tokenizer.pad_token_id or 0),
                       encode_special_tokens=bool(tokenizer.backend_tokenizer.encode_special_tokens))


def _save_with_external_data(source: Path, target: Path) -> None:
    """Write the ONNX graph in `source` as `target` with its weights in `target`.data (data first, graph last)."""
    import onnx

    staging = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        onnx.save_model(onnx.load(str(source)), str(staging / target.name), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=f"{target.name}.data", size_threshold=1024)
        os.replace(staging / f"{target.name}.data", target.with_name(f"{target.name}.data"))
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_onnx(model, folder: Path) -> EncoderSpec:
    """Export a loaded SentenceTransformer's transformer to `folder`/model.onnx, with its tokenizer and spec."""
    import torch

    spec = model_spec(model)
    transformer = model[0].auto_model.eval()

    class TokenEmbeddings(torch.nn.Module):
        """The transformer with positional inputs and one output, as the ONNX graph takes and gives them."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs):
            return self.transformer(**dict(zip(spec.input_names, inputs))).last_hidden_state

    # A padded batch of two, so the traced graph keeps the attention mask's padding path.
    sample = model.tokenizer(list(CHECK_TEXTS[:2]), padding=True, return_tensors="pt")
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*spec.input_names, "token_embeddings")}
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / TOKENIZER_FILE, lambda path: model.tokenizer.backend_tokenizer.save(str(path)))

    traced = folder / f".tmp-traced-{os.getpid()}-{uuid.uuid4().hex[:8]}.onnx"
    try:
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(TokenEmbeddings(), tuple(sample[name] for name in spec.input_names), str(traced),
                              input_names=list(spec.input_names), output_names=["token_embeddings"],
                              dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
        _save_with_external_data(traced, folder / MODEL_FILES["onnx"])
    finally:
        traced.unlink(missing_ok=True)
    return spec


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """The tracer warns about every Python branch in the attention-mask code; the check after export is what
    counts, so keep the terminal readable."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def quantize_int8(folder: Path) -> None:
    """Quantise model.onnx's weights to int8 (dynamic quantisation, one scale per output channel).

    Per channel: on 192 report chunks it gave cosine to torch fp32 of mean 0.9965, min 0.981, against 0.987 and
    0.964 for one scale per tensor (the default), at the same speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = folder / f".tmp-quantized-{os.getpid()}-{uuid.uuid4().hex[:8]}.onnx"
    try:
        quantize_dynamic(str(folder / MODEL_FILES["onnx"]), str(quantized), weight_type=QuantType.QInt8,
                         per_channel=True)
        _save_with_external_data(quantized, folder / MODEL_FILES["onnx-int8"])
    finally:
        quantized.unlink(missing_ok=True)


def ensure_export(folder: Path, backend: str, load_torch: Callable[[], object], progress: bool = True) -> EncoderSpec:
    """The export for `backend` in `folder`, made first if missing: from the torch model `load_torch()` loads.

    Raises:
        ModelError: onnxruntime or onnx missing, the export failing, or its vectors not matching torch's.
    """
    spec = read_spec(folder)
    if spec is not None and (folder / MODEL_FILES[backend]).is_file():
        return spec
    for package in ("onnxruntime", "onnx"):
        _require(package)
    with _export_lock(folder):
        spec = read_spec(folder)  # another process may have exported while we waited
        if spec is None or not (folder / MODEL_FILES["onnx"]).is_file():
            embedder = load_torch()
            if progress:
                print(f"Exporting the embedding model to ONNX into {folder} (one-time)...", file=sys.stderr)
            started = time.perf_counter()
            with contextlib.suppress(OSError):  # an unfinished export's spec: write it again after the model
                (folder / SPEC_FILE).unlink()
            try:
                spec = export_onnx(embedder.model, folder)
            except ModelError:
                raise
            except Exception as error:  # the tracer raises many types
                raise ModelError(f"cannot export the embedding model to ONNX: {error.__class__.__name__}: "
                                 f"{str(error)[:300]}; use --backend torch") from error
            _check_export(folder, spec, embedder)
            _write_atomic(folder / SPEC_FILE, lambda path: path.write_text(
                json.dumps(asdict(spec), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"))
            _remove_older_exports(folder)
            if progress:
                print(f"ONNX model ready ({time.perf_counter() - started:.1f} s).", file=sys.stderr)
        if backend == "onnx-int8" and not (folder / MODEL_FILES[backend]).is_file():
            if progress:
                print("Quantising the ONNX model to int8 (one-time)...", file=sys.stderr)
            started = time.perf_counter()
            quantize_int8(folder)
            if progress:
                print(f"int8 model ready ({time.perf_counter() - started:.1f} s).", file=sys.stderr)
    return spec


def _remove_older_exports(folder: Path) -> None:
    """Remove this model's exports by earlier export versions (~600 MB each) once the new one is written."""
    model_key = folder.name.rsplit("-e", 1)[0]
    for sibling in folder.parent.glob(f"{model_key}-e*"):
        if sibling != folder and sibling.name.rsplit("-e", 1)[0] == model_key:
            shutil.rmtree(sibling, ignore_errors=True)


def _check_export(folder: Path, spec: EncoderSpec, embedder) -> None:
    """Refuse an export whose vectors are not the torch model's (a traced branch that took the wrong path)."""
    onnx = OnnxEmbedder(embedder.name, embedder.fingerprint, "onnx", spec, folder, threads=None)
    for texts in (list(CHECK_TEXTS), [CHECK_TEXTS[0]]):
        cosine = (onnx.embed_documents(texts) * embedder.embed_documents(texts)).sum(axis=1)
        if cosine.min() < MIN_EXPORT_COSINE:
            shutil.rmtree(folder, ignore_errors=True)
            raise ModelError(f"the ONNX export does not reproduce the torch model (cosine {cosine.min():.4f} < "
                             f"{MIN_EXPORT_COSINE}); use --backend torch")


def _require(package: str) -> None:
    """Raise a ModelError that says how to install `package` when it is missing."""
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise ModelError(f"the ONNX backends need {package}; they come with the base install: pip install -e . "
                         f"(or use --backend torch)")


@dataclass
class OnnxEmbedder:
    """The `qa.embed.Embedder` protocol over an ONNX export run by onnxruntime."""

    name: str
    fingerprint: str
    backend: str  # "onnx" or "onnx-int8"
    spec: EncoderSpec
    folder: Path
    threads: int | None = None  # onnxruntime's intra-op threads (None: its default, one per core)
    # Texts go longest first, so a small batch pads little: 8 encoded 98 report chunks in 4.55 s where 32 took
    # 5.5 s and 64 took 6.5 s (2 cores, onnx fp32; 4 and 8 alike; `bench/bench.py` tunes its raw baseline too).
    batch_size: int = 8

    def __post_init__(self) -> None:
        _require("onnxruntime")
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(0, self.threads or 0)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise on every ask
        try:
            self.session = onnxruntime.InferenceSession(str(self.folder / MODEL_FILES[self.backend]), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelError(f"cannot load the ONNX model in {self.folder}: {error.__class__.__name__}: "
                             f"{str(error)[:300]}; delete that folder to export it again") from error
        self.tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        self.tokenizer.encode_special_tokens = self.spec.encode_special_tokens
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.spec.max_seq_length)

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self.spec.prompts)

    def embed_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._embed(texts, self.spec.prompts.get("document", ""), progress)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, self.spec.prompts.get("query", ""))

    def _embed(self, texts: list[str], prompt: str, progress: bool = False) -> np.ndarray:
        """Prompted, longest first in batches (as sentence-transformers does), pooled and L2-normalised."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = range(0, len(order), self.batch_size)
        if progress and len(batches) > 1:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        for begin in batches:
            rows = order[begin:begin + self.batch_size]
            vectors[rows] = self._embed_batch([prompt + texts[i] for i in rows])
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(encoding.ids) for encoding in encodings)
        inputs = {name: np.zeros((len(texts), width), dtype=np.int64) for name in self.spec.input_names}
        inputs["input_ids"][:] = self.spec.pad_id
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            inputs["input_ids"][row, :length] = encoding.ids
            mask[row, :length] = 1
            if "token_type_ids" in inputs:
                inputs["token_type_ids"][row, :length] = encoding.type_ids
        if "attention_mask" in inputs:
            inputs["attention_mask"] = mask
        tokens = self.session.run(None, inputs)[0]
        if self.spec.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
