"""Numbered lines that head nothing are a list's members, and their text is content (`qa.parse._mark_list_items`):
a heading has something under it before the next line of its rank. Tested on two offices' documents (a county
medical-insurance bureau's notice, a city statistics bureau's price list) and on a work plan whose numbered lines
are real headings."""

from __future__ import annotations

import pytest

from data_files import COUNTY_NOTICE as NOTICE, assert_leads_with, lexical_assistant
from qa.parse import parse_bulletin

PRICES = """# 南岭市2025年国民经济和社会发展统计公报

南岭市统计局　2026年3月10日

## 一、物价

全年居民消费价格比上年上涨0.2%。分类别看，各类价格指数（以上年为100）如下：

一、食品烟酒 98.1

二、衣着 103.5

三、居住 99.8

全年工业生产者出厂价格比上年下降1.6%。
"""

WORK_PLAN = """# 河西区2026年优化营商环境工作方案

一、总体要求

坚持问题导向，全面提升政务服务效能，全年新登记市场主体增长10%以上。

二、主要任务

推行“一件事一次办”，年底前实现20个高频事项集成办理。
"""

TARGETS = """# 青山县2026年民生实事项目安排

青山县发展和改革委员会　2026年1月20日

经县政府常务会议研究，2026年民生实事项目主要目标如下：

一、城镇新增就业1.2万人；

二、城镇调查失业率控制在5.5%以内；

三、新建保障性租赁住房800套。

各责任单位要细化措施，确保按期完成。
"""


def kinds(text: str) -> dict[str, str]:
    bulletin = parse_bulletin(text, "doc.md")
    return {bulletin.clean_text[p.start:p.end]: p.kind for p in bulletin.paragraphs}


def test_numbered_lines_with_nothing_under_them_are_content():
    found = kinds(NOTICE)
    assert found["一、个人缴费标准为每人每年400元，财政补助标准为每人每年不低于700元。"] == "body"
    assert found["二、集中缴费时间为2025年9月1日至12月31日，逾期不再办理。"] == "body"  # the list's last member
    found = kinds(PRICES)
    assert [found[line] for line in ("一、食品烟酒 98.1", "二、衣着 103.5", "三、居住 99.8")] == ["body"] * 3
    found = kinds(TARGETS)
    assert found["三、新建保障性租赁住房800套。"] == "body"


def test_the_sentence_announcing_a_list_heads_its_members():
    bulletin = parse_bulletin(PRICES, "prices.md")
    member = next(p for p in bulletin.paragraphs if bulletin.clean_text[p.start:p.end] == "二、衣着 103.5")
    assert member.subsection == "分类别看，各类价格指数（以上年为100）如下："


def test_numbered_lines_with_text_under_them_stay_headings():
    found = kinds(WORK_PLAN)
    assert found["一、总体要求"] == "heading" and found["二、主要任务"] == "heading"
    bulletin = parse_bulletin(WORK_PLAN, "plan.md")
    body = [p for p in bulletin.paragraphs if p.kind == "body"]
    assert [p.section for p in body] == ["一、总体要求", "二、主要任务"]


def test_a_list_member_does_not_become_the_section_of_what_follows():
    bulletin = parse_bulletin(PRICES, "prices.md")
    last = next(p for p in bulletin.paragraphs if bulletin.clean_text[p.start:p.end].startswith("全年工业"))
    assert last.section == "一、物价"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return lexical_assistant(tmp_path_factory, {"notice.md": NOTICE, "prices.md": PRICES, "plan.md": WORK_PLAN, "targets.md": TARGETS})


@pytest.mark.parametrize("question, figure", [
    ("城乡居民基本医疗保险个人缴费标准是多少？", "400元"),
    ("城乡居民基本医疗保险财政补助标准是多少？", "700元"),
    ("民生实事项目新建保障性租赁住房多少套？", "800套"),
    ("民生实事项目城镇调查失业率控制在多少？", "5.5%"),
    ("河西区计划年底前实现多少个高频事项集成办理？", "20个"),  # under a real heading, as before
])
def test_a_list_members_figure_is_answered(assistant, question, figure):
    assert_leads_with(assistant, question, figure)



def test_a_when_question_is_answered_by_the_list_not_by_the_title_that_holds_a_year(assistant):
    answer = assistant.ask("城乡居民基本医疗保险集中缴费时间是什么时候？")
    assert not answer.abstained, answer.answer
    assert "2025年9月1日至12月31日" in answer.citations[0].quote  # not 关于做好2026年度…的通知
