"""The same head with another modifier is another thing: a question about 职业高中 is never answered with the
figure written for 普通高中, on two cities' statistical bulletins (哈密, 南阳); the figure asked of the kind the
bulletin names is still answered, and phrases that merely share two characters are no contrast."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed import HashEmbedder
from qa.lead import contrasting_terms
from qa.update import update_index

ROOT = Path(__file__).resolve().parent.parent
BULLETINS = ("hami-2025-statistical-bulletin.html", "nanyang-2025-statistical-bulletin.html")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("two-cities")
    for name in BULLETINS:
        shutil.copy(ROOT / "eval" / "corpora" / "stat-bulletins" / name, corpus / name)
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path_factory.mktemp("index"), embedder, progress=False)
    return Assistant(index, embedder)


@pytest.mark.parametrize("question, written_for_another", [
    ("哈密市2025年职业高中在校生有多少人？", "11822"),  # 普通高中招生4465人，在校生11822人
    ("南阳市2025年职业高中有多少所？", "142"),  # 普通高中142所
])
def test_a_figure_of_another_kind_is_not_the_answer(assistant, question, written_for_another):
    answer = assistant.ask(question)
    assert answer.abstained or not answer.answer.startswith(written_for_another), answer.answer


@pytest.mark.parametrize("question, figure", [
    ("哈密市2025年普通高中在校生有多少人？", "11822人"),
    ("南阳市2025年普通高中有多少所？", "142所"),
])
def test_the_kind_the_bulletin_names_is_answered(assistant, question, figure):
    answer = assistant.ask(question)
    assert not answer.abstained and answer.answer.startswith(figure), answer.answer


@pytest.mark.parametrize("question, text, pairs", [
    ("哈密市2025年职业高中在校生有多少人？", "普通高中招生4465人，在校生11822人", [("职业高中", "普通高中")]),
    ("南阳市2025年职业高中有多少所？", "普通高中142所，招生11.51万人", [("职业高中", "普通高中")]),
    # not terms that start a phrase: a verb's object, a window across words
    ("去年有多少人报名参加社会工作者职业资格考试？", "积极动员 735 人报考社会工作者职业资格考试", []),
    ("持证社工人数比上一年增长了多少？", "全区持证人数达 434 人，同比增长 61.5%", []),
    # after a number comes its unit, not a term
    ("男子100米跑共有多少名运动员参赛？", "比赛共有来自64个国家及地区的84名运动员参与", []),
    # a determiner or scope word names no kind of thing
    ("这份上街信息是第几期？", "中共上街区委办公室", []),
    ("全区持证社工有多少人？", "社工持证人数达 434 人", []),
    # the same term, or its modifier written elsewhere in the text
    ("普通高中在校生有多少人？", "普通高中在校生1.73万人", []),
])
def test_contrasting_terms(question, text, pairs):
    assert contrasting_terms(question, text) == pairs
