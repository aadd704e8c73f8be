"""The chat app's API endpoint and rendering helpers.

The named endpoint `/ask` must return exactly `Answer.to_json()` — the object `bulletin-qa ask --json` prints —
so a script can use the running chat through `gradio_client`. The rendering helpers must show bulletin text and
questions as text, never as HTML.
"""

from __future__ import annotations

import html
import json
import math
import re
import os
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app
from qa import ui
from qa.assistant import Assistant
from qa.records import Answer, Citation, Figure, TableRow
from qa.retrieve import Filters
from qa.errors import FilterError
from qa.messages import filter_error_zh
from qa.settings import default_for

BULLETIN = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
REPORTS = [ROOT / "corpus" / "gov-work-reports" / f"gov-work-report-{year}.md" for year in range(2021, 2026)]
TREND_QUESTIONS = ["2021到2024年城镇新增就业分别是多少？", "2019到2021年城镇新增就业分别是多少？",
                   "2024年经济增长目标完成了吗？"]
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


@contextmanager
def serving(root: Path, *files: Path):
    """The app over a corpus of these files with the fake embedder, served on a free port: (url, assistant, dirs)."""
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    for file in files:
        shutil.copy(file, corpus)
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
def served(tmp_path_factory):
    """The app over a one-bulletin corpus (the seed issue)."""
    with serving(tmp_path_factory.mktemp("app-api"), BULLETIN) as running:
        yield running


@pytest.fixture(scope="module")
def trend_served(tmp_path_factory):
    """The app over the seed issue and five 政府工作报告 (2021–2025), for trend and target questions."""
    with serving(tmp_path_factory.mktemp("app-api-trend"), BULLETIN, *REPORTS) as running:
        yield running


@pytest.fixture(scope="module")
def client(served):
    """A gradio_client connected to the served app."""
    from gradio_client import Client

    return Client(served[0], verbose=False)


@pytest.fixture(scope="module")
def trend_client(trend_served):
    """A gradio_client connected to the app over the reports."""
    from gradio_client import Client

    return Client(trend_served[0], verbose=False)


def cli_json(question: str, corpus: Path, index: Path) -> dict:
    """What `bulletin-qa ask --json` prints for a question over this corpus and index."""
    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash", "PYTHONPATH": str(ROOT)}
    printed = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "--json", "--index", str(index), "--corpus", str(corpus),
         "--model", "fake-hash", question],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=60, check=True).stdout
    return json.loads(printed)


@pytest.mark.parametrize("question", QUESTIONS, ids=["figure", "list-member", "name", "abstention"])
def test_ask_endpoint_returns_the_answer_json(served, client, question):
    _, assistant, _, _ = served
    result = client.predict(question, api_name="/ask")
    assert result == assistant.ask(question).to_json()


def test_ask_endpoint_matches_the_cli(served, client):
    _, _, corpus, index = served
    question = QUESTIONS[0]
    from_cli = cli_json(question, corpus, index)
    assert client.predict(question, api_name="/ask") == from_cli
    assert from_cli["answer"].startswith("434 人 —— 全区持证人数达 434 人")
    assert from_cli["table"] == []  # not a table answer


@pytest.mark.parametrize("question", TREND_QUESTIONS, ids=["trend", "missing-year", "target-vs-outcome"])
def test_ask_endpoint_returns_the_table(trend_served, trend_client, question):
    _, assistant, _, _ = trend_served
    result = trend_client.predict(question, api_name="/ask")
    expected = assistant.ask(question).to_json()
    assert result["table"] == expected["table"] and result["table"]
    assert result == expected


def test_trend_answer_from_the_endpoint_matches_the_cli(trend_served, trend_client):
    _, _, corpus, index = trend_served
    from_cli = cli_json(TREND_QUESTIONS[0], corpus, index)
    assert trend_client.predict(TREND_QUESTIONS[0], api_name="/ask") == from_cli
    assert [(row["period"], row["text"]) for row in from_cli["table"]] == [
        ("2021", "1269万人"), ("2022", "1206万人"), ("2023", "1244万人"), ("2024", "1256万人")]
    assert all(row["citation"] is not None for row in from_cli["table"])


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
    rendered = ui.render_answer(answered)
    assert "<strong>23 个</strong>" in rendered
    assert_inert(rendered.replace("<strong>23 个</strong>", ""))
    abstained = Answer(HOSTILE, "公报中未找到能回答这个问题的内容。", True, related=(citation,))
    rendered = ui.render_answer(abstained)
    assert ui.RELATED_HEADING in rendered and "未找到" in rendered
    assert_inert(rendered)
    assert_inert(ui.partial_answer(answered, 3))


def table_row(period, text=None, value=None, unit=None, citation=None, status="ok", role="outcome",
              indicator="城镇新增就业", bound=""):
    """One row of `Answer.table` as the library makes it (a missing row has no text, value or citation)."""
    if status == "missing":
        return TableRow(period, role, "missing")
    return TableRow(period, role, status, text, value, unit, indicator, citation, bound)


