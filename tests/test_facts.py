"""The fact table and table answers, on the real seed bulletin and all 52 reports."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.guard import check_figures
from qa.embed import HashEmbedder
from qa.facts import indicator_similarity, read_facts
from qa.generations import current_generation
from qa.trend import find_facts
from qa.update import update_index

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
        if row.status != "missing":
            assert row.text in answer.citations[row.citation].quote
    periods = [row.period for row in answer.table]
    assert check_figures(answer.answer, [c.quote for c in answer.citations], periods) == []
    for citation in answer.citations:
        assert assistant.index.bulletins[citation.file].clean_text[citation.start:citation.end] == citation.quote


def test_trend_rows_one_per_year_each_cited(assistant):
    answer = assistant.ask("2021到2024年城镇新增就业分别是多少？")
    assert not answer.abstained
    assert [(r.period, r.text) for r in answer.table] == [
        ("2021", "1269万人"), ("2022", "1206万人"), ("2023", "1244万人"), ("2024", "1256万人")]
    assert "从 1269万人（2021 年）到 1256万人（2024 年）" in answer.answer
    cited(assistant, answer)


def test_missing_year_is_shown_not_interpolated(assistant):
    answer = assistant.ask("2018到2021年国内生产总值增长了多少？")
    statuses = {r.period: r.status for r in answer.table}
    assert statuses["2019"] == "missing"  # the 2020 report, which reviews 2019, is not in the corpus
    assert "2019 年：缺" in answer.answer
    cited(assistant, answer)


def test_target_versus_outcome(assistant):
    answer = assistant.ask("2024年经济增长目标完成了吗？")
    roles = {(r.role, r.text) for r in answer.table}
    assert ("target", "5%") in roles and ("outcome", "5%") in roles
    target_row = next(r for r in answer.table if r.role == "target")
    outcome_row = next(r for r in answer.table if r.role == "outcome")
    assert answer.citations[target_row.citation].issue == "2024"
    assert answer.citations[outcome_row.citation].issue == "2025"
    assert target_row.citation == 0  # 完成了吗: the table's order, target first
    # Stating the target and asking for the actual figure puts the outcome's quote first.
    actual = assistant.ask("2024年经济增长目标是5%左右，实际增长了多少？")
    outcome_row = next(r for r in actual.table if r.role == "outcome")
    assert outcome_row.citation == 0 and actual.citations[0].issue == "2025"
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
    row = next(r for r in answer.table if r.period == "2024")
    assert row.status == "conflict"
    conflict = [r for r in answer.table if r.period == "2024"]
    assert {r.text for r in conflict} == {"100个", "120个"}
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


# Measured on eval/facts-labelled.jsonl (291 figures: the seed bulletin and 8 reports from 1995 to 2025). The 86
# figures of the 2015/2021/2022/2023 reports were labelled from the texts alone after the rules were written; they
# lowered period from 0.995 to 0.951: five-year reviews ("国内生产总值从不到70万亿元增加到超过100万亿元") have no
# one period in the fact table, and the labels give each end its year.
EXTRACTION_PINNED = {"recall": 0.99, "precision": 1.0, "value": 1.0, "unit": 0.941, "kind": 0.931, "period": 0.951,
                     "indicator": 0.872}


def test_extraction_against_hand_labelled_sample(assistant):
    scores = score_extraction(assistant.index.facts(), assistant.index.bulletins)
    print("fact extraction:", {k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()})
    assert scores["labels"] >= 150
    for key, value in EXTRACTION_PINNED.items():
        assert scores[key] >= value - 0.03, (key, scores)


# The chat's matching (qa.trend.same_indicator: the same head of the noun phrase, synonyms from the table),
# which `bulletin-qa facts` now uses too, measured on the 291 labelled figures with the labeller's words. The
# character-bigram similarity it replaced found 0.873 of them, but also the neighbours that made tables of
# unrelated figures (issue #12): on the gov reports it returned 2.1 facts per label against 1.3 now.
MATCHING_PINNED = 0.746


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


# ---------------------------------------------------------------- tables only for the asked indicator
def test_gdp_target_table_shows_missing_2020_not_a_neighbour(assistant):
    """There is no 2020 report: its row is 缺, never a nearby figure such as 普惠小微企业贷款增长50%以上."""
    answer = assistant.ask("2019到2024年国内生产总值增长目标分别是多少？")
    rows = {r.period: r for r in answer.table}
    assert sorted(rows) == ["2019", "2020", "2021", "2022", "2023", "2024"]
    assert rows["2020"].status == "missing" and "2020 年目标：缺" in answer.answer
    assert {r.indicator for r in answer.table if r.status != "missing"} == {"国内生产总值"}
    assert rows["2022"].text == "5.5%" and rows["2022"].bound == "左右"
    cited(assistant, answer)


def test_an_indicator_given_mostly_as_a_plan_is_followed_as_planned(assistant):
    """赤字率 is set each year (拟按3%安排) and rarely reported back: its trend shows the plans, and a plain
    question about one year is answered by that year's plan, whose quote says it is one."""
    answer = assistant.ask("赤字率这几年是怎样变化的？")
    assert answer.table and all(r.role == "target" for r in answer.table)
    assert all("百分点" not in (r.unit or "") for r in answer.table)  # 比上年提高1个百分点 is no 赤字率
    plain = assistant.ask("2023年的财政赤字率是多少？")
    assert not plain.abstained and plain.answer.startswith("3%") and "拟按3%安排" in plain.citations[0].quote
    # An indicator that is reported back every year is not: a year with only its plan abstains.
    assert assistant.ask("2019年城镇新增就业多少人？").abstained


