"""qa.bm25 against bm25s itself (the oracle), and the incremental update that reuses term counts and facts."""

import json
import shutil
from pathlib import Path

import bm25s
import numpy as np
import pytest

from qa import bm25, update
from qa.chunk import chunk_bulletin
from qa.embed import HashEmbedder
from qa.parse import parse_bulletin
from qa.read import content_hash
from qa.store import BulletinIndex
from qa.update import update_index
from qa.tokens import tokenize

from data_files import copy_gov_reports

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


def questions() -> list[str]:
    lines = (ROOT / "eval" / "gov-reports.jsonl").read_text(encoding="utf-8").splitlines()
    lines += (ROOT / "eval" / "shangjie-08.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def assert_same_index(built, oracle) -> None:
    """Same documents, vocabulary and float32 scores in every column (vocab ids may be numbered differently)."""
    assert built.scores["num_docs"] == oracle.scores["num_docs"]
    assert set(built.vocab_dict) == set(oracle.vocab_dict)
    for name in ("data", "indices", "indptr"):
        assert built.scores[name].dtype == oracle.scores[name].dtype, name
    for token, oracle_id in oracle.vocab_dict.items():
        if oracle_id + 1 >= len(oracle.scores["indptr"]):
            continue  # bm25s's empty token "" past the matrix
        built_id = built.vocab_dict[token]
        ours = slice(*built.scores["indptr"][built_id:built_id + 2])
        theirs = slice(*oracle.scores["indptr"][oracle_id:oracle_id + 2])
        assert np.array_equal(built.scores["indices"][ours], oracle.scores["indices"][theirs]), token
        assert np.array_equal(built.scores["data"][ours], oracle.scores["data"][theirs]), token
    for question in questions():
        tokens = [token for token in tokenize(question) if token in oracle.vocab_dict]
        if tokens:
            expected = oracle.get_scores(tokens)
            assert np.array_equal(built.get_scores(tokens), expected), question
            assert np.array_equal(bm25.scores(built, [built.vocab_dict[t] for t in tokens]), expected), question


def oracle_of(token_lists):
    oracle = bm25s.BM25()
    oracle.index(token_lists, show_progress=False)
    return oracle


@pytest.fixture(scope="module")
def report_tokens(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    files = copy_gov_reports(folder, years=["2010", "2019", "2024"]) + [SEED]
    lists = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for chunk in chunk_bulletin(parse_bulletin(text, path.name), content_hash(text)):
            lists.append(tokenize(chunk.embed_text) or [""])
    return lists


def test_fresh_build_equals_bm25s(report_tokens):
    counts = bm25.count_terms(report_tokens)
    assert_same_index(bm25.build_bm25(bm25.concat([(counts, np.arange(counts.n_docs))], counts.n_docs)),
                      oracle_of(report_tokens))


def test_reused_counts_equal_a_fresh_build(report_tokens, tmp_path):
    """Drop some documents, repeat one, add fresh ones in the middle: as if bm25s had indexed the result."""
    old = bm25.build_bm25(bm25.count_terms(report_tokens))
    bm25.save_counts(old, tmp_path)
    previous = bm25.load_counts(old, tmp_path)
    kept = [row for row in range(len(report_tokens)) if row % 7]  # every 7th document leaves
    fresh_lists = [["新", "增", "新增", "文件"], [""], report_tokens[3]]
    final = kept[:40] + [None] * 2 + kept[40:] + [5, None]  # None: a fresh document; 5 appears twice
    rows_old = np.array([row for row in final if row is not None])
    at_old = np.array([i for i, row in enumerate(final) if row is not None])
    at_fresh = np.array([i for i, row in enumerate(final) if row is None])
    merged = bm25.concat([(bm25.select_docs(previous, rows_old), at_old),
                          (bm25.count_terms(fresh_lists), at_fresh)], len(final))
    fresh = iter(fresh_lists)
    expected = [report_tokens[row] if row is not None else next(fresh) for row in final]
    assert_same_index(bm25.build_bm25(merged), oracle_of(expected))


def test_counts_that_do_not_fit_the_index_are_ignored(report_tokens, tmp_path):
    built = bm25.build_bm25(bm25.count_terms(report_tokens))
    np.save(tmp_path / bm25.COUNTS_FILE, np.ones(3, np.int32))
    assert bm25.load_counts(built, tmp_path) is None
    assert bm25.load_counts(built, tmp_path / "nowhere") is None


def test_update_tokenises_only_new_chunks_and_matches_a_rebuild(tmp_path, monkeypatch):
    embedder = HashEmbedder()
    corpus = tmp_path / "corpus"
    files = copy_gov_reports(corpus, years=["2015", "2016", "2017", "2018"])
    shutil.copy(SEED, corpus / SEED.name)
    held = tmp_path / files[1].name
    files[1].rename(held)  # comes back in the middle of the chunk order
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    held.rename(files[1])
    files[3].unlink()
    text = SEED.read_text(encoding="utf-8")
    (corpus / SEED.name).write_text(text.replace("全区持证人数达 434 人", "全区持证人数达 435 人"), encoding="utf-8")

    tokenised = []
    real_tokenize = update.tokenize
    monkeypatch.setattr(update, "tokenize", lambda text: tokenised.append(text) or real_tokenize(text))
    updated, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    monkeypatch.undo()
    assert report.files_added == [files[1].name] and report.files_changed == [SEED.name]
    new_texts = {c.embed_text for c in updated.chunks if c.file == files[1].name} | {
        c.embed_text for c in updated.chunks if "435 人" in c.embed_text}
    assert set(tokenised) == new_texts  # every other chunk's counts came from the previous generation

    oracle = oracle_of([tokenize(c.embed_text) or [""] for c in updated.chunks])
    assert_same_index(updated.bm25, oracle)
    loaded = BulletinIndex.load(tmp_path / "index", embedder)
    assert_same_index(loaded.bm25, oracle)
    # facts: the unchanged reports' were taken over, the rest extracted; the same as extracting them all
    assert updated.facts() == updated._extract_facts() == loaded.facts()
    rebuilt, _ = update_index(corpus, tmp_path / "rebuilt", embedder, rebuild=True, progress=False)
    assert rebuilt.facts() == updated.facts()