def table_answer() -> Answer:
    """A trend answer with an ok, a missing and a conflict period, and markup in its bulletin text."""
    hostile = "就业|<b>人</b>**"
    citations = tuple(hostile_citation(f"城镇新增就业{n}万人。{HOSTILE}") for n in (1269, 1244, 1250))
    table = (table_row("2021", "1269万人", 12690000, "人", 0, indicator=hostile),
             table_row("2022", status="missing"),
             table_row("2023", "1244万人", 12440000, "人", 1, status="conflict"),
             table_row("2023", "1250万人", 12500000, "人", 2, status="conflict"))
    summary = "城镇新增就业从 1269万人（2021 年）到 1244万人（2023 年），总体下降（2022 年缺数据）。"
    text = ("2021 年：1269万人（就业|<b>人</b>**）\n2022 年：缺（公报中没有这一年的数据）\n"
            f"2023 年：；两期公报说法不同：1244万人（城镇新增就业） / 1250万人（城镇新增就业）\n{summary}")
    figures = tuple(Figure(row.text, row.value, row.unit, row.citation) for row in table if row.text)
    return Answer("2021到2023年城镇新增就业分别是多少？", text, False, citations, figures, table=table,
                  summary=summary)


def test_table_answer_renders_rows_gaps_and_conflicts_inert():
    answer = table_answer()
    rendered = ui.render_answer(answer)
    lines = rendered.splitlines()
    assert lines[0] == "| 年份 | 指标 | 数值 | 说明 | 出处 |"
    rows = [line for line in lines if line.startswith("| 20")]
    assert [row.split(" | ")[0] for row in rows] == ["| 2021", "| 2022", "| 2023"]  # a conflict is one row
    assert all(row.count("|") == 6 for row in rows)  # a | in bulletin text never splits a cell
    assert "<strong>1269万人</strong>" in rows[0] and "就业&#124;&#60;b&#62;人" in rows[0]
    assert ui.MISSING in rows[1] and "cite-chip" not in rows[1]
    conflict = rows[2]
    assert "<strong>1244万人</strong> / <strong>1250万人</strong>" in conflict and ui.CONFLICT in conflict
    assert conflict.count("cite-chip") == 2  # both values cited
    assert "总体下降（2022 年缺数据）" in rendered and "<strong>1244万人</strong>（2023 年）" in rendered
    assert rendered.count("> “城镇新增就业") == 3  # then every quote with its chip, as for any answer
    assert_inert(rendered)
    assert_inert(ui.partial_answer(answer, 3))


def test_table_cells_show_a_target_qualifier_as_written():
    citation = hostile_citation("国内生产总值增长5%左右。")
    table = (table_row("2024", "5%", 5, "%", 0, role="target", indicator="国内生产总值", bound="左右"),
             table_row("2024", "5%", 5, "%", 1, indicator="国内生产总值"))
    summary = "2024 年目标 5%左右，实际 5%：达到目标。"
    text = f"2024 年目标：5%左右（国内生产总值）\n2024 年：5%（国内生产总值）\n{summary}"
    answer = Answer("2024年经济增长目标完成了吗？", text, False, (citation, citation), table=table, summary=summary)
    rows = [line for line in ui.render_answer(answer).splitlines() if line.startswith("| 2024")]
    assert "<strong>5%</strong>左右 | 目标" in rows[0] and "<strong>5%</strong> | 实际" in rows[1]
    assert ui.table_summary(answer) == "2024 年目标 5%左右，实际 5%：达到目标。"


def test_trend_chart_draws_only_the_rows_shown():
    answer = table_answer()
    figure, note = ui.trend_chart(answer)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    main, other = list(lines.values())
    assert list(main.get_xdata()) == [0, 1, 2]
    ys = list(main.get_ydata())
    assert ys[0] == 1269 and ys[2] == 1244 and math.isnan(ys[1])  # 万人; the missing year is a gap (NaN)
    assert [y for y in other.get_ydata() if not math.isnan(y)] == [1250]  # the conflict's other figure, a point of its own
    assert other.get_linestyle() == "None"
    assert "万人" in note and "2022 年缺数据" in note and "两个点" in note
    assert_inert(note)


def test_trend_chart_keeps_the_majority_unit_and_bars_target_against_outcome():
    citation = hostile_citation("x")
    rows = (table_row("2023", "5%", 5, "%", 0, role="target"), table_row("2023", "5.2%", 5.2, "%", 0),
            table_row("2024", "5%", 5, "%", 0, role="target"), table_row("2024", "134.9万亿元", 1.349e14, "元", 0))
    answer = Answer("q", "2023 年目标：5%", False, (citation,), table=rows)
    points, unit, note = ui.chart_points(answer)
    assert unit == "%" and len(points) == 3 and "单位不同" in note and "“元”" in note
    figure, shown = ui.trend_chart(answer)
    bars = [patch.get_height() for patch in figure.axes[0].patches]
    assert sorted(bars) == [5, 5, 5.2]  # bars (target vs outcome); the 元 row is not drawn
    assert "柱状图" in shown and "单位不同" in shown
    assert ui.trend_chart(Answer("q", "a", False)) == (None, "")  # no table, no chart


