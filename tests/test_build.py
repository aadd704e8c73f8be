"""Serving at once: the keyword-only index, the phases an index run reports, the writer lock's wait, and the
background build that switches an assistant from BM25 to hybrid retrieval (real FAISS, real BM25, fake embedder)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.build import BackgroundBuild, describe, open_at_once
from qa.embed import HashEmbedder
from qa.errors import BulletinQAError
from qa.messages import build_progress_zh
from qa.generations import has_index, index_lock
from qa.progress import PHASES, BuildProgress, embed_texts
from qa.store import BulletinIndex
from qa.update import keyword_index, update_index

from data_files import ISSUE_9

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
REPORTS = [ROOT / "corpus" / "gov-work-reports" / f"gov-work-report-{year}.md" for year in (2023, 2024)]
QUESTION = "全区社会工作者持证人数是多少？"


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for file in (SEED, *REPORTS):
        shutil.copy(file, folder / file.name)
    return folder


class GatedEmbedder(HashEmbedder):
    """The fake embedder, whose document embedding waits for `gate` (so a test can look at a build mid-way)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_documents(self, texts, progress=False):
        assert self.gate.wait(30), "the test never opened the gate"
        return super().embed_documents(texts, progress)


def test_keyword_index_answers_by_bm25_and_is_never_saved(corpus, tmp_path):
    index, report = keyword_index(corpus, "fake-hash")
    assert not index.has_vectors and len(index.chunks) == report.chunks_total > 100
    assistant = Assistant(index, None, index_dir=tmp_path / "index", corpus_dir=corpus)
    assert assistant.status()["retrieval"] == "bm25"
    answer = assistant.ask(QUESTION)  # method "hybrid" asked, BM25 used: there are no vectors to search
    assert "434" in answer.answer and not answer.abstained
    with pytest.raises(ValueError, match="never saved"):
        index.save(tmp_path / "index")
    assert not (tmp_path / "index").exists()
    with pytest.raises(BulletinQAError, match="not built yet"):
        assistant.add_files([SEED])
    # The keyword-only index holds what a built one holds, except the vectors.
    built, _ = update_index(corpus, tmp_path / "built", HashEmbedder(), progress=False)
    assert index.chunks == built.chunks and index.bulletins.keys() == built.bulletins.keys()


def test_an_index_run_reports_every_phase_in_order(corpus, tmp_path):
    reports: list[BuildProgress] = []
    update_index(corpus, tmp_path / "index", HashEmbedder(), progress=False, on_progress=reports.append)
    phases = list(dict.fromkeys(report.phase for report in reports))
    assert phases == [phase for phase in PHASES if phase != "waiting"]
    for phase in phases:  # each phase starts at 0 and ends with all its items done
        mine = [report for report in reports if report.phase == phase]
        assert mine[0].done == 0 and mine[-1].done == mine[-1].total
        assert [report.done for report in mine] == sorted(report.done for report in mine)
    embedding = [report for report in reports if report.phase == "embedding"]
    assert embedding[-1].total > 100 and all(report.eta is not None for report in embedding[1:])
    assert all(describe(report).startswith("index: ") for report in reports)
    assert build_progress_zh(embedding[1]).startswith(f"正在嵌入段落 {embedding[1].done:,} / {embedding[1].total:,}，约剩 ")


def test_blocks_embed_exactly_what_one_call_does():
    texts = [f"第{i}段：全区新建社区食堂{i}个，" + "服务" * (i % 17) for i in range(300)]
    reports: list[BuildProgress] = []
    blocked = embed_texts(HashEmbedder(), texts, "embedding", reports.append)
    assert np.array_equal(blocked, HashEmbedder().embed_documents(texts))
    assert reports[-1].done == 300 and len(reports) >= 3  # a start and at least two blocks (32 texts, then more)


