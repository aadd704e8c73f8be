"""The eval suite: Q&A set loading and scoring, the CLI gate, the report, and pinned quality numbers.

Pinned numbers are regressions guards (pyserini-style): a drop beyond the tolerance fails CI. They were
measured with the commands in README "Evaluation"; update them deliberately, with the reason in the commit.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.guard import guard
from qa.records import Answer, Citation
from qa.baseline import SentenceBM25
from qa.embed import HashEmbedder
from qa.errors import BulletinQAError
from qa.evaluate import (
    QAItem,
    SetResult,
    evaluate_cmrc,
    evaluate_set,
    expected_found,
    load_qa_set,
    pins_path,
    score_item,
    write_pins,
    write_report,
)
from qa.update import update_index
from qa.tokens import tokenize

from data_files import CMRC_EXCERPT, CMRC_TRIAL, copy_gov_reports, lexical_assistant, needs_shared

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
PINS = ROOT / "eval" / "pins"
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


# ----- the naive baseline and the metrics, on a tiny corpus and hand-made answers -----

TINY = {
    "office-a.md": "---\nseries: 民政简报\nissue: 3\ndate: 2026-03-01\n---\n\n# 民政简报\n\n## 养老服务\n\n"
                   "今年以来，全区新建社区食堂 17 个。服务老年人 5200 余人次！\n\n居家养老床位达到 260 张。\n",
    "office-b.md": "---\nseries: 人社简报\nissue: 5\ndate: 2026-03-02\n---\n\n# 人社简报\n\n## 就业\n\n"
                   "城镇新增就业 1244 人，同比增长 3.5%。发放创业担保贷款 86 笔？\n",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return lexical_assistant(tmp_path_factory, TINY)


def test_baseline_answers_with_the_best_sentence_verbatim(tiny):
    baseline = SentenceBM25(tiny.index)
    texts = [s.text for s in baseline.sentences]
    assert "今年以来，全区新建社区食堂 17 个。" in texts and "服务老年人 5200 余人次！" in texts
    assert "发放创业担保贷款 86 笔？" in texts and "## 养老服务" not in texts  # cut at 。！？ and line ends
    answer = baseline.ask("全区新建了多少个社区食堂？")
    assert not answer.abstained and answer.answer == "今年以来，全区新建社区食堂 17 个。"
    [citation] = answer.citations
    assert citation.file == "office-a.md" and citation.quote == answer.answer
    assert tiny.index.bulletins["office-a.md"].clean_text[citation.start:citation.end] == citation.quote
    assert "民政简报" in citation.label
    assert baseline.ask("创业担保贷款发放了多少笔？").citations[0].file == "office-b.md"
    ranked = baseline.search("城镇新增就业多少人", k=10)
    assert ranked[0][0].text.startswith("城镇新增就业 1244 人")
    # The postings-based scores against a brute-force Okapi BM25 over every sentence.
    docs = [Counter(tokenize(text)) for text in texts]
    average = sum(sum(d.values()) for d in docs) / len(docs)

    def oracle(doc: Counter, query: str) -> float:
        score = 0.0
        for token in set(tokenize(query)):
            df = sum(1 for d in docs if token in d)
            if doc[token]:
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                score += idf * doc[token] * 2.5 / (doc[token] + 1.5 * (0.25 + 0.75 * sum(doc.values()) / average))
        return score

    expected = sorted(((oracle(d, "城镇新增就业多少人"), i) for i, d in enumerate(docs)), key=lambda p: -p[0])
    expected = [(texts[i], score) for score, i in expected if score > 0]
    assert [text for text, _ in expected] == [s.text for s, _ in ranked]
    assert [score for _, score in expected] == pytest.approx([score for _, score in ranked], rel=1e-5)
    assert baseline.ask("quantum xylophone").abstained  # no shared token, no answer


def test_baseline_is_a_method_of_the_eval(tiny, tmp_path):
    qa_set = tmp_path / "tiny.jsonl"
    rows = [{"id": "t1", "question": "全区新建了多少个社区食堂？", "expected": ["17个|17 个"], "source": "全区新建社区食堂 17 个",
             "answerable": True, "file": "office-a.md"},
            {"id": "t2", "question": "城镇新增就业多少人？", "expected": ["1244"], "source": "城镇新增就业 1244 人",
             "answerable": True, "file": "office-b.md"}]
    qa_set.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    assert load_qa_set(qa_set)[0].file == "office-a.md"
    [result] = evaluate_set(tiny, qa_set, ("baseline",), progress=False)
    metrics = result.metrics()
    assert metrics["recall@1"] == 1.0 and metrics["answer_accuracy"] == 1.0 and metrics["citation_accuracy"] == 1.0
    assert metrics["doc_first"] == 1.0 and metrics["retrieval_doc_first"] == 1.0
    # The sentence leads with 今年以来 (no digit) then 17: the first number is the asked one.
    assert metrics["leads_with_figure"] == 1.0


def citation_in(file: str, quote: str) -> Citation:
    return Citation("c", file, "S", "1", None, None, None, 0, quote, 0, len(quote), "—S")


def item(id_: str, expected: tuple[str, ...] = ("434人",), answerable: bool = True, file: str | None = "a.md") -> QAItem:
    return QAItem(id_, "问？", expected, "", answerable, file=file)


def test_doc_first_and_leads_with_figure_on_hand_made_answers():
    quote = "全区持证人数达 434 人，同比增长 61.5%。"
    results = [
        # right file, leads with 434 (compared as a number: '434' leads for '434人')
        score_item(item("1"), Answer("q", "全区持证人数达 434 人", False, (citation_in("a.md", quote),)), [("a.md", quote)]),
        # right figure but from the wrong file, and leads with 2025 (a year), not the asked figure
        score_item(item("2"), Answer("q", "2025 年持证 434 人", False, (citation_in("b.md", "2025 年持证 434 人"),)),
                   [("b.md", "x"), ("a.md", quote)]),
        # abstained: not doc_first, not leading (but the item still counts)
        score_item(item("3", ("61.5%|六成",)), Answer("q", "未找到", True), [("a.md", quote)]),
        # no file in the set, no digit expected, unanswerable: outside both metrics
        score_item(item("4", ("灵芝雀合唱团",), file=None), Answer("q", "灵芝雀合唱团", False), []),
        score_item(item("5", (), answerable=False), Answer("q", "434 人", False, (citation_in("a.md", quote),)), []),
    ]
    flags = [(r.doc_first, r.retrieval_doc_first, r.leads_with_figure) for r in results]
    assert flags == [(True, True, True), (False, False, False), (False, True, False), (None, None, None),
                     (None, None, None)]
    metrics = SetResult("hand", "x", results).metrics()
    assert (metrics["doc_first"], metrics["retrieval_doc_first"], metrics["leads_with_figure"]) == (0.3333, 0.6667, 0.3333)
    assert score_item(item("6", ("61.5%",)), Answer("q", "增长 61.50%", False), []).leads_with_figure


def test_guard_caught_is_counted_before_the_guard_hides_it():
    quote = "全区持证人数达 434 人。"
    invented = Answer("q", "全区持证人数达 435 人", False, (citation_in("a.md", quote),))
    delivered = guard(invented)
    assert delivered.abstained and delivered.guard_caught == ("435",)
    assert delivered.to_json()["guard_caught"] == ["435"]
    honest = guard(Answer("q", "434 人", False, (citation_in("a.md", quote),)))
    assert not honest.abstained and honest.guard_caught == ()
    results = [score_item(item("1"), delivered, []), score_item(item("2"), honest, [])]
    metrics = SetResult("hand", "x", results).metrics()
    # Counted after the guard the invented figure would be invisible: the delivered answer is an abstention.
    assert metrics["unsupported_figures"] == 0
    assert metrics["guard_caught"] == 1
    assert not results[0].passed and results[1].passed


# ----- per-question pins -----

def assert_pins_hold(result: SetResult, path: Path) -> None:
    """Every pinned id still passes (unless "reasons" says why it no longer does); abstention precision holds."""
    pins = json.loads(path.read_text(encoding="utf-8"))
    assert pins["method"] == result.method, (path, pins["method"], result.method)
    by_id = {r.item.id: r for r in result.results}
    unknown = [id_ for id_ in [*pins["passing"], *pins["reasons"]] if id_ not in by_id]
    assert not unknown, f"{path.name}: pinned ids not in the set: {unknown}"
    broken = [f"{id_} {by_id[id_].item.question} → {by_id[id_].answer['answer'][:60]}"
              for id_ in pins["passing"] if id_ not in pins["reasons"] and not by_id[id_].passed]
    assert not broken, f"{path.name}: pinned questions no longer pass (fix, or say why in \"reasons\"):\n" + \
        "\n".join(broken)
    if pins.get("abstention_precision") is not None:
        got = result.metrics()["abstention_precision"]
        assert got is not None and got >= pins["abstention_precision"] - TOLERANCE, (path.name, got, pins)


def test_pins_catch_a_swapped_question(tmp_path):
    quote = "全区持证人数达 434 人。"
    right = score_item(item("1"), Answer("q", "434 人", False, (citation_in("a.md", quote),)), [])
    wrong = score_item(item("2"), Answer("q", "未找到", True), [])
    path = tmp_path / "pins" / "hand.json"
    pins = write_pins(SetResult("hand", "hybrid", [right, wrong]), path)
    assert pins["passing"] == ["1"] and pins_path(tmp_path / "hand.jsonl") == path
    assert_pins_hold(SetResult("hand", "hybrid", [right, wrong]), path)
    swapped = SetResult("hand", "hybrid", [score_item(item("1"), Answer("q", "未找到", True), []),
                                           score_item(item("2"), Answer("q", "434 人", False, (citation_in("a.md", quote),)), [])])
    with pytest.raises(AssertionError, match="no longer pass"):
        assert_pins_hold(swapped, path)
    path.write_text(json.dumps({**pins, "reasons": {"1": "a reason"}}), encoding="utf-8")
    assert_pins_hold(swapped, path)
    assert write_pins(swapped, path)["reasons"] == {"1": "a reason"}


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
    # The naive baseline (BM25 over sentences, best sentence verbatim): the floor the product must stay above.
    "baseline": {"recall@5": 0.97, "answer_accuracy": 0.91, "citation_accuracy": 0.93, "unsupported_figures": 0},
}


def test_seed_set_with_real_model_is_pinned(seed_real, tmp_path):
    results = evaluate_set(seed_real, ROOT / "eval" / "shangjie-08.jsonl", progress=False)
    for result in results:
        assert_pinned(result.metrics(), SEED_PINNED[result.method])
    by_method = {result.method: result for result in results}
    assert_pins_hold(by_method["hybrid"], PINS / "shangjie-08.json")
    # The answer module earns its keep over the baseline where the sentence alone is not the answer.
    product, baseline = by_method["hybrid"].metrics(), by_method["baseline"].metrics()
    assert product["leads_with_figure"] > baseline["leads_with_figure"] + 0.2
    assert product["abstention_recall"] > baseline["abstention_recall"]
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
    assert_pins_hold(result, PINS / "heldout-seed.json")


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


def assert_cmrc_bm25_pinned(path: Path, questions: int, index: Path) -> None:
    results = evaluate_cmrc(path, index, methods=("bm25",), progress=False)
    metrics = results["bm25"]
    assert metrics["questions"] == questions
    for key, value in CMRC_PINNED_BM25.items():
        assert metrics[key] >= value - TOLERANCE, (key, metrics)


def test_cmrc_excerpt_check_bm25(tmp_path, monkeypatch):
    # 20 paragraphs and 82 questions shipped in tests/data; the whole trial set is checked with -m slow.
    monkeypatch.setenv("BULLETIN_QA_MODEL", "fake-hash")
    assert_cmrc_bm25_pinned(CMRC_EXCERPT, 82, tmp_path / "index")


@pytest.mark.slow
@needs_shared(CMRC_TRIAL)
def test_cmrc_external_check_bm25(tmp_path, monkeypatch):
    monkeypatch.setenv("BULLETIN_QA_MODEL", "fake-hash")
    assert_cmrc_bm25_pinned(CMRC_TRIAL, 1002, tmp_path / "index")


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


def require(*paths: Path) -> None:
    """Skip, naming what is missing, when a corpus, set or pins file is not there."""
    missing = [str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path) for path in paths
               if not path.exists()]
    if missing:
        pytest.skip(f"missing: {', '.join(missing)} (pins: python eval/run_all.py --sets NAME --write-pins)")


@pytest.mark.slow
def test_gov_reports_with_real_model_is_pinned(converted_model_dir, tmp_path):
    # Embeds ~6,900 chunks with the real model: minutes on 2 cores, so it runs with -m slow (CI does).
    corpus = ROOT / "corpus" / "gov-work-reports"
    require(corpus, PINS / "gov-reports.json", PINS / "heldout-gov.json")
    assistant = Assistant.open(tmp_path / "index", model=str(converted_model_dir), corpus_dir=corpus, progress=False)
    results = {r.method: r for r in
               evaluate_set(assistant, ROOT / "eval" / "gov-reports.jsonl", ("hybrid", "dense"), progress=False)}
    metrics = {method: result.metrics() for method, result in results.items()}
    assert_pinned(metrics["hybrid"], {"recall@5": 0.88, "answer_accuracy": 0.77, "abstention_recall": 0.87,
                                      "unsupported_figures": 0})
    assert metrics["hybrid"]["answer_accuracy"] >= metrics["dense"]["answer_accuracy"]
    assert_pins_hold(results["hybrid"], PINS / "gov-reports.json")
    [heldout] = evaluate_set(assistant, ROOT / "eval" / "heldout-gov.jsonl", ("hybrid",), progress=False)
    assert_pins_hold(heldout, PINS / "heldout-gov.json")


@pytest.mark.slow
def test_stat_bulletins_with_real_model_is_pinned(converted_model_dir, tmp_path):
    corpus = ROOT / "eval" / "corpora" / "stat-bulletins"
    sets = sorted((ROOT / "eval").glob("stat-bulletins*.jsonl")) + sorted((ROOT / "eval").glob("heldout-stat*.jsonl"))
    require(corpus, *(sets or [ROOT / "eval" / "stat-bulletins.jsonl"]), *(pins_path(path) for path in sets))
    assistant = Assistant.open(tmp_path / "index", model=str(converted_model_dir), corpus_dir=corpus, progress=False)
    for path in sets:
        [result] = evaluate_set(assistant, path, ("hybrid",), progress=False)
        assert_pins_hold(result, pins_path(path))


@pytest.mark.slow
@needs_shared(CMRC_TRIAL)
def test_cmrc_external_check_hybrid_with_real_model(converted_model_dir, tmp_path):
    results = evaluate_cmrc(CMRC_TRIAL, tmp_path / "index",
                            model=str(converted_model_dir), methods=("hybrid",), progress=False)
    for key, value in {"paragraph_recall@1": 0.975, "paragraph_recall@5": 0.996, "mrr@10": 0.985}.items():
        assert results["hybrid"][key] >= value - TOLERANCE, (key, results)
    # Answering: main scored 0.489 (0.501 in an older run); reading questions' evidence scoring lifts it to 0.597,
    # context and slot features with a conditional logit to 0.647, 26 features with a choice network and the
    # dropped-subject reading of figure questions to 0.666, 0.665 with the same-head contrast rule, and the title's
    # topic (lexical, and three features of the retrained scorer) to 0.725 (README, #12).
    assert results["hybrid"]["gold_in_first_quote"] >= 0.725 - TOLERANCE, results
    assert results["hybrid"]["answered"] >= 0.894 - TOLERANCE, results
    assert results["hybrid"]["guard_caught"] == 0, results  # every figure of an answer is in its quote


def test_report_chart_legend_covers_no_bar():
    """The report's PNG: the legend sits beside the axes, so no bar of any method hides under it."""
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace

    from qa.evaluate import METRIC_KEYS, metrics_figure

    methods = ("hybrid", "bm25", "dense", "baseline")
    subset = [SimpleNamespace(method=method, metrics=lambda n=n: {key: 1.0 - 0.1 * n for key in METRIC_KEYS})
              for n, method in enumerate(methods)]  # high bars: where a legend inside the axes would sit
    figure = metrics_figure("demo", subset)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in axes.patches]
    assert len(bars) == len(methods) * len(METRIC_KEYS)
    assert not any(bar.overlaps(legend) for bar in bars)
    assert not legend.overlaps(axes.get_window_extent(renderer))
    whole = figure.bbox
    assert whole.x0 <= legend.x0 and legend.x1 <= whole.x1  # and it is inside the picture, not cut off