def test_escape_keeps_the_text_but_not_its_syntax():
    escaped = ui.esc("- 项目\n1. 项目\n# 标题\n    缩进\n61.5% 2026-02-12 www.evil.cn a@b.cn")
    assert "61.5% 2026-02-12" in escaped  # ordinary figures and dates stay readable
    for raw in ("- ", "1. ", "# ", "\n    ", "www.evil", "a@b"):
        assert raw not in escaped


def test_sources_panel_marks_the_quote_inside_its_paragraphs(served):
    _, assistant, _, _ = served
    answer = assistant.ask(QUESTIONS[0])
    panel = ui.sources_html(assistant, answer)
    assert "<mark>积极动员 735 人报考社会工作者职业资格考试，全区持证人数达 434 人，同比增长 61.5%，" in panel
    assert "一是建强骨干队伍" in panel  # the rest of the paragraph is shown around the quote
    assert ui.esc(answer.citations[0].label) in panel


def test_sources_panel_handles_a_quote_spanning_paragraphs(served):
    _, assistant, _, _ = served
    bulletin = assistant.index.bulletins["shangjie-xinxi-2026-08.md"]
    first, second = bulletin.paragraphs[0], bulletin.paragraphs[1]
    html = ui.paragraph_html(bulletin, first.start, second.end)
    assert html.count("<mark>") == 2 and html.count("<p>") == 2


def test_upload_limits_are_checked_before_the_library():
    assert ui.check_upload([]) == "请先选择要添加的公报文件。"
    assert ui.check_upload([Path("a.md")] * app.MAX_UPLOAD_FILES) is None
    too_many = ui.check_upload([Path(f"<b>{i}</b>.md") for i in range(app.MAX_UPLOAD_FILES + 1)])
    assert "一次最多添加 20 个文件" in too_many and "<b>" not in too_many


def test_filters_from_widgets():
    assert ui.make_filters("", " ", None, "", "") == Filters()
    assert ui.make_filters("上街信息", "8", "2026-01-01", "2026-12-31", "区委社工部") == Filters(
        "上街信息", "8", "2026-01-01", "2026-12-31", "区委社工部")
    for bad in ("2026.1.1", "2026-13-45", "2026-02-30"):  # not the pattern; not a month; not a day of the month
        with pytest.raises(FilterError) as caught:
            ui.make_filters("", "", bad, "", "")
        assert filter_error_zh(caught.value) == f"起始日期“{bad}”不是有效日期，请写成 YYYY-MM-DD，例如 2026-02-12。"
    with pytest.raises(FilterError) as caught:
        ui.make_filters("", "", "2026-03-01", "2026-02-01", "")
    assert "早于起始日期" in filter_error_zh(caught.value)
    place = ui.make_filters("", "", "", "", "", "哈密")
    assert place == Filters(place="哈密")
    from qa.chunk import Chunk

    def chunk(place):
        return Chunk("id", "f", "s", None, None, None, None, None, None, None, 0, 0, 1, None, "body", "x", "x", place)
    assert place.admits(chunk("哈密市")) and not place.admits(chunk("西安市")) and not place.admits(chunk(None))


def test_identity_warnings_reach_the_upload_status_in_chinese():
    message = ui.identity_warning("jiaozuo.pdf: could not infer date, publisher from the title block")
    assert message == "「jiaozuo.pdf」已添加，但未能从标题中识别出日期、发布单位；引用时这些信息将空缺。"


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


def test_status_is_one_summary_line_and_times_have_one_format(served):
    _, assistant, _, _ = served
    status = assistant.status()
    assert status["years"] == ("2026", "2026")
    summary = html.unescape(ui.status_html(assistant)).split("<summary>")[1].split("</summary>")[0]
    assert re.fullmatch(r"已收录 《上街信息》 · \d+ 期 · 2026 年 · [\d,]+ 段 · 模型 fake-hash · 混合检索 · "
                        r"最近更新 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", summary), summary
    assert "《上街信息》第 8" in ui.status_html(assistant)  # the issues, folded under the summary
    # The library keeps ISO 8601 in UTC; the chat shows local time in one format whatever the stamp's zone.
    assert datetime.fromisoformat(status["last_update"]).utcoffset() == timedelta(0)
    shown = {ui.show_time("2026-11-30T11:05:45+00:00"), ui.show_time("2026-11-30T19:05:45+08:00")}
    assert len(shown) == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", shown.pop())
    assert ui.show_time(None) == "—"


def test_filter_chips_name_each_filter_set():
    assert ui.filter_chips(Filters()) == "" and ui.filter_chips(None) == ""
    chips = ui.filter_chips(Filters(issue="7", date_from="2026-02-01", place="<b>哈密</b>"))
    assert re.findall(r'<span class="filter-chip">(.*?)</span>', chips) == [
        "期号：7", "起始日期：2026-02-01", "地区：" + ui.esc("<b>哈密</b>")]  # typed text shown, never run
    answer = Answer("q", "公报中未找到能回答这个问题的内容。", True)
    assert ui.render_answer(answer, Filters(issue="7")).startswith(ui.filter_chips(Filters(issue="7")))
