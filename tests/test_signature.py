"""A document with no date at its head is signed at its foot (落款): the issuer's line and the date line that end it
give its publisher and date (`qa.parse._mark_signature`), and a question about the document itself is answered from
them. Tested on two offices' notices (a county medical-insurance bureau, a city education bureau)."""

from __future__ import annotations

import pytest

from data_files import COUNTY_NOTICE as INSURANCE_NOTICE, lexical_assistant
from qa.parse import parse_bulletin

EDUCATION_NOTICE = """# 关于开展2026年春季学期中小学课后服务工作的通知

各县（区）教育局，市直各学校：

为进一步做好课后服务工作，春季学期课后服务自2026年3月2日起实施，每周不少于5天。

南岭市教育局

2026年2月20日

抄送：市财政局
"""


@pytest.mark.parametrize("text, publisher, date", [
    (INSURANCE_NOTICE, "青山县医疗保障局", "2025-08-20"),
    (EDUCATION_NOTICE, "南岭市教育局", "2026-02-20"),  # signed above its distribution line
])
def test_the_signature_gives_publisher_and_date(text, publisher, date):
    bulletin = parse_bulletin(text, "notice.md")
    assert (bulletin.publisher, bulletin.date) == (publisher, date)
    kinds = {bulletin.clean_text[p.start:p.end]: p.kind for p in bulletin.paragraphs}
    assert kinds[publisher] == "footer"


def test_a_date_line_in_the_body_is_no_signature():
    text = "# 工作动态\n\n中共上街区委办公室\n\n2026年2月12日\n\n全区新建社区食堂17个。\n\n2026年3月1日\n"
    bulletin = parse_bulletin(text, "briefing.md")
    assert bulletin.date == "2026-02-12"  # the head's date; the last line stays body


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return lexical_assistant(tmp_path_factory, {"insurance.md": INSURANCE_NOTICE, "school.md": EDUCATION_NOTICE})


@pytest.mark.parametrize("question, day", [
    ("这份医疗保险缴费通知是什么时候印发的？", "2025年8月20日"),
    ("课后服务工作的通知是什么时候发布的？", "2026年2月20日"),
])
def test_a_question_about_the_notice_itself_is_answered_from_its_signature(assistant, question, day):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.answer
    assert day in answer.citations[0].quote


def test_a_question_about_its_content_is_not(assistant):
    answer = assistant.ask("城乡居民基本医疗保险集中缴费时间是什么时候？")
    assert not answer.abstained and "2025年9月1日至12月31日" in answer.citations[0].quote
    answer = assistant.ask("春季学期课后服务什么时候开始实施？")
    assert not answer.abstained and "2026年3月2日" in answer.citations[0].quote
