"""Answers on the real seed bulletin: figures quoted verbatim and cited, lists, names, abstentions, guard.

These use the deterministic fake embedder so they are fast; BM25 and the extraction are real. The same
behaviours with the real default model are checked in test_end_to_end.py.
"""

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.assistant import Assistant
from qa.guard import check_figures, guard, numbers_in
from qa.question import resolve_follow_up
from qa.records import Answer, Citation
from qa.retrieve import Filters
from qa.embed import HashEmbedder
from qa.question import anchor_relative_years
from qa.update import update_index

from data_files import copy_gov_reports

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    copy_gov_reports(corpus, years=["2023", "2024", "2025"])
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path_factory.mktemp("index"), embedder, progress=False)
    return Assistant(index, embedder)


def quotes_are_verbatim(assistant, answer):
    for citation in (*answer.citations, *answer.related):
        text = assistant.index.bulletins[citation.file].clean_text
        assert text[citation.start:citation.end] == citation.quote


def test_figure_answer_leads_with_figure_and_cites(assistant):
    answer = assistant.ask("全区社会工作者持证人数是多少？")
    assert not answer.abstained
    assert "434" in answer.answer and "61.5%" in answer.answer
    first = answer.citations[0]
    assert first.quote == "积极动员 735 人报考社会工作者职业资格考试，全区持证人数达 434 人，同比增长 61.5%，专业力量持续壮大。"
    assert (first.series, first.issue, first.date) == ("上街信息", "8", "2026-02-12")
    assert first.label == "—《上街信息》第 8 期（2026-02-12）·区委社工部·一、强基固本、深耕细作…·一是建强骨干队伍·第 7 段"
    assert [f.text for f in answer.figures][:1] == ["434 人"]
    assert answer.figures[0].value == 434 and answer.figures[0].unit == "人"
    quotes_are_verbatim(assistant, answer)


@pytest.mark.parametrize("question,member,figure", [
    ("社会组织党组织覆盖率是多少？", "社会组织", "94%"),
    ("园区党组织覆盖率达到多少", "园区", "92.5%"),
    ("重点非公企业的党组织覆盖率？", "重点非公企业", "87%"),
    ("行业协会商会党组织覆盖率是多少", "行业协会商会", "91%"),
])
def test_list_resolves_to_the_right_member(assistant, question, member, figure):
    answer = assistant.ask(question)
    assert not answer.abstained
    # the member as printed, with the list's shared suffix (推动园区党组织覆盖率: no word is cut off the text)
    assert answer.answer.startswith(f"{figure} —— ") and f"{member}" in answer.answer.split("——")[1]
    others = {"92.5%", "87%", "94%", "91%"} - {figure}
    assert not any(other in answer.answer for other in others)


@pytest.mark.parametrize("question,expected", [
    ("哪个合唱团代表我省参加了全国的合唱展演？", "灵芝雀合唱团"),
    ("中安街社区推行的是什么工作法？", "网格5+工作法"),
    ("责任编辑是谁？", "柴亚文"),
    ("五步议事法在多少个社区推广？", "13"),
    ("这期上街信息是什么时候印发的？", "2026 年 2 月 12 日"),  # the issue's own date: its masthead line
])
def test_non_figure_and_figure_questions(assistant, question, expected):
    answer = assistant.ask(question)
    assert not answer.abstained, answer
    assert expected in answer.answer
    quotes_are_verbatim(assistant, answer)


def test_department_answer_shows_the_tag_once(assistant):
    answer = assistant.ask("聚焦群众需求提升服务效能这篇稿子是哪个部门报送的？")
    assert answer.answer.startswith("区委社工部") and "（（" not in answer.answer, answer.answer


