"""The index in Milvus Lite, embedded (the real engine, no mocks): build, no-op update, add and remove a file,
filters as expressions against the FAISS path's own filter (the oracle), a kill -9 in the middle of an upsert,
and the seed eval through Milvus with the real model."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.embed import HashEmbedder
from qa.errors import BulletinQAError, CorpusMismatchError, IndexMismatchError, IndexMissingError
from qa.evaluate import evaluate_set
from qa.milvus import MilvusIndex, connect, disconnect, parse_target, read_manifest
from qa.milvus_update import update_milvus
from qa.question import question_years
from qa.retrieve import Filters, candidate_mask, dense_ranking, question_places, retrieve
from qa.update import update_index

from data_files import copy_gov_reports, seed_corpus

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
SEED_QUESTION = "全区社会工作者持证人数是多少？"


@pytest.fixture
def corpus(tmp_path):
    return seed_corpus(tmp_path / "corpus")


def live_rows(index: MilvusIndex) -> int:
    """Rows in the chunk collection, committed or not."""
    return len(index.client.query(index.target.collection, filter='chunk_id != ""', output_fields=["chunk_id"]))


def test_build_answers_like_the_faiss_folder_and_a_rerun_writes_nothing(corpus, tmp_path):
    embedder = HashEmbedder()
    target = parse_target(tmp_path / "x.db")
    index, report = update_milvus(corpus, target, embedder, progress=False)
    assert report.files_added == [SEED.name] and report.chunks_embedded == report.chunks_total > 10
    faiss_index, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert [c.chunk_id for c in index.chunks] == [c.chunk_id for c in faiss_index.chunks]
    assert np.allclose(index.vectors(), faiss_index.vectors(), atol=1e-6)
    milvus_answer = Assistant(index, embedder).ask(SEED_QUESTION).to_json()
    faiss_answer = Assistant(faiss_index, embedder).ask(SEED_QUESTION).to_json()
    assert milvus_answer["figures"][0]["value"] == 434
    assert milvus_answer["citations"][0] == faiss_answer["citations"][0]
    assert len(index.facts()) == len(faiss_index.facts()) > 0
    assert (target.facts_root() / index.generation / "facts.sqlite").exists()

    manifest = read_manifest(index.client, target)
    again, report = update_milvus(corpus, target, embedder, progress=False, client=index.client)
    assert report.chunks_embedded == 0 and report.files_unchanged == [SEED.name]
    assert read_manifest(index.client, target) == manifest  # nothing committed
    reopened = MilvusIndex.load(target, embedder, client=index.client)
    assert reopened.generation == index.generation and len(reopened.chunks) == live_rows(reopened)


def test_add_and_remove_a_file(corpus, tmp_path):
    embedder = HashEmbedder()
    target = parse_target(tmp_path / "x.db")
    first, _ = update_milvus(corpus, target, embedder, progress=False)
    [report_file] = copy_gov_reports(tmp_path / "reports", years=["2024"])
    shutil.copy(report_file, corpus / report_file.name)
    added, report = update_milvus(corpus, target, embedder, progress=False, client=first.client)
    assert report.files_added == [report_file.name] and report.files_unchanged == [SEED.name]
    assert report.chunks_embedded == len(added.chunks) - len(first.chunks)  # the seed is not embedded again
    answer = Assistant(added, embedder).ask("2023年城镇新增就业多少人？")
    assert not answer.abstained and answer.citations[0].file == report_file.name
    assert live_rows(added) == len(added.chunks)

    (corpus / report_file.name).unlink()
    removed, report = update_milvus(corpus, target, embedder, progress=False, client=first.client)
    assert report.files_removed == [report_file.name] and report.chunks_embedded == 0
    assert {c.file for c in removed.chunks} == {SEED.name}
    assert live_rows(removed) == len(removed.chunks)  # the removed file's rows left Milvus
    assert MilvusIndex.load(target, embedder, client=first.client).file_hashes.keys() == {SEED.name}


@pytest.fixture(scope="module")
def two_offices(tmp_path_factory):
    """The seed bulletin, three 政府工作报告 and two stat bulletins, in Milvus and in a FAISS folder."""
    root = tmp_path_factory.mktemp("milvus-filters")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    copy_gov_reports(corpus, years=["2019", "2023", "2024"])
    stats = sorted((ROOT / "eval" / "corpora" / "stat-bulletins").glob("*-statistical-bulletin.*"))[:2]
    for path in stats:
        shutil.copy(path, corpus / path.name)
    embedder = HashEmbedder()
    milvus, _ = update_milvus(corpus, parse_target(root / "x.db"), embedder, progress=False)
    faiss_index, _ = update_index(corpus, root / "index", embedder, progress=False)
    return milvus, faiss_index, embedder


FILTERS = [
    Filters(series="上街信息"), Filters(series="政府工作报告", issue="2023"), Filters(issue="8"),
    Filters(date_from="2023-01-01"), Filters(date_to="2019-12-31"), Filters(date_from="2019-01-01", date_to="2023-12-31"),
    Filters(department="社工部"), Filters(department="区委"), Filters(series="政府工作报告", date_from="2024-01-01"),
    Filters(series="没有这个刊名"),
]


def test_filters_become_expressions_that_admit_what_the_faiss_path_admits(two_offices):
    milvus, faiss_index, _ = two_offices
    places = sorted({c.place for c in faiss_index.chunks if c.place})
    assert places, "the stat bulletins speak for places"
    cases = [(f, [], []) for f in FILTERS] + [(Filters(place=places[0]), [], []), (Filters(place=places[0][:2]), [], [])]
    cases += [(None, ["2023"], []), (None, ["2019", "2024"], []), (Filters(series="政府工作报告"), ["2022"], []),
              (None, [], [places[0]]), (None, ["2025"], [places[-1]])]
    for filters, years, named in cases:
        mask = candidate_mask(faiss_index, filters, years, named)
        expected = {c.chunk_id for row, c in enumerate(faiss_index.chunks) if mask is None or mask[row]}
        scope = milvus.scope(filters, years, named)
        got = {row["chunk_id"] for row in milvus.client.query(milvus.target.collection, filter=scope,
                                                               output_fields=["chunk_id"])}
        assert got == expected, (filters, years, named, scope, len(got), len(expected))


def test_dense_search_in_milvus_is_the_exact_ranking(two_offices):
    milvus, faiss_index, embedder = two_offices
    for question in ["2023年城镇新增就业多少人？", SEED_QUESTION, "居民人均可支配收入增长多少？"]:
        vector = embedder.embed_queries([question])[0]
        years = question_years(question)
        places, _ = question_places(faiss_index, question)
        mask = candidate_mask(faiss_index, None, years, places)
        oracle = [faiss_index.chunks[row].chunk_id for row in dense_ranking(faiss_index, vector, mask, 20)]
        got = [milvus.chunks[row].chunk_id for row in milvus.search_dense(vector, milvus.scope(None, years, places), 20)]
        assert got[:10] == oracle[:10], question
        hits = retrieve(milvus, embedder, question, k=5)
        assert hits and all(not years or set(years) & set(milvus.chunk_years()[hit.row]) for hit in hits)


def test_wrong_uri_missing_index_another_model_and_another_corpus_are_sentences(corpus, tmp_path):
    with pytest.raises(BulletinQAError, match=r"ending in \.db .* http://localhost:19530"):
        parse_target("/tmp/folder-not-a-db")
    target = parse_target(tmp_path / "x.db")
    with pytest.raises(IndexMissingError, match="bulletin-qa index CORPUS --milvus"):
        MilvusIndex.load(target)
    index, _ = update_milvus(corpus, target, HashEmbedder(), progress=False)

    class Other(HashEmbedder):
        @property
        def fingerprint(self) -> str:
            return "another-model"

    with pytest.raises(IndexMismatchError, match="--rebuild"):
        MilvusIndex.load(target, Other(), client=index.client)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(SEED, other / SEED.name)
    with pytest.raises(CorpusMismatchError, match="--switch-corpus"):
        update_milvus(other, target, HashEmbedder(), progress=False, client=index.client)


def test_missing_extra_is_one_readable_line(tmp_path):
    code = ("import sys; sys.modules['pymilvus'] = None; from qa.cli import main; "
            f"sys.exit(main(['ask', '--milvus', {str(tmp_path / 'x.db')!r}, '--model', 'fake-hash', 'q']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: --milvus needs the optional Milvus packages")
    assert "pip install -e '.[milvus]'" in done.stderr and "Traceback" not in done.stderr


def test_a_kill_in_the_middle_of_an_upsert_loses_nothing(tmp_path):
    """kill -9 of `bulletin-qa index --milvus` twice: in the middle of the upserts, and right after the new rows
    reached the disk but before the manifest was committed. Each time the committed state answers exactly as
    before and the rows written are invisible; the next run completes and removes them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    db = tmp_path / "x.db"
    target = parse_target(db)
    index, _ = update_milvus(corpus, target, HashEmbedder(), progress=False)
    disconnect(index.client, target)
    questions = [SEED_QUESTION, "2015年城镇新增就业多少人？", "2016年国内生产总值增长的预期目标是多少？"]

    def state() -> tuple[dict, list[dict], int]:
        client = connect(target)
        try:
            index = MilvusIndex.load(target, HashEmbedder(), client=client)
            answers = [Assistant(index, HashEmbedder()).ask(q).to_json() for q in questions]
            for answer in answers:
                answer.pop("seconds", None)
            return read_manifest(client, target), answers, live_rows(index)
        finally:
            disconnect(client, target)

    manifest, answers, rows = state()
    copy_gov_reports(corpus, years=["2016", "2017"])  # two reports: a few hundred chunks, several upsert batches
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "qa.cli", "index", str(corpus), "--milvus", str(db), "--model", "fake-hash"]
    data = db / "collections" / target.collection / "partitions"

    def flushed() -> set[Path]:
        return set(data.rglob("*.parquet")) if data.exists() else set()

    before = flushed()
    for moment in ("upserting", "flushed"):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.set_blocking(process.stderr.fileno(), False)
        seen, deadline = b"", time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            seen += process.stderr.read() or b""
            if (moment == "upserting" and b"upserting" in seen) or (moment == "flushed" and flushed() - before):
                break
            time.sleep(0.002)
        if moment == "upserting":
            time.sleep(0.2)  # a few batches in
        assert process.poll() is None, (f"the run ended before the kill ({moment}): "
                                        + seen.decode(errors="replace")[-800:])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        after_manifest, after_answers, after_rows = state()
        assert after_manifest == manifest and after_answers == answers, moment
        if moment == "flushed":
            assert after_rows > rows, "the new rows did not reach the disk before the kill; nothing was tested"

    client = connect(target)
    index, report = update_milvus(corpus, target, HashEmbedder(), progress=False, client=client)
    assert len(report.files_added) == 2 and len(index.file_hashes) == 3
    assert live_rows(index) == len(index.chunks)  # leftovers taken over (same ids) or deleted
    assert not Assistant(index, HashEmbedder()).ask(questions[1]).abstained
    disconnect(client, target)


@pytest.fixture(scope="module")
def seed_real_milvus(converted_model_dir, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    target = parse_target(tmp_path_factory.mktemp("milvus") / "seed.db")
    return Assistant.open(None, model=str(converted_model_dir), corpus_dir=corpus, progress=False, milvus=target)


@pytest.mark.slow  # ~2 min: 141 questions with the real model (CI runs -m slow too)
def test_seed_sets_through_milvus_hold_the_faiss_pins(seed_real_milvus):
    from test_eval import HELDOUT_SEED_PINNED, PINS, SEED_PINNED, assert_pinned, assert_pins_hold

    [seed] = evaluate_set(seed_real_milvus, ROOT / "eval" / "shangjie-08.jsonl", ("hybrid",), progress=False)
    assert_pinned(seed.metrics(), SEED_PINNED["hybrid"])
    assert_pins_hold(seed, PINS / "shangjie-08.json")
    [heldout] = evaluate_set(seed_real_milvus, ROOT / "eval" / "heldout-seed.jsonl", ("hybrid",), progress=False)
    assert_pinned(heldout.metrics(), HELDOUT_SEED_PINNED)
    assert_pins_hold(heldout, PINS / "heldout-seed.json")
