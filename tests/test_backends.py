"""Embedding backends: the index records the backend, a query encoder whose vectors do not match it is refused, and
the ONNX export reproduces the torch model it came from."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.embed import DEFAULT_BACKEND, HashEmbedder, choose_backend, interchangeable, load_embedder
from qa.errors import BackendMismatchError, ModelError
from qa.messages import backend_mismatch_zh
from qa.generations import current_generation
from qa.store import BulletinIndex, recorded_backend
from qa.update import update_index

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
TEXTS = ["全区持证人数达 434 人，同比增长 61.5%，专业力量持续壮大。", "城镇新增就业1244万人，城镇调查失业率平均为5.2%。",
         "社会组织党组织覆盖率提升至 92.5%、87%、94%、91%", "短"]


def as_backend(backend: str) -> HashEmbedder:
    """The fake embedder, labelled as run by `backend` (same vectors: only the label is under test)."""
    return dataclasses.replace(HashEmbedder(), backend=backend)


@pytest.fixture()
def seed_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return corpus


def manifest_of(index_dir: Path) -> dict:
    return json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))


def test_index_records_its_backend(seed_corpus, tmp_path):
    update_index(seed_corpus, tmp_path / "index", as_backend("onnx-int8"), progress=False)
    assert manifest_of(tmp_path / "index")["model"]["backend"] == "onnx-int8"


def test_int8_index_is_refused_to_an_fp32_query_encoder_and_back(seed_corpus, tmp_path):
    update_index(seed_corpus, tmp_path / "int8", as_backend("onnx-int8"), progress=False)
    update_index(seed_corpus, tmp_path / "fp32", as_backend("torch"), progress=False)
    for index, built, used in ((tmp_path / "int8", "onnx-int8", "torch"), (tmp_path / "fp32", "torch", "onnx-int8")):
        with pytest.raises(BackendMismatchError) as refused:
            BulletinIndex.load(index, as_backend(used))
        message = str(refused.value)
        assert f"--backend {built}" in message and f"--rebuild --backend {used}" in message
        chinese = backend_mismatch_zh(refused.value)
        assert f"{built} 后端" in chinese and f"--backend {built}" in chinese and "重建索引" in chinese
    # An update with the other family is refused too: it would mix vectors of both in one index.
    with pytest.raises(BackendMismatchError):
        update_index(seed_corpus, tmp_path / "int8", as_backend("onnx"), progress=False)


def test_onnx_fp32_and_torch_share_an_index(seed_corpus, tmp_path):
    update_index(seed_corpus, tmp_path / "index", as_backend("torch"), progress=False)
    loaded = BulletinIndex.load(tmp_path / "index", as_backend("onnx"))
    assert len(loaded.chunks) > 0
    assert interchangeable("torch", "onnx") and interchangeable("onnx", "torch")
    assert not interchangeable("torch", "onnx-int8") and not interchangeable("onnx-int8", "onnx")


def test_index_without_a_recorded_backend_counts_as_torch(seed_corpus, tmp_path):
    index = tmp_path / "index"
    update_index(seed_corpus, index, as_backend("torch"), progress=False)
    manifest_path = current_generation(index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["model"]["backend"]  # as written before backends were recorded
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert BulletinIndex.load(index, as_backend("onnx")).chunks
    with pytest.raises(BackendMismatchError):
        BulletinIndex.load(index, as_backend("onnx-int8"))


def test_unknown_backend_lists_the_choices(monkeypatch):
    with pytest.raises(ModelError, match="torch, onnx, onnx-int8"):
        load_embedder("fake-hash", backend="tensorrt")
    monkeypatch.setenv("BULLETIN_QA_BACKEND", "openvino")
    with pytest.raises(ModelError, match="unknown backend 'openvino'"):
        load_embedder("fake-hash")


def test_cli_passes_backend_from_flag_and_environment(monkeypatch):
    from qa.cli import build_parser

    assert build_parser().parse_args(["ask", "x", "--backend", "onnx-int8"]).backend == "onnx-int8"
    monkeypatch.setenv("BULLETIN_QA_BACKEND", "torch")
    for command in (["ask", "x"], ["index"], ["eval", "set.jsonl"], ["facts", "GDP"]):
        # not given: left to choose_backend, which reads the environment (and the index) when the model loads
        assert choose_backend(build_parser().parse_args(command).backend) == "torch"


def test_an_unset_backend_follows_an_int8_index(seed_corpus, tmp_path, monkeypatch):
    """With no --backend and no environment, the default (onnx) is used unless the index was embedded by a backend
    whose vectors it cannot search: an int8 index is then opened with int8. A flag or the environment always wins
    (so `--rebuild --backend onnx` still converts an int8 index)."""
    monkeypatch.delenv("BULLETIN_QA_BACKEND", raising=False)
    update_index(seed_corpus, tmp_path / "int8", as_backend("onnx-int8"), progress=False)
    update_index(seed_corpus, tmp_path / "fp32", as_backend("torch"), progress=False)
    assert recorded_backend(tmp_path / "int8") == "onnx-int8" and recorded_backend(tmp_path / "fp32") == "torch"
    assert recorded_backend(tmp_path / "nothing") is None
    assert choose_backend(None, recorded_backend(tmp_path / "int8")) == "onnx-int8"
    assert choose_backend(None, recorded_backend(tmp_path / "fp32")) == DEFAULT_BACKEND == "onnx"  # same vectors
    assert choose_backend(None, None) == "onnx"
    assert choose_backend("onnx", "onnx-int8") == "onnx"
    monkeypatch.setenv("BULLETIN_QA_BACKEND", "torch")
    assert choose_backend(None, "onnx-int8") == "torch"


# ----------------------------------------------------------------------------- the ONNX export itself


def tiny_model(folder: Path, converted: Path) -> Path:
    """A 2-layer BERT with random weights, the default model's tokenizer and its sentence-transformers files: the
    same export path as the real model, in seconds."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    real = json.loads((converted / "config.json").read_text(encoding="utf-8"))
    config = BertConfig(**{**real, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                           "intermediate_size": 64})
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "modules.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json"):
        shutil.copy(converted / name, folder / name)
    (folder / "1_Pooling").mkdir()
    pooling = json.loads((converted / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "word_embedding_dimension": 32}))
    (folder / "2_Normalize").mkdir()
    return folder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.fixture(scope="module")