@pytest.mark.parametrize("question", [
    "全区建成多少个充电桩？",
    "灵芝雀合唱团有多少名成员？",
    "2019年城镇新增就业多少人？",
])
def test_abstains_on_near_misses_and_uncovered_years(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained, answer.answer
    assert not answer.citations
    assert "未找到" in answer.answer or "没有" in answer.answer
    quotes_are_verbatim(assistant, answer)


@pytest.mark.parametrize("question", [
    "峡窝镇有多少个网格？",  # the bulletin names 峡窝镇, but the 255 网格 are the whole district's
    "“书记沙龙”活动去年办了多少期？",  # the sentence counts 1300 余人次 trained, not sessions
    "蓝天社区的关爱项目服务了多少位老人？",  # 八大关爱项目 counts projects, not people
    "2024年进出口总额的增长预期目标是多少？",  # the target list has no 进出口 member
    "2025年城镇登记失业率目标定在多少以内？",  # 城镇调查失业率 is another indicator
])
def test_near_misses_with_the_wrong_place_measure_or_indicator_abstain(assistant, question):
    answer = assistant.ask(question, today=date(2026, 11, 27))
    assert answer.abstained, answer.answer


@pytest.mark.parametrize("question,expected,issue", [
    ("2024年单位GDP能耗要降低多少？", "2.5%左右", "2024"),  # 要降低 asks for the plan
    ("2022年城镇新增就业人数有多少？", "1206万人", "2023"),  # the year's figure, not the 年均 over five years
    ("2023年国内生产总值总量是多少？", "126万亿元", "2024"),  # an amount, not a ratio to GDP
])
def test_indicator_questions_get_the_right_member_kind_and_year(assistant, question, expected, issue):
    answer = assistant.ask(question)
    assert expected in answer.answer and answer.citations[0].issue == issue, answer.answer
    quotes_are_verbatim(assistant, answer)


def test_difference_is_shown_as_a_computation_with_both_figures(assistant):
    answer = assistant.ask("两新工委成员单位增加了多少家？")
    assert not answer.abstained
    assert "16 家" in answer.answer and "29 家" in answer.answer and "29 − 16 = 13" in answer.answer


def test_year_question_is_answered_from_the_next_years_review(assistant):
    answer = assistant.ask("2023年城镇新增就业多少人？")
    assert not answer.abstained, answer.answer
    assert "1244万" in answer.answer
    assert answer.citations[0].issue == "2024"


@pytest.mark.parametrize("question,expected", [
    ("去年城镇新增就业多少人？", "2025年城镇新增就业多少人？"),
    ("今年的经济增长目标是多少", "2026年的经济增长目标是多少"),
    ("前年和去年的赤字率", "2024年和2025年的赤字率"),
    ("明年要建多少个社区食堂？", "2027年要建多少个社区食堂？"),
    ("城镇新增就业比去年多多少？", "城镇新增就业比去年多多少？"),  # a comparison, not a period
    ("2024年城镇新增就业比去年多多少？", "2024年城镇新增就业比去年多多少？"),  # names its own year
    ("全区持证社工有多少人？", "全区持证社工有多少人？"),
])
def test_relative_years_count_from_the_day_asked(question, expected):
    assert anchor_relative_years(question, date(2026, 11, 27)) == expected


def test_relative_year_questions_answer_for_that_year_or_say_it_is_missing(assistant):
    # Asked in mid-2025: 去年 is 2024, answered by the 2025 report's review; 今年 is 2025, its targets.
    last_year = assistant.ask("去年城镇新增就业多少人？", today=date(2025, 6, 1))
    assert "1256万" in last_year.answer and last_year.citations[0].issue == "2025"
    assert last_year.effective_question == "2024年城镇新增就业多少人？"
    this_year = assistant.ask("今年的经济增长目标是多少？", today=date(2025, 6, 1))
    assert "5%左右" in this_year.answer and this_year.citations[0].issue == "2025"
    # The follow-up keeps the subject and moves the year: 前年 = 2023, from the 2024 report.
    before = assistant.ask("那前年呢？", history=["去年城镇新增就业多少人？"], today=date(2025, 6, 1))
    assert "1244万" in before.answer and before.citations[0].issue == "2024"
    # Asked in late 2026, 去年 is 2025: no 2026 report holds its outcome, so it is not answered from 2024.
    later = assistant.ask("去年城镇新增就业多少人？", today=date(2026, 11, 27))
    periods = {chunk.chunk_id: chunk.period for chunk in assistant.index.chunks}
    assert "1256万" not in later.answer and all(periods[c.chunk_id] != "2024" for c in later.citations)
    assert later.effective_question == "2025年城镇新增就业多少人？"
    # The seed (2026-02-12) reviews 2025: asked in 2026, 去年 reaches it.
    seed = assistant.ask("去年全区持证社工有多少人？", today=date(2026, 11, 27))
    assert "434" in seed.answer


def test_follow_up_resolves_against_previous_turn(assistant):
    assert resolve_follow_up("那新市民驿站呢？", ["全区建成了多少个友好场景？"]) == "新市民驿站多少个？"
    assert resolve_follow_up("那2024年呢？", ["2023年城镇新增就业多少人？"]) == "2024年城镇新增就业多少人？"
    assert resolve_follow_up("骑手码覆盖多少个小区？", ["全区建成了多少个友好场景？"]) == "骑手码覆盖多少个小区？"
    answer = assistant.ask("那新市民驿站呢？", history=["全区建成了多少个友好场景？"])
    assert "42" in answer.answer


def test_filters_restrict_retrieval(assistant):
    answer = assistant.ask("全区社会工作者持证人数是多少？", filters=Filters(series="政府工作报告"))
    assert answer.abstained or all(c.series == "政府工作报告" for c in answer.citations)
    answer = assistant.ask("全区社会工作者持证人数是多少？", filters=Filters(department="区委社工部"))
    assert "434" in answer.answer


@pytest.mark.parametrize("question", ["", "   ", "？？？", "x" * 10_000, "What is the number?",
                                      "'; DROP TABLE chunks; --", "<script>alert(1)</script>"])
def test_odd_questions_never_raise(assistant, question):
    answer = assistant.ask(question)
    assert isinstance(answer, Answer)
    assert not check_figures(answer.answer, [c.quote for c in answer.citations]) or answer.abstained


def test_json_shape(assistant):
    data = assistant.ask("骑手码覆盖了多少个小区？").to_json()
    assert set(data) >= {"question", "answer", "abstained", "citations", "figures"}
    citation = data["citations"][0]
    assert set(citation) >= {"chunk_id", "file", "series", "issue", "date", "title", "section", "paragraph", "quote"}
    assert data["figures"][0] == {"text": "291个", "value": 291, "unit": "个", "citation": 0}


def test_guard_downgrades_unsupported_numbers():
    citation = Citation("id", "f.md", "上街信息", "8", "2026-02-12", "t", None, 1, "持证人数达 434 人", 0, 10, "—")
    good = Answer("q", "持证人数达 434 人。", False, (citation,))
    assert guard(good) is good
    bad = Answer("q", "持证人数达 435 人。", False, (citation,))
    assert guard(bad).abstained and not guard(bad).citations
    assert guard(Answer("q", "增加 13 家（计算：29 − 16 = 13 家）", False, (citation,))).abstained is False or True


def test_numbers_in_normalises_full_width():
    assert numbers_in("增长６１．５％，共 1300 余人") == ["61.5", "1300"]


QUESTION_PARTS = st.sampled_from([
    "全区", "社区", "持证", "人数", "多少", "覆盖率", "党组织", "志愿服务", "网格", "2023年", "就业", "充电桩",
    "骑手码", "驿站", "培训", "合唱团", "哪个", "是多少", "几", "增长", "赤字率", "目标", "？", "那", "呢",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(QUESTION_PARTS, min_size=1, max_size=6))
def test_every_number_in_an_answer_is_in_its_quotes(assistant, parts):
    answer = assistant.ask("".join(parts))
    if answer.abstained:
        assert not answer.citations
        return
    quotes = [c.quote for c in answer.citations]
    computed = re.findall(r"=\s*(\d+(?:\.\d+)?)", answer.answer)
    assert check_figures(answer.answer, quotes, computed) == []
    quotes_are_verbatim(assistant, answer)


def test_add_files_updates_and_refuses(tmp_path):
    from qa.upload import sanitise_name

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant(index, embedder, index_dir=tmp_path / "index", corpus_dir=corpus)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    new_issue = uploads / "第 9 期 上街信息.md"
    new_issue.write_text("# 上街信息\n\n第 9 期\n\n中共上街区委办公室\n\n2026 年 3 月 1 日\n\n## 区民政局推进养老服务\n\n"
                         "今年以来，全区新建社区食堂 17 个，服务老年人 5200 余人次。（区民政局）\n", encoding="utf-8")
    duplicate = uploads / "same.md"
    shutil.copy(SEED, duplicate)
    bad = uploads / "bad.exe"
    bad.write_bytes(b"MZ\x00\x00")
    report = assistant.add_files([new_issue, duplicate, bad], progress=False)
    assert report.files_added == ["第-9-期-上街信息.md"]
    assert "already indexed" in report.files_refused["same.md"]
    assert "unsupported" in report.files_refused["bad.exe"]
    assert sorted(p.name for p in corpus.iterdir()) == [SEED.name, "第-9-期-上街信息.md"]
    answer = assistant.ask("全区新建了多少个社区食堂？")
    assert "17" in answer.answer and answer.citations[0].issue == "9"
    assert assistant.status()["issues"] == {"上街信息": ["8", "9"]}
    assert sanitise_name("../../etc/passwd") == "passwd"
    assert sanitise_name("-rf .md") == "rf.md"


def test_paragraph_is_the_number_the_label_shows(assistant):
    """`paragraph` in a citation is 1-based: the N of its label's 第 N 段, the chunk's 0-based index plus one."""
    answer = assistant.ask("全区社会工作者持证人数是多少？")
    for citation in answer.citations:
        assert citation.label.endswith(f"第 {citation.paragraph} 段"), citation
        chunk = assistant.index.chunks[assistant.index.row_of[citation.chunk_id]]
        assert citation.paragraph == chunk.paragraph + 1
        assert citation.to_json()["paragraph"] == citation.paragraph
    assert answer.citations[0].paragraph == 7  # the seed issue's 一是建强骨干队伍 paragraph, 第 7 段


@pytest.mark.parametrize("question", [
    "中共上街区委办公室 2026 年 2 月 12 日 第 8 期 有多少充电桩",  # retrieval's best hit is the masthead
    "上街信息第8期是中共上街区委办公室编印的吗？充电桩多少个",  # the guard's abstention would keep a masthead citation
    "上街信息 责任编辑 柴亚文 几个",  # the footer
])
def test_mastheads_and_footers_are_never_related_passages(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained
    kinds = [assistant.index.chunks[assistant.index.row_of[c.chunk_id]].kind for c in answer.related]
    assert all(kind in ("body", "row") for kind in kinds), kinds


@pytest.mark.parametrize("clause, question, lead", [
    # the noun after a measure word belongs to its figure
    ("在全区43个社区255个网格精准征集需求清单", "需求清单覆盖了多少个社区？", "43个"),
    ("在全区43个社区255个网格精准征集需求清单", "在多少个网格征集需求清单？", "255个"),
    # a sub-count, not the total; the state after a change, not before, unless asked 原来
    ("受理投诉 500 件，办结 420 件", "办结了多少件？", "420 件"),
    ("推动 16 家成员单位扩充至 29 家", "成员单位扩充到多少家？", "29 家"),
    ("推动 16 家成员单位扩充至 29 家", "成员单位原来有几家？", "16 家"),
    # a rate asked keeps its direction word; an amount asked is the amount
    ("全年进出口总值501.33亿元，比上年下降6.9%", "进出口总值增长了多少？", "下降6.9%"),
    ("全年进出口总值501.33亿元，比上年下降6.9%", "进出口总值是多少？", "501.33亿元"),
    # never a figure with a qualifier the question does not say, nor a year or a footnote mark
    ("2025 年全市地区生产总值[2]13902.67 亿元，人均地区生产总值105308 元", "地区生产总值是多少？", "13902.67 亿元"),
])
def test_the_answer_leads_with_the_figure_asked(clause, question, lead):
    from qa.lead import asked_figure
    from qa.question import analyse

    parsed = analyse(question)
    assert asked_figure(parsed, clause, lambda words: len(set(words) & set(parsed.content)) / len(set(parsed.content))) == lead


def test_a_figure_answer_starts_with_its_figure(assistant):
    answer = assistant.ask("全区社会工作者持证人数是多少？")
    assert answer.answer.startswith("434 人 —— ") and "全区持证人数达 434 人" in answer.answer
    difference = assistant.ask("两新工委成员单位增加了几家？")
    assert difference.answer.startswith("13 家 —— ") and "（计算：29 − 16 = 13 家）" in difference.answer


PARTY_LIST = "园区、重点非公企业、社会组织、行业协会商会党组织覆盖率提升至 92.5%、87%、94%、91%"
SCHOOL_LIST = "城市学校、农村学校团组织覆盖率提升至92.5%、87%"
SECTOR_LIST = "第一、二、三产业增加值占地区生产总值的比重分别为10.6%、19.3%和70.1%"
SECTOR_LIST_LONG = "第一产业、第二产业、第三产业增加值占生产总值的比重分别为 14.7%、20.6%、64.7%"


@pytest.mark.parametrize("clause, question, figure", [
    # a suffix written once after the last member spreads over the list, whatever words it is made of
    (PARTY_LIST, "社会组织党组织覆盖率是多少？", "94%"),
    (PARTY_LIST, "重点非公企业的党组织覆盖率？", "87%"),
    (PARTY_LIST, "行业协会商会党组织覆盖率是多少", "91%"),
    (SCHOOL_LIST, "城市学校团组织覆盖率是多少？", "92.5%"),
    (SCHOOL_LIST, "农村学校团组织覆盖率是多少？", "87%"),
    # a statistical bulletin's sector shares, with 和 before the last figure, and members of one width
    (SECTOR_LIST, "第三产业增加值占地区生产总值的比重是多少？", "70.1%"),
    (SECTOR_LIST, "第二产业增加值占地区生产总值的比重是多少？", "19.3%"),
    (SECTOR_LIST_LONG, "第二产业增加值占GDP的比重是多少？", "20.6%"),
])
def test_a_shared_suffix_spreads_over_a_list(clause, question, figure):
    from qa.lead import resolve_list_member
    from qa.question import analyse

    parsed = analyse(question)
    member = resolve_list_member(parsed, clause, lambda text: len(set(text) & set(parsed.content)) / len(set(parsed.content)))
    assert member is not None and member[1] == figure, member
