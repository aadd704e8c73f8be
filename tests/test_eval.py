"""The eval suite: Q&A set loading and scoring, the CLI gate, the report, and pinned quality numbers.

Pinned numbers are regressions guards (pyserini-style): a drop beyond the tolerance fails CI. They were
measured with the commands in README "Evaluation"; update them deliberately, with the reason in the commit.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer import Assistant
from qa.embed import HashEmbedder
from qa.errors import BulletinQAError
from qa.evaluate import evaluate_cmrc, evaluate_set, expected_found, load_qa_set, write_report
from qa.store import update_index

from data_files import CMRC_EXCERPT, CMRC_TRIAL, copy_gov_reports, needs_shared

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
TOLERANCE = 0.03


def test_expected_alternatives_and_whitespace():
    assert expected_found("2026-02-12|2026年2月12日", "印发于 2026 年 2 月 12 日")
    assert expected_found("61.5%", "同比增长 61.5％")
    assert not expected_found("5.2%", "增长5.3%")


def test_bad_set_lines_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\n', encoding="utf-8")
    with pytest.raises(BulletinQAError, match=r"bad.jsonl:1: missing expected, source, answerable"):
        load_qa_set(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(BulletinQAError, match="bad.jsonl:1: not JSON"):
        load_qa_set(bad)


def test_sets_are_well_formed():
    result = subprocess.run([sys.executable, "eval/check_sets.py"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reports in corpus: 52 (1954-2025)" in result.stdout  # read from corpus/gov-work-reports/
    assert len(load_qa_set(ROOT / "eval" / "shangjie-08.jsonl")) >= 60
    assert len(load_qa_set(ROOT / "eval" / "gov-reports.jsonl")) >= 30


def assert_pinned(metrics: dict, pinned: dict) -> None:
    for key, value in pinned.items():
        if key == "unsupported_figures":
            assert metrics[key] == value, (key, metrics)
        else:
            assert metrics[key] >= value - TOLERANCE, (key, metrics[key], value, metrics)


@pytest.fixture(scope="module")
def seed_real(converted_model_dir, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    return Assistant.open(tmp_path_factory.mktemp("index"), model=str(converted_model_dir), corpus_dir=corpus,
                          progress=False)


# Measured with the real default model (README "Evaluation" has the full table and the command).
SEED_PINNED = {
    "hybrid": {"recall@5": 1.0, "answer_accuracy": 0.93, "citation_accuracy": 0.96, "abstention_recall": 0.92,
               "unsupported_figures": 0},
    "bm25": {"recall@5": 1.0, "answer_accuracy": 0.93, "abstention_recall": 0.92, "unsupported_figures": 0},
    "dense": {"recall@5": 0.96, "answer_accuracy": 0.92, "unsupported_figures": 0},
}


def test_seed_set_with_real_model_is_pinned(seed_real, tmp_path):
    results = evaluate_set(seed_real, ROOT / "eval" / "shangjie-08.jsonl", progress=False)
    for result in results:
        assert_pinned(result.metrics(), SEED_PINNED[result.method])
    report = write_report(results, tmp_path / "report")
    text = report.read_text(encoding="utf-8")
    assert "| shangjie-08 | hybrid |" in text and "## Failures" in text
    assert (tmp_path / "report" / "metrics-shangjie-08.png").stat().st_size > 5000


# Held-out sets: written by someone who saw only the source texts, never the code (eval/HELDOUT.md).
HELDOUT_SEED_PINNED = {"recall@5": 1.0, "answer_accuracy": 0.92, "citation_accuracy": 0.92, "abstention_recall": 0.9,
                       "unsupported_figures": 0}


def test_heldout_seed_set_with_real_model_is_pinned(seed_real):
    [result] = evaluate_set(seed_real, ROOT / "eval" / "heldout-seed.jsonl", ("hybrid",), progress=False)
    assert_pinned(result.metrics(), HELDOUT_SEED_PINNED)


HELDOUT_GOV_PINNED_BM25 = {"recall@5": 0.92, "answer_accuracy": 0.82, "citation_accuracy": 0.86, "abstention_recall": 0.8,
                           "unsupported_figures": 0}
GOV_PINNED_BM25 = {"recall@5": 0.88, "answer_accuracy": 0.77, "abstention_recall": 0.87, "unsupported_figures": 0}


def test_gov_reports_set_bm25_is_pinned(tmp_path):
    # BM25 ranks do not depend on the embedder, so the fast fake embedder is enough here.
    corpus = tmp_path / "corpus"
    copy_gov_reports(corpus)
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant(index, embedder)
    [result] = evaluate_set(assistant, ROOT / "eval" / "gov-reports.jsonl", ("bm25",), progress=False)
    assert_pinned(result.metrics(), GOV_PINNED_BM25)
    [heldout] = evaluate_set(assistant, ROOT / "eval" / "heldout-gov.jsonl", ("bm25",), progress=False)
    assert_pinned(heldout.metrics(), HELDOUT_GOV_PINNED_BM25)


CMRC_PINNED_BM25 = {"paragraph_recall@1": 0.97, "paragraph_recall@5": 0.99, "mrr@10": 0.98}


def test_cmrc_excerpt_check_bm25(tmp_path, monkeypatch):
    # 20 paragraphs and 82 questions shipped in tests/data; the whole trial set is checked with -m slow.
    monkeypatch.setenv("BULLETIN_QA_MODEL", "fake-hash")
    results = evaluate_cmrc(CMRC_EXCERPT, tmp_path / "index", methods=("bm25",), progress=False)
    metrics = results["bm25"]
    assert metrics["questions"] == 82
    for key, value in CMRC_PINNED_BM25.items():
        assert metrics[key] >= value - TOLERANCE, (key, metrics)


@pytest.mark.slow
@needs_shared(CMRC_TRIAL)
def test_cmrc_external_check_bm25(tmp_path, monkeypatch):
    monkeypatch.setenv("BULLETIN_QA_MODEL", "fake-hash")
    results = evaluate_cmrc(CMRC_TRIAL, tmp_path / "index", methods=("bm25",), progress=False)
    metrics = results["bm25"]
    assert metrics["questions"] == 1002
    for key, value in CMRC_PINNED_BM25.items():
        assert metrics[key] >= value - TOLERANCE, (key, metrics)


def test_cli_gate_fails_below_threshold(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash"}
    # eval never builds an index other than the default index/: build it first, as README does
    subprocess.run([sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(tmp_path / "index")],
                   cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    command = [sys.executable, "-m", "qa.cli", "eval", "eval/shangjie-08.jsonl", "--index", str(tmp_path / "index"),
               "--methods", "bm25", "--json"]
    passing = subprocess.run(command + ["--min-recall@5", "0.5"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert passing.returncode == 0, passing.stderr
    metrics = json.loads(passing.stdout)["shangjie-08/bm25"]
    assert metrics["questions"] == 91
    failing = subprocess.run(command + ["--min-answer-accuracy", "0.999"], cwd=ROOT, capture_output=True,
                             text=True, env=env)
    assert failing.returncode == 1
    assert "answer_accuracy" in failing.stderr and "below" in failing.stderr


@pytest.mark.slow
def test_gov_reports_with_real_model_is_pinned(converted_model_dir, tmp_path):
    # Embeds ~6,900 chunks with the real model: minutes on 2 cores, so it runs with -m slow (CI does).
    assistant = Assistant.open(tmp_path / "index", model=str(converted_model_dir),
                               corpus_dir=ROOT / "corpus" / "gov-work-reports", progress=False)
    results = {r.method: r.metrics() for r in
               evaluate_set(assistant, ROOT / "eval" / "gov-reports.jsonl", ("hybrid", "dense"), progress=False)}
    assert_pinned(results["hybrid"], {"recall@5": 0.88, "answer_accuracy": 0.77, "abstention_recall": 0.87,
                                      "unsupported_figures": 0})
    assert results["hybrid"]["answer_accuracy"] >= results["dense"]["answer_accuracy"]


@pytest.mark.slow
@needs_shared(CMRC_TRIAL)
def test_cmrc_external_check_hybrid_with_real_model(converted_model_dir, tmp_path):
    results = evaluate_cmrc(CMRC_TRIAL, tmp_path / "index",
                            model=str(converted_model_dir), methods=("hybrid",), progress=False)
    for key, value in {"paragraph_recall@1": 0.975, "paragraph_recall@5": 0.996, "mrr@10": 0.985}.items():
        assert results["hybrid"][key] >= value - TOLERANCE, (key, results)