@pytest.mark.parametrize("question", ["黄河的流量是怎样变化的？", "这两座桥分别叫什么？", "湖泊面积变化大吗？",
                                      "大桥这几年的通车量是多少？"])
def test_no_table_on_encyclopedia_text(tmp_path, question):
    """Encyclopedia prose with years and figures near each other builds no year-by-year table: 变化 and 分别
    alone ask for none, and an indicator the fact table does not hold gets an ordinary answer or none."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "encyclopedia.md").write_text(
        "# 河流与桥梁\n\n"
        "黄河全长约5464公里，流域面积约75万平方公里。1950年代以后，下游多次出现断流，1997年断流达226天。\n\n"
        "洞庭湖曾是中国第一大淡水湖，1825年湖面约6000平方公里，到1998年缩小到2625平方公里。\n\n"
        "南京长江大桥于1968年建成通车，公路桥长4589米；武汉长江大桥于1957年通车，全长1670米。\n",
        encoding="utf-8")
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    answer = Assistant(index, embedder, index_dir=tmp_path / "index", corpus_dir=corpus).ask(question)
    assert answer.table == ()
    assert check_figures(answer.answer, [c.quote for c in answer.citations]) == []


@pytest.mark.parametrize("asked,indicator,same", [
    ("赤字率", "财政赤字率", True),  # a modifier in front: the same head
    ("国内生产总值增长", "国内生产总值", True),  # growth words say which figures, not which indicator
    ("gdp", "国内生产总值", True),  # a synonym of the whole indicator (qa/synonyms.py)
    ("经济增长", "对全球经济增长的贡献率", False),  # another head: a contribution rate
    ("国内生产总值", "单位国内生产总值能耗", False),
    ("国内生产总值增长", "大型商业银行普惠小微企业贷款", False),
    ("零售物价", "居民消费价格", False),  # the synonym of 物价 is not one of 零售物价
    ("地区生产总值", "人均地区生产总值", True),  # same head; the qualifier rule of answers tells them apart
])
def test_same_indicator_by_the_head_of_the_phrase(asked, indicator, same):
    from qa.trend import same_indicator

    assert same_indicator(asked, indicator) is same


@pytest.mark.parametrize("question,indicator", [
    ("2021到2024年城镇新增就业分别是多少？", "城镇新增就业"),
    ("2022年经济增长目标是5.5%左右，最后实际增长了多少？", "经济增长"),
    ("2015年城镇新增就业超过预期目标了吗？实际新增多少人？", "城镇新增就业"),
    ("2016年广义货币M2增速有没有达到13%左右的预期目标？", "广义货币m2增速"),
    ("2024年和2025年的赤字率安排相比有什么变化？", "赤字率"),
    ("2010年到2014年城镇新增就业各是多少？", "城镇新增就业"),
])
def test_asked_indicator_stops_at_the_figure_or_the_comparing_verb(question, indicator):
    from qa.trend import asked_indicator

    assert asked_indicator(question) == indicator


@pytest.mark.parametrize("question,table", [
    ("城镇新增就业这几年是多少？", True), ("2021到2024年粮食产量分别是多少？", True),
    ("2024年经济增长目标完成了吗？", True), ("2023年和2024年的赤字率", True),
    ("人口是怎样变化的？", False), ("三个区分别叫什么？", False), ("价格走势如何？", False),
])
def test_table_questions_need_time(question, table):
    from qa.trend import is_table_question

    assert is_table_question(question) is table


# ---------------------------------------------------------------- a figure's kind and period
@pytest.mark.parametrize("sentence,figure,ahead,kind", [
    # a government work report's plan and review (国务院)
    ("今年赤字率拟按4%左右安排、比上年提高1个百分点", "4%", True, "target"),
    ("今年赤字率拟按4%左右安排、比上年提高1个百分点", "1个百分点", True, "change"),
    ("财政赤字率控制在2.8%", "2.8%", False, "percent"),  # a review: what was kept, not a plan
    ("城镇调查失业率控制在5.5%以内", "5.5%", True, "target"),
    ("要把全年商品零售物价上涨幅度控制在百分之十以内", "百分之十", False, "target"),  # a restated plan
    # a city's statistical bulletin (湘潭-style wording) and a district bulletin (上街-style wording)
    ("规模以上工业增加值比上年增长6.1%", "6.1%", True, "change"),
    ("高技术制造业、装备制造业增加值分别增长8.9%、7.7%", "7.7%", True, "change"),
    ("常住人口城镇化率提高到66.2%", "66.2%", True, "percent"),  # 提高到 leads to a level
    ("高等级公路1900公里", "1900公里", False, "count"),
    ("全区持证人数达 434 人", "434 人", True, "count"),
])
def test_figure_kind(sentence, figure, ahead, kind):
    from qa.facts import figure_kind

    at = sentence.index(figure)
    unit = "%" if "%" in figure or "百分之" in figure else ("个百分点" if "百分点" in figure else "人")
    clause_start = sentence.rfind("，", 0, at) + 1  # clauses end at ，
    assert figure_kind(sentence[clause_start:at], sentence[at + len(figure):], unit, sentence[:16], ahead,
                       sentence[:at]) == kind


@pytest.mark.parametrize("sentence,period", [
    ("今年赤字率拟按2.8%左右安排、比去年有所下调，有利于增强财政可持续性。", "2022"),  # the first time word
    ("过去一年，国内生产总值增长3%。", "2021"),
    ("2011年，是“十二五”开局之年。", "2011"),
    ("粮食产量1.37万亿斤。", "2020"),  # no time word: carried on
])
def test_sentence_period_by_the_first_time_word(sentence, period):
    from qa.facts import sentence_period

    assert sentence_period(sentence, 2022, "2020") == period


def test_synonyms_come_from_the_documented_data_file(tmp_path):
    from qa.synonyms import SYNONYMS, SYNONYMS_FILE, read_synonyms

    lines = [line for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(SYNONYMS) == len(lines) and all(len(line.split("\t")) == 3 for line in lines)  # each says why
    assert SYNONYMS["gdp"] == ("国内生产总值",)
    broken = tmp_path / "synonyms.tsv"
    broken.write_text("# ok\n社工证\n", encoding="utf-8")
    with pytest.raises(ValueError, match="synonyms.tsv:2"):
        read_synonyms(broken)