def test_a_second_writer_waits_for_the_lock_and_says_so(corpus, tmp_path):
    index_dir = tmp_path / "index"
    reports: list[BuildProgress] = []
    with index_lock(index_dir):
        writer = threading.Thread(target=update_index, args=(corpus, index_dir, HashEmbedder()),
                                  kwargs={"progress": False, "on_progress": reports.append})
        writer.start()
        time.sleep(0.5)
        assert [report.phase for report in reports] == ["waiting"] and not has_index(index_dir)
    writer.join(30)
    assert reports[0].phase == "waiting" and reports[-1].phase == "writing" and has_index(index_dir)


def test_background_build_switches_to_hybrid_and_an_upload_waits_its_turn(corpus, tmp_path):
    index_dir = tmp_path / "index"
    embedder = GatedEmbedder()
    seen: list[BuildProgress] = []
    assistant, build = open_at_once(index_dir, corpus, model="fake-hash", on_progress=seen.append, paused=True)
    build.load_embedder = lambda: embedder  # the same real build, with an embedder the test can hold back
    try:
        build.resume()
        assert build.running and assistant.status()["retrieval"] == "bm25"
        assert "434" in assistant.ask(QUESTION).answer  # answered by BM25 while the build waits for the model
        issue = tmp_path / "上街信息 第9期.md"
        issue.write_text(ISSUE_9, encoding="utf-8")
        added: list = []
        upload = threading.Thread(target=lambda: added.append(assistant.add_files([issue], progress=False)))
        upload.start()
        time.sleep(0.5)
        assert not added and not (corpus / issue.name).exists()  # the upload waits for the build
        assert not has_index(index_dir) and build.running
    finally:
        embedder.gate.set()
    assert build.wait(60) and build.error is None
    upload.join(60)
    assert assistant.status()["retrieval"] == "hybrid" and assistant.index.has_vectors
    assert [phase for phase in dict.fromkeys(p.phase for p in seen)][:3] == ["model", "reading", "embedding"]
    assert added and added[0].files_added  # added after the build, to the built index
    assert "17" in assistant.ask("全区新建社区食堂多少个？").answer
    assert "434" in assistant.ask(QUESTION).answer
    loaded = BulletinIndex.load(index_dir, embedder)
    assert len(loaded.chunks) == len(assistant.index.chunks)


def test_a_failed_build_writes_nothing_and_bm25_answers_go_on(corpus, tmp_path):
    index_dir = tmp_path / "index"

    class Broken(HashEmbedder):
        def embed_documents(self, texts, progress=False):
            raise RuntimeError("out of memory (simulated)")

    assistant, build = open_at_once(index_dir, corpus, model="fake-hash", paused=True, on_progress=lambda _: None)
    build.load_embedder = Broken
    build.resume()
    assert build.wait(60) and isinstance(build.error, RuntimeError)
    assert not build.running and not has_index(index_dir)
    assert not [path for path in index_dir.iterdir() if path.name.startswith(("gen-", ".tmp-"))]
    assert assistant.status()["retrieval"] == "bm25" and "434" in assistant.ask(QUESTION).answer


def test_background_build_is_an_ordinary_build(corpus, tmp_path):
    """What the background build writes is what `update_index` writes: a later start just loads it."""
    assistant, build = open_at_once(tmp_path / "index", corpus, model="fake-hash", on_progress=lambda _: None)
    assert isinstance(build, BackgroundBuild) and build.wait(60) and build.error is None and not build.running
    later = Assistant.open(tmp_path / "index", model="fake-hash", corpus_dir=corpus, progress=False)
    assert later.index.chunks == assistant.index.chunks
    assert later.ask(QUESTION).to_json()["answer"] == assistant.ask(QUESTION).to_json()["answer"]


def test_bulletin_qa_index_prints_every_phase(corpus, tmp_path):
    """The command line says what each phase of an index run is doing, on stderr; --json prints only the JSON."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(tmp_path / "index")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for phase in ("reading and parsing files", "embedding chunks", "building the BM25 index", "extracting facts",
                  "writing the index generation"):
        assert f"index: {phase}" in run.stderr, (phase, run.stderr)
    quiet = subprocess.run([*command, "--rebuild", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "index: " not in quiet.stderr
    assert json.loads(quiet.stdout)["chunks_total"] > 100