def tiny(converted_model_dir, tmp_path_factory) -> tuple[str, Path]:
    """(the tiny model's folder, a model cache to export it into), shared: every load reads the real tokenizer."""
    return (str(tiny_model(tmp_path_factory.mktemp("tiny"), converted_model_dir)),
            tmp_path_factory.mktemp("cache"))


def test_onnx_export_reproduces_torch(tiny):
    model, cache = tiny
    torch_embedder = load_embedder(model, cache_dir=cache, progress=False, backend="torch")
    onnx_embedder = load_embedder(model, cache_dir=cache, progress=False, backend="onnx", threads=2)
    assert (onnx_embedder.backend, onnx_embedder.fingerprint) == ("onnx", torch_embedder.fingerprint)
    assert onnx_embedder.prompts == torch_embedder.prompts == {"query": "query: ", "document": "passage: "}
    assert cosines(onnx_embedder.embed_documents(TEXTS), torch_embedder.embed_documents(TEXTS)).min() >= 0.999
    assert cosines(onnx_embedder.embed_queries(TEXTS[:1]), torch_embedder.embed_queries(TEXTS[:1])).min() >= 0.999

    int8 = load_embedder(model, cache_dir=cache, progress=False, backend="onnx-int8", threads=2)
    vectors = int8.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    folder = onnx_embedder.folder
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".export")) == [
        "encoder.json", "model-int8.onnx", "model-int8.onnx.data", "model.onnx", "model.onnx.data", "tokenizer.json"]
    # Loaded again, the export is read from the cache: no torch model is needed any more.
    again = load_embedder(model, cache_dir=cache, progress=False, backend="onnx")
    assert np.allclose(again.embed_documents(TEXTS), onnx_embedder.embed_documents(TEXTS), atol=1e-6)


@pytest.mark.slow  # a second export (~40 s on the loaded 2-core machine)
def test_an_unfinished_export_is_made_again(tiny):
    model, cache = tiny
    first = load_embedder(model, cache_dir=cache, progress=False, backend="onnx")
    (first.folder / "encoder.json").unlink()  # as a crash before the last rename leaves it
    (first.folder / "model.onnx").write_bytes(b"half a graph")
    again = load_embedder(model, cache_dir=cache, progress=False, backend="onnx")
    assert np.allclose(again.embed_documents(TEXTS), first.embed_documents(TEXTS), atol=1e-6)


@pytest.mark.slow
def test_default_model_onnx_export_matches_torch(converted_model_dir, tmp_path):
    model = str(converted_model_dir)
    torch_embedder = load_embedder(model, progress=False, backend="torch")
    onnx_embedder = load_embedder(model, cache_dir=tmp_path, progress=False, backend="onnx")
    assert cosines(onnx_embedder.embed_documents(TEXTS), torch_embedder.embed_documents(TEXTS)).min() >= 0.999
    assert cosines(onnx_embedder.embed_queries(TEXTS), torch_embedder.embed_queries(TEXTS)).min() >= 0.999
    int8 = load_embedder(model, cache_dir=tmp_path, progress=False, backend="onnx-int8")
    assert cosines(int8.embed_documents(TEXTS), torch_embedder.embed_documents(TEXTS)).min() >= 0.97
