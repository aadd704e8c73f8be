"""A text names its topic once, in its title, and its sentences drop it: a sentence is matched together with its
title and headings (`qa.candidates.with_context`). Tested on two offices' articles (a county water bureau, a city
education bureau) and an encyclopedia article; near misses under the same title still abstain."""

from __future__ import annotations

import pytest

from data_files import assert_leads_with, lexical_assistant
from qa.evidence import without_topic

WATER_BUREAU = """# 青山县农村饮水安全巩固提升工程进展顺利

青山县水利局　2026年1月15日

青山县农村饮水安全巩固提升工程于2025年3月启动，由县水利局组织实施。截至年底，已完成管网铺设120公里。新建水厂3座，日供水能力达到2万吨。受益群众达到8.6万人。
"""

EDUCATION_BUREAU = """# 南岭市课后服务提质扩面工作综述

南岭市教育局　2026年3月5日

2025年秋季学期起，南岭市全面推行义务教育阶段课后服务提质扩面。全市326所学校开设体育、艺术、科技类课程。参与学生达到21.4万人，参与率92.6%。聘请校外专业人员1150名。
"""

ENCYCLOPEDIA = """---
title: 黄鳍紫鱼
---

黄鳍紫鱼，又称黄鳍姬鲷，俗名散午，为辐鳍鱼纲鲈形目笛鲷科的其中一个种。本鱼分布于西太平洋区，包括菲律宾、印尼、琉球群岛、台湾等海域。水深10至200公尺。体呈淡蓝红色，背鳍及臀鳍黄色。体长可达50公分。栖息在沿岸岩礁区，以其他鱼类、甲壳类为食。
"""


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return lexical_assistant(tmp_path_factory, {"water.md": WATER_BUREAU, "school.md": EDUCATION_BUREAU, "fish.md": ENCYCLOPEDIA})


@pytest.mark.parametrize("question, figure", [
    ("农村饮水安全巩固提升工程新建了多少座水厂？", "3座"),  # two sentences after the one naming the project
    ("农村饮水安全巩固提升工程受益群众有多少？", "8.6万人"),
    ("南岭市课后服务参与学生有多少人？", "21.4万人"),
    ("课后服务提质扩面的参与率是多少？", "92.6%"),
])
def test_a_figure_under_a_title_that_names_its_subject_is_answered(assistant, question, figure):
    assert_leads_with(assistant, question, figure)


@pytest.mark.parametrize("question", [
    "农村饮水安全巩固提升工程新建了多少座污水处理厂？",
    "农村饮水安全巩固提升工程总投资是多少？",
    "课后服务提质扩面聘请了多少名教师？",
    "课后服务提质扩面投入了多少资金？",
])
def test_the_title_alone_answers_nothing(assistant, question):
    assert assistant.ask(question).abstained


def test_a_reading_question_is_not_answered_by_the_sentence_that_only_names_the_topic(assistant):
    answer = assistant.ask("黄鳍紫鱼分布在哪里？")
    assert not answer.abstained
    assert "西太平洋" in answer.citations[0].quote


@pytest.mark.parametrize("question, title, rest", [
    ("黄鳍紫鱼主要以什么为食？", "黄鳍紫鱼", "主要以什么为食？"),
    ("课后服务提质扩面的参与率是多少？", "南岭市课后服务提质扩面工作综述", "的参与率是多少？"),
    ("2023年GDP增长多少？", "2024年政府工作报告", "2023年GDP增长多少？"),  # a number is one unit: 202 is not cut
    ("2023年GDP增长多少？", "2023年政府工作报告", "GDP增长多少？"),
    ("什么是约化群？", "", "什么是约化群？"),
])
def test_the_question_without_its_titles_words(question, title, rest):
    assert without_topic(question, title) == rest
