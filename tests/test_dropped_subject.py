"""A figure whose sentence drops the subject the sentence before it names (Chinese zero anaphora) is answered,
in the prose of two kinds of office (a county's statistical bulletin, a district's work briefing); a near miss
still abstains, and a date's month is never the figure of "how much"."""

from __future__ import annotations

import pytest

from data_files import assert_leads_with, lexical_assistant
from qa.figures import parse_figures
from qa.lead import names_a_year_or_note

COUNTY_BULLETIN = """# 青山县2025年国民经济和社会发展统计公报

青山县统计局

2026年3月10日

## 一、综合

全县地区生产总值达到218.6亿元，比上年增长5.9%。全年城镇新增就业8600人。

## 八、卫生

县人民医院新院区于2025年10月投入使用。设置床位800张，年门诊量达到65万人次。
"""

DISTRICT_BRIEFING = """# 河西区工作简报

第3期

河西区人民政府办公室　2026年4月2日

## 一、社区治理

区民政局牵头开展“邻里守望”志愿行动，覆盖全区38个社区。全年组织活动126场，服务群众9800余人次。

## 二、营商环境

全区新登记市场主体5230户，同比增长12.4%。
"""


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return lexical_assistant(tmp_path_factory, {"county-stat-2025.md": COUNTY_BULLETIN, "district-briefing-3.md": DISTRICT_BRIEFING})


@pytest.mark.parametrize("question, figure", [
    ("县人民医院新院区有多少张床位？", "800张"),
    ("县人民医院新院区年门诊量是多少？", "65万人次"),
    ("邻里守望志愿行动服务了多少人次？", "9800余人次"),
])
def test_a_figure_is_answered_when_its_subject_is_in_the_sentence_before(assistant, question, figure):
    assert_leads_with(assistant, question, figure)


@pytest.mark.parametrize("question", ["县人民医院有多少名医生？", "邻里守望志愿行动有多少名志愿者？"])
def test_a_figure_the_paragraph_does_not_give_still_abstains(assistant, question):
    assert assistant.ask(question).abstained


@pytest.mark.parametrize("clause, figure, is_date", [
    ("县人民医院新院区于2025年10月投入使用", "10月", True),
    ("2026年4月2日召开", "2", True),
    ("建设周期10个月", "10个", False),
    ("第二批8月份完成", "8月", False),
    ("全年组织活动126场", "126场", False),
])
def test_a_dates_month_or_day_is_not_a_quantity(clause, figure, is_date):
    found = next(f for f in parse_figures(clause) if f[2] == figure)
    assert names_a_year_or_note(clause, found) is is_date
