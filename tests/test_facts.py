"""The fact table and table answers, on the real seed bulletin and all 52 reports."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer import Assistant, check_figures
from qa.embed import HashEmbedder
from qa.facts import find_facts, indicator_similarity, read_facts
from qa.store import current_generation, update_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SEED = CORPUS / "shangjie-xinxi-2026-08.md"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    shutil.copytree(CORPUS / "gov-work-reports", corpus / "gov-work-reports")
    embedder = HashEmbedder()
    index_dir = tmp_path_factory.mktemp("index")
    index, _ = update_index(corpus, index_dir, embedder, progress=False)
    return Assistant(index, embedder, index_dir=index_dir, corpus_dir=corpus)


def test_every_fact_is_its_own_text_inside_its_sentence(assistant):
    facts = assistant.index.facts()
    assert len(facts) > 3000
    for fact in facts:  # all of them, not a sample
        text = assistant.index.bulletins[fact.file].clean_text
        assert text[fact.start:fact.end] == fact.text
        assert fact.sentence_start <= fact.start < fact.end <= fact.sentence_end
        assert fact.kind in ("count", "percent", "change", "target")
        chunk = assistant.index.chunks[assistant.index.row_of[fact.chunk_id]]
        assert chunk.start <= fact.start < chunk.end


def test_fact_table_is_stored_with_the_index(assistant):
    stored = read_facts(current_generation(assistant.index_dir) / "facts.sqlite")
    assert {f.fact_id for f in stored} == {f.fact_id for f in assistant.index.facts()}
    manifest = json.loads((current_generation(assistant.index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["facts"] == len(stored) and manifest["facts_version"] >= 1


def test_seed_facts_carry_indicator_value_and_period(assistant):
    seed = [f for f in assistant.index.facts() if f.file == SEED.name]
    by_text = {f.text: f for f in seed}
    assert by_text["434 人"].value == 434 and by_text["434 人"].unit == "人" and by_text["434 人"].period == "2025"
    assert by_text["61.5%"].kind == "change"
    members = {f.indicator: f.text for f in seed if f.unit == "%" and "覆盖率" in f.indicator}
    assert members == {"园区党组织覆盖率": "92.5%", "重点非公企业党组织覆盖率": "87%",
                       "社会组织党组织覆盖率": "94%", "行业协会商会党组织覆盖率": "91%"}


def test_report_facts_scale_period_and_kind(assistant):
    facts = [f for f in assistant.index.facts() if f.file.endswith("gov-work-report-2024.md")]
    employment = next(f for f in facts if f.text == "1244万人")
    assert employment.indicator == "城镇新增就业" and employment.value == 12_440_000 and employment.period == "2023"
    gdp = next(f for f in facts if f.text == "126万亿元")
    assert gdp.value == 126e12 and gdp.unit == "元" and gdp.scale == 1e12
    target = next(f for f in facts if f.text == "1200万人")
    assert target.kind == "target" and target.period == "2024"


def test_indicator_matching_uses_synonyms_and_prefers_close_phrases():
    assert indicator_similarity("GDP", "国内生产总值") == 1.0
    assert indicator_similarity("经济增长", "国内生产总值") > indicator_similarity("经济增长", "对全球经济增长的贡献率")
    assert indicator_similarity("城镇新增就业", "城镇新增就业") == 1.0
    assert indicator_similarity("赤字率", "粮食产量") < 0.6


def cited(assistant, answer):
    """Every table row's figure is a substring of its own quote, and the guard's promise holds."""
    for row in answer.table:
        if row["status"] != "missing":
            assert row["text"] in answer.citations[row["citation"]].quote
    periods = [row["period"] for row in answer.table]
    assert check_figures(answer.answer, [c.quote for c in answer.citations], periods) == []
    for citation in answer.citations:
        assert assistant.index.bulletins[citation.file].clean_text[citation.start:citation.end] == citation.quote


def test_trend_rows_one_per_year_each_cited(assistant):
    answer = assistant.ask("2021到2024年城镇新增就业分别是多少？")
    assert not answer.abstained
    assert [(r["period"], r["text"]) for r in answer.table] == [
        ("2021", "1269万人"), ("2022", "1206万人"), ("2023", "1244万人"), ("2024", "1256万人")]
    assert "从 1269万人（2021 年）到 1256万人（2024 年）" in answer.answer
    cited(assistant, answer)


def test_missing_year_is_shown_not_interpolated(assistant):
    answer = assistant.ask("2018到2021年国内生产总值增长了多少？")
    statuses = {r["period"]: r["status"] for r in answer.table}
    assert statuses["2019"] == "missing"  # the 2020 report, which reviews 2019, is not in the corpus
    assert "2019 年：缺" in answer.answer
    cited(assistant, answer)


def test_target_versus_outcome(assistant):
    answer = assistant.ask("2024年经济增长目标完成了吗？")
    roles = {(r["role"], r["text"]) for r in answer.table}
    assert ("target", "5%") in roles and ("outcome", "5%") in roles
    target_row = next(r for r in answer.table if r["role"] == "target")
    outcome_row = next(r for r in answer.table if r["role"] == "outcome")
    assert answer.citations[target_row["citation"]].issue == "2024"
    assert answer.citations[outcome_row["citation"]].issue == "2025"
    assert target_row["citation"] == 0  # 完成了吗: the table's order, target first
    # Stating the target and asking for the actual figure puts the outcome's quote first.
    actual = assistant.ask("2024年经济增长目标是5%左右，实际增长了多少？")
    outcome_row = next(r for r in actual.table if r["role"] == "outcome")
    assert outcome_row["citation"] == 0 and actual.citations[0].issue == "2025"
    cited(assistant, actual)
    assert "与目标基本一致" in answer.answer  # 5% against 5%左右
    cited(assistant, answer)


@pytest.mark.parametrize("target,wording,outcome,verdict", [
    (5.0, "5%左右", 5.0, "与目标基本一致"),
    (8.0, "8%左右", 10.3, "高于目标"),  # growth above a point target: said as it is, not "达到"
    (10.0, "10%左右", 14.8, "高于目标"),  # prices above a point target: not "达到" either
    (5.5, "5.5%左右", 3.0, "低于目标"),
    (1200.0, "1200万人以上", 1256.0, "达到目标"),
    (1200.0, "1200万人以上", 1100.0, "未达到目标"),
    (3.0, "3%以内", 2.0, "控制在目标以内"),
    (3.0, "3%以内", 3.4, "超出目标"),
])
def test_target_verdict_follows_the_targets_own_wording(target, wording, outcome, verdict):
    from qa.facts import Fact
    from qa.trend import _verdict

    def fact(value):
        return Fact("id", "指标", str(value), value, "%", 1.0, "target", "2024", "政府工作报告", "2024", None,
                    "f.md", "c", 0, 1, 0, 1)

    assert _verdict(fact(target), wording, fact(outcome)) == verdict


def test_conflicting_issues_are_shown_side_by_side(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for issue, figure in (("1", "100"), ("2", "120")):
        (corpus / f"issue-{issue}.md").write_text(
            f"---\nseries: 测试简报\nissue: {issue}\ndate: 2025-0{issue}-01\n---\n# 测试简报\n\n## 充电设施\n\n"
            f"去年全区新建充电桩{figure}个，方便居民出行。\n", encoding="utf-8")
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    answer = Assistant(index, embedder).ask("2024年和2025年新建充电桩分别是多少？")
    row = next(r for r in answer.table if r["period"] == "2024")
    assert row["status"] == "conflict"
    conflict = [r for r in answer.table if r["period"] == "2024"]
    assert {r["text"] for r in conflict} == {"100个", "120个"}
    assert "说法不同" in answer.answer


def test_find_facts_filters(assistant):
    found = find_facts(assistant.index.facts(), "城镇新增就业", series="政府工作报告", year_from=2021, year_to=2023,
                       kinds=("count",))
    assert {f.period for f in found} <= {"2021", "2022", "2023"} and found


def test_cli_facts_json_and_csv(assistant, tmp_path):
    command = [sys.executable, "-m", "qa.cli", "facts", "城镇新增就业", "--index", str(assistant.index_dir),
               "--series", "政府工作报告", "--from", "2022", "--to", "2023"]
    rows = [json.loads(line) for line in subprocess.run(command + ["--json"], capture_output=True, text=True,
                                                         cwd=ROOT, check=True).stdout.splitlines()]
    assert any(r["text"] == "1244万人" and r["period"] == "2023" and "1244万人" in r["quote"] for r in rows)
    csv_out = subprocess.run(command + ["--csv"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert csv_out.splitlines()[0].startswith("period,indicator,text,value,unit,kind")


def load_labels():
    lines = (ROOT / "eval" / "facts-labelled.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def squash(text: str) -> str:
    return "".join(text.split())


def score_extraction(facts, bulletins) -> dict:
    """Precision and recall of extracted figures against the hand-labelled sample, and the accuracy of
    indicator, value, unit, kind and period on the figures found."""
    labels = load_labels()
    by_sentence: dict[tuple[str, str], list] = {}
    for fact in facts:
        name = fact.file.rsplit("/", 1)[-1]
        sentence = squash(bulletins[fact.file].clean_text[fact.sentence_start:fact.sentence_end])
        by_sentence.setdefault((name, sentence), []).append(fact)
    labelled_sentences = {(label["file"], squash(label["sentence"])) for label in labels}
    matched, used = [], set()
    for label in labels:
        candidates = [f for f in by_sentence.get((label["file"], squash(label["sentence"])), [])
                      if f.fact_id not in used and (squash(label["figure"]) in squash(f.text)
                                                     or squash(f.text) in squash(label["figure"]))
                      and abs(f.value - label["value"]) <= 1e-6 * max(1.0, abs(label["value"]))]
        if not candidates:
            candidates = [f for f in by_sentence.get((label["file"], squash(label["sentence"])), [])
                          if f.fact_id not in used and squash(f.text) in squash(label["figure"])]
        if candidates:
            used.add(candidates[0].fact_id)
            matched.append((label, candidates[0]))
    extracted_in_sample = [f for key in labelled_sentences for f in by_sentence.get(key, [])]
    return {
        "labels": len(labels),
        "recall": len(matched) / len(labels),
        "precision": len(matched) / max(len(extracted_in_sample), 1),
        "value": sum(abs(f.value - l["value"]) <= 1e-6 * max(1.0, abs(l["value"])) for l, f in matched) / len(matched),
        "unit": sum((f.unit or "") == (l["unit"] or "") for l, f in matched) / len(matched),
        "kind": sum(f.kind == l["kind"] for l, f in matched) / len(matched),
        "period": sum(f.period == l["period"] for l, f in matched) / len(matched),
        "indicator": sum(indicator_similarity(l["indicator"], f.indicator) >= 0.6 for l, f in matched) / len(matched),
    }


# Measured on eval/facts-labelled.jsonl (205 figures: the seed bulletin and 5 reports from 1995 to 2025).
EXTRACTION_PINNED = {"recall": 0.985, "precision": 1.0, "value": 1.0, "unit": 0.896, "kind": 0.881, "period": 0.995,
                     "indicator": 0.847}


def test_extraction_against_hand_labelled_sample(assistant):
    scores = score_extraction(assistant.index.facts(), assistant.index.bulletins)
    print("fact extraction:", {k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()})
    assert scores["labels"] >= 150
    for key, value in EXTRACTION_PINNED.items():
        assert scores[key] >= value - 0.03, (key, scores)


# Synonym table + character-bigram similarity, measured on the 205 labelled figures.
MATCHING_PINNED = 0.844


def matching_recall(facts, bulletins) -> float:
    """How often asking for a labelled indicator (the labeller's words) finds that figure's fact among the
    facts of its report: the measure of indicator matching across wording changes."""
    labels = load_labels()
    found = 0
    for label in labels:
        in_file = [f for f in facts if f.file.rsplit("/", 1)[-1] == label["file"]]
        hits = find_facts(in_file, label["indicator"])
        found += any(squash(label["figure"]) in squash(f.text) or squash(f.text) in squash(label["figure"])
                     for f in hits)
    return found / len(labels)


def test_indicator_matching_recall_on_labelled_sample(assistant):
    recall = matching_recall(assistant.index.facts(), assistant.index.bulletins)
    print("indicator matching recall:", round(recall, 3))
    assert recall >= MATCHING_PINNED - 0.03



@pytest.mark.parametrize("text,figures", [
    ("粮食产量33，212万吨，比上年增加2，737万吨", [("33，212万吨", 332_120_000.0), ("2，737万吨", 27_370_000.0)]),
    ("粮食产量将要达到３，６５０亿斤", [("３，６５０亿斤", 365_000_000_000.0)]),
    ("棉花达到六百零八万吨，增长３１．１％", [("六百零八万吨", 6_080_000.0), ("３１．１％", 31.1)]),
    ("粮食（不包括大豆）的产量为三千六百五十亿斤", [("三千六百五十亿斤", 365_000_000_000.0)]),
    ("粮食产量达到四亿零七百多万吨", [("四亿零七百多万吨", None)]),  # written, but no single value
    ("2019，2020年城镇新增就业1256万人", [("2019", 2019.0), ("2020年", 2020.0), ("1256万人", 12_560_000.0)]),
    ("三项任务、两个中心", []),  # wording, not figures
])
def test_older_reports_figures_parse_whole(text, figures):
    from qa.figures import clause_spans, parse_figures

    assert [(f[2], f[3]) for f in parse_figures(text)] == figures
    # A thousands comma never ends a clause, so a quote never cuts 33，212万吨 in two.
    for figure, _ in figures:
        assert any(figure in text[s:e] for s, e in clause_spans(text, 0, len(text)))
