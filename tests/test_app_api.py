"""The chat app's API endpoint and rendering helpers.

The named endpoint `/ask` must return exactly `Answer.to_json()` — the object `bulletin-qa ask --json` prints —
so a script can use the running chat through `gradio_client`. The rendering helpers must show bulletin text and
questions as text, never as HTML.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app
from qa.answer import Answer, Assistant, Citation, Figure, Filters
from qa.settings import default_for

BULLETIN = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
QUESTIONS = [
    "全区社会工作者持证人数是多少？",  # a figure
    "社会组织党组织覆盖率是多少？",  # one member of a list
    "哪个合唱团代表我省参加了全国合唱展演？",  # a name
    "全区建成多少个充电桩？",  # an abstention with related passages
]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app over a one-bulletin corpus with the fake embedder, served on a free port: (url, assistant, dirs)."""
    root = tmp_path_factory.mktemp("app-api")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(BULLETIN, corpus)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BULLETIN_QA_MODEL", "fake-hash")
        assistant = Assistant.open(index, model=default_for("model"), corpus_dir=corpus, progress=False)
    demo = app.build_app(assistant)
    try:
        url = app.launch_app(demo, port=free_port(), block=False)
        yield url, assistant, corpus, index
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(served):
    """A gradio_client connected to the served app."""
    from gradio_client import Client

    return Client(served[0], verbose=False)


@pytest.mark.parametrize("question", QUESTIONS, ids=["figure", "list-member", "name", "abstention"])
def test_ask_endpoint_returns_the_answer_json(served, client, question):
    _, assistant, _, _ = served
    result = client.predict(question, api_name="/ask")
    assert result == assistant.ask(question).to_json()


def test_ask_endpoint_matches_the_cli(served, client):
    _, _, corpus, index = served
    question = QUESTIONS[0]
    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash", "PYTHONPATH": str(ROOT)}
    printed = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "--json", "--index", str(index), "--corpus", str(corpus),
         "--model", "fake-hash", question],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=60, check=True).stdout
    from_cli = json.loads(printed)
    assert client.predict(question, api_name="/ask") == from_cli
    assert from_cli["answer"].startswith("全区持证人数达 434 人")


def test_ask_endpoint_uses_history_for_follow_ups(served, client):
    _, assistant, _, _ = served
    history = ["全区社会工作者持证人数是多少？"]
    result = client.predict("那新市民驿站呢？", history, api_name="/ask")
    assert result == assistant.ask("那新市民驿站呢？", history=history).to_json()
    assert result["effective_question"] and "42" in result["answer"]


def test_ask_endpoint_applies_filters(served, client):
    _, assistant, _, _ = served
    question = QUESTIONS[0]
    result = client.predict(question, None, "上街信息", "9", api_name="/ask")
    assert result == assistant.ask(question, filters=Filters(series="上街信息", issue="9")).to_json()
    assert result["abstained"] and not result["citations"]


def test_ask_endpoint_refuses_a_malformed_date(client):
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        client.predict(QUESTIONS[0], None, "", "", "2026/02/01", api_name="/ask")


def test_only_the_ask_endpoint_is_public(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]


# ----- rendering: text stays text -----
HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> **粗** [链接](http://x.cn) $$x$$ ${a}'


def hostile_citation(quote: str = HOSTILE) -> Citation:
    """A citation whose every text field carries markup."""
    return Citation("c1", "<b>f</b>.md", "<i>系列</i>", "9", "2026-03-12", "<t>", "一、<s>节</s>", 0, quote, 0,
                    len(quote), "—《<u>系列</u>》")


def assert_inert(rendered: str) -> None:
    """No tag, markdown marker or template marker from the hostile text survives unescaped."""
    for raw in ("<script", "<img", "<b>", "<i>", "<s>", "<u>", "<t>", "**", "[链接]", "](", "$$", "${", "onerror=\""):
        assert raw not in rendered, raw


def test_answers_and_abstentions_render_hostile_text_inert():
    citation = hostile_citation()
    answered = Answer(HOSTILE, "数量为 23 个" + HOSTILE, False, (citation,), (Figure("23 个", 23, "个", 0),))
    rendered = app.render_answer(answered)
    assert "<strong>23 个</strong>" in rendered
    assert_inert(rendered.replace("<strong>23 个</strong>", ""))
    abstained = Answer(HOSTILE, "公报中未找到能回答这个问题的内容。", True, related=(citation,))
    rendered = app.render_answer(abstained)
    assert app.RELATED_HEADING in rendered and "未找到" in rendered
    assert_inert(rendered)
    assert_inert(app.partial_answer(answered, 3))


def test_escape_keeps_the_text_but_not_its_syntax():
    escaped = app.esc("- 项目\n1. 项目\n# 标题\n    缩进\n61.5% 2026-02-12 www.evil.cn a@b.cn")
    assert "61.5% 2026-02-12" in escaped  # ordinary figures and dates stay readable
    for raw in ("- ", "1. ", "# ", "\n    ", "www.evil", "a@b"):
        assert raw not in escaped


def test_sources_panel_marks_the_quote_inside_its_paragraphs(served):
    _, assistant, _, _ = served
    answer = assistant.ask(QUESTIONS[0])
    panel = app.sources_html(assistant, answer)
    assert "<mark>积极动员 735 人报考社会工作者职业资格考试，全区持证人数达 434 人，同比增长 61.5%，" in panel
    assert "一是建强骨干队伍" in panel  # the rest of the paragraph is shown around the quote
    assert app.esc(answer.citations[0].label) in panel


def test_sources_panel_handles_a_quote_spanning_paragraphs(served):
    _, assistant, _, _ = served
    bulletin = assistant.index.bulletins["shangjie-xinxi-2026-08.md"]
    first, second = bulletin.paragraphs[0], bulletin.paragraphs[1]
    html = app.paragraph_html(bulletin, first.start, second.end)
    assert html.count("<mark>") == 2 and html.count("<p>") == 2


def test_upload_limits_are_checked_before_the_library():
    assert app.check_upload([]) == "请先选择要添加的公报文件。"
    assert app.check_upload([Path("a.md")] * app.MAX_UPLOAD_FILES) is None
    too_many = app.check_upload([Path(f"<b>{i}</b>.md") for i in range(app.MAX_UPLOAD_FILES + 1)])
    assert "一次最多添加 20 个文件" in too_many and "<b>" not in too_many


def test_filters_from_widgets():
    assert app.make_filters("", " ", None, "", "") == Filters()
    assert app.make_filters("上街信息", "8", "2026-01-01", "2026-12-31", "区委社工部") == Filters(
        "上街信息", "8", "2026-01-01", "2026-12-31", "区委社工部")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        app.make_filters("", "", "2026.1.1", "", "")


def test_auth_needs_both_username_and_password(monkeypatch):
    monkeypatch.delenv("BULLETIN_QA_PASSWORD", raising=False)
    monkeypatch.setenv("BULLETIN_QA_USERNAME", "office")
    assert app.auth_from_env() is None
    monkeypatch.setenv("BULLETIN_QA_PASSWORD", "secret")
    assert app.auth_from_env() == ("office", "secret")


def test_help_shows_an_example():
    shown = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True,
                           cwd=ROOT, timeout=60, check=True).stdout
    assert "example:" in shown and "python app.py --port 7860" in shown and "BULLETIN_QA_MODEL" in shown
