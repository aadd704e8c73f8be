"""Bulletin QA chat: a Gradio UI over the `qa` library — cited answers, sources, filters, adding bulletins,
and for a trend or target-vs-outcome question a cited table with a small chart of the rows it shows.

The UI only wires widgets to `qa.assistant.Assistant` (ask, add_files, status); it holds no retrieval, parsing
or answering logic. Everything taken from a bulletin or typed by a user is escaped before it reaches a
Markdown or HTML component, so text such as `<script>` is shown, never run.
"""

import argparse
import math
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from qa.assistant import Assistant
from qa.records import shorten_quote, Answer, Citation
from qa.retrieve import Filters
from qa.chunk import format_issue, shorten
from qa.embed import BACKENDS
from qa.errors import BackendMismatchError, BulletinQAError, FilterError
from qa.messages import FIELD_NAMES, backend_mismatch_zh, build_progress_zh, filter_error_zh, refusal_zh
from qa.read import MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from qa.settings import default_for, given, help_for, is_default_path, parse_day, resolve_path, setting
from qa.upload import MAX_UPLOAD_FILES

if TYPE_CHECKING:
    import gradio as gr

    from qa.build import BackgroundBuild

EPILOG = """\
example:
  python app.py --port 7860 --corpus corpus --index index
  BULLETIN_QA_USERNAME=office BULLETIN_QA_PASSWORD=secret python app.py --host 0.0.0.0

Every option has an environment twin, e.g. BULLETIN_QA_PORT=8080. Login is required when both
BULLETIN_QA_USERNAME and BULLETIN_QA_PASSWORD are set.
"""

EXAMPLES = [
    "全区社会工作者持证人数是多少？",
    "社会组织党组织覆盖率是多少？",
    "哪个合唱团代表我省参加了全国合唱展演？",
    "全区建成多少个充电桩？",
    "2021到2024年城镇新增就业分别是多少？",
]
RELATED_HEADING = "相关内容（不是答案）"
# Gradio's built-in interface words the chat shows, in Chinese (keys of Gradio's frontend dictionary).
GRADIO_TEXT = {
    "upload_text.drop_file": "将公报文件拖放到此处", "upload_text.click_to_upload": "点击选择文件", "common.or": "或",
    "file.uploading": "正在上传…", "common.clear": "清除", "common.remove": "移除", "common.download": "下载",
    "common.error": "出错了", "common.loading": "加载中", "common.built_with_gradio": "使用 Gradio 构建",
    "common.settings": "设置", "errors.use_via_api": "通过 API 使用", "errors.use_via_api_or_mcp": "通过 API 或 MCP 使用",
    "chatbot.clear": "清空对话", "plot.plot": "图表", "dropdown.dropdown": "下拉菜单",
}
# The locales Gradio 6's frontend ships a dictionary for (its assets/<locale>-*.js); each gets GRADIO_TEXT.
GRADIO_LOCALES = ("ar", "ca", "ckb", "de", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "id", "ja", "ko",
                  "lt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sv", "ta", "th", "tr", "uk", "ur", "uz", "zh-CN",
                  "zh-TW")
MISSING = "缺（公报中没有这一年的数据）"
CONFLICT = "两期公报说法不同"
ROLE_WORDS = {"target": "目标", "outcome": "实际"}
PLAIN_UNITS = ("%", "个百分点", "‰")  # units charted as written, never scaled by 万/亿
SCALES = ((1e12, "万亿"), (1e8, "亿"), (1e4, "万"))
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Noto Serif CJK SC")
# The filter widgets' labels, in the order the chips over an answer show the filters that are set.
FILTER_LABELS = {"series": "系列", "issue": "期号", "date_from": "起始日期", "date_to": "截止日期", "department": "部门",
                 "place": "地区"}
SERIES_SHOWN = 3  # the status line names this many series, then counts the rest
TIME_FORMAT = "%Y-%m-%d %H:%M"  # every time the chat shows, local
STREAM_STEPS = 6  # the answer text appears in this many steps before the quotes and citations
STREAM_PAUSE = 0.03  # seconds between steps
WORKING = "正在查找… ▍"  # shown while the answer is being looked up; ▍ marks a message still streaming

# Characters that HTML or Markdown (incl. GFM tables and autolinks, LaTeX, templates) would interpret anywhere in a
# line; each becomes a numeric character reference, which Markdown and HTML both render as the literal character.
_ALWAYS = {ord(c): f"&#{ord(c)};" for c in "&<>\"'`\\*_[]{}()#!|~$:@"}
# Characters that only matter at the start of a line (lists, headings, rules, code indents) or inside a domain.
_LINE_START = re.compile(r"^([ \t]*)(?:([-+=>])|(\d+)\.(?=\s|$))", re.MULTILINE)
_LEADING_SPACE = re.compile(r"^[ \t]+", re.MULTILINE)
_DOMAIN_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")

CSS = """
.cite-chip { display: inline-block; font-size: 0.85em; padding: 1px 8px; border-radius: 999px;
  background: var(--color-accent-soft); border: 1px solid var(--border-color-accent); }
.abstain { color: var(--body-text-color); }
.abstain-mark { font-weight: 600; color: #9a3412; }
.dark .abstain-mark { color: #fdba74; }
.filter-chips { display: block; margin-bottom: 6px; font-size: 0.85em; }
.filter-chip { display: inline-block; padding: 1px 8px; margin-right: 4px; border-radius: 999px;
  background: #e0f2fe; color: #0c4a6e; border: 1px solid #7dd3fc; }
#status details summary { cursor: pointer; }
#sources mark { background: #fde68a; color: inherit; padding: 0 1px; }
#sources .source { margin-bottom: 0.9em; line-height: 1.7; }
#sources .label { font-size: 0.85em; color: var(--body-text-color-subdued); }
#sources .not-answer { color: #b45309; font-weight: 600; }
#upload-message .error, #filter-message .error { color: #b91c1c; }
#upload-message .warning { color: #92400e; }
#chat table { font-size: 0.92em; }
#chat table :is(th, td):is(:nth-child(1), :nth-child(3), :nth-child(4)) { white-space: nowrap; }
#chat .missing { color: #b45309; font-weight: 600; }
#chat .conflict { color: #b91c1c; font-weight: 600; }
#trend-note { font-size: 0.85em; color: var(--body-text-color-subdued); }
"""


# ----- escaping -----
def esc(text: object) -> str:
    """Text made inert for both Markdown and HTML components: shown literally, never interpreted."""
    text = str(text).translate(_ALWAYS)
    text = _LINE_START.sub(lambda m: m.group(1) + (f"&#{ord(m.group(2))};" if m.group(2)
                                                   else m.group(3) + "&#46;"), text)
    text = _LEADING_SPACE.sub(lambda m: "&#32;" * len(m.group()), text)
    return _DOMAIN_DOT.sub("&#46;", text)


def esc_lines(text: str) -> str:
    """Escaped text with line breaks kept as <br>."""
    return "<br>".join(esc(line) for line in text.splitlines() or [""])


# ----- rendering one answer -----
def chip(citation: Citation, brief: bool = False) -> str:
    """A short citation chip: series · 第N期 · date · section (brief, for a table cell: series · 第N期)."""
    parts = [citation.series, format_issue(citation.issue), citation.date,
             shorten(citation.section.rstrip("。"), 14) if citation.section else None]
    if brief and citation.issue:
        parts = parts[:2]
    return f'<span class="cite-chip">{esc(" · ".join(p for p in parts if p))}</span>'


def emphasise(answer: Answer) -> str:
    """The answer text, escaped, with each figure it shows in bold."""
    return bold_figures(answer.answer, answer.figures)


def bold_figures(text: str, figures) -> str:
    """Text, escaped, with each of the figures (`Figure`s) found in it in bold."""
    spans = []
    for figure in figures:
        at = text.find(figure.text)
        while at != -1 and any(s < at + len(figure.text) and at < e for s, e in spans):
            at = text.find(figure.text, at + 1)
        if at != -1:
            spans.append((at, at + len(figure.text)))
    pieces, position = [], 0
    for start, end in sorted(spans):
        pieces.append(esc(text[position:start]) + f"<strong>{esc(text[start:end])}</strong>")
        position = end
    return "".join(pieces) + esc(text[position:])


def filter_chips(filters: Filters | None) -> str:
    """The filters an answer was given under, as chips ('' when none is set)."""
    if filters is None or filters.is_empty():
        return ""
    shown = [(label, getattr(filters, name)) for name, label in FILTER_LABELS.items() if getattr(filters, name)]
    chips = "".join(f'<span class="filter-chip">{esc(label)}：{esc(value)}</span>' for label, value in shown)
    return f'<span class="filter-chips">筛选条件 {chips}</span>'


def render_answer(answer: Answer, filters: Filters | None = None) -> str:
    """The chat message for a finished answer: the filters it was given under (as chips), the answer, each quote
    with its chip; or an abstention."""
    chips = filter_chips(filters)
    if answer.abstained:
        mark = '<span class="abstain-mark">未找到答案</span>'
        lines = ([chips] if chips else []) + [f'{mark} <span class="abstain">{esc(answer.answer)}</span>']
        if answer.related:
            lines += ["", f"<strong>{esc(RELATED_HEADING)}</strong>", ""]
            lines += [f"- “{esc(shorten_quote(c.quote))}” {chip(c)}" for c in answer.related]
        return "\n".join(lines)
    lines = ([chips] if chips else []) + (table_lines(answer) if answer.table else [emphasise(answer)])
    if answer.effective_question:
        lines.append(f'<span class="abstain">（理解为：{esc(answer.effective_question)}）</span>')
    for citation in answer.citations:
        quote = esc(citation.quote).replace("\n", "\n> ")
        lines += ["", f"> “{quote}”", ">", f"> {chip(citation)}"]
    return "\n".join(lines)


def partial_answer(answer: Answer, step: int) -> str:
    """The first step/STREAM_STEPS of the answer text, escaped (what the stream shows so far)."""
    size = max(1, len(answer.answer) * step // STREAM_STEPS)
    return f"{esc_lines(answer.answer[:size])} ▍"


# ----- a table answer: one row per period, then the summary; and its chart -----
def table_summary(answer: Answer) -> str | None:
    """The one-line summary of a table answer, as the answer computed it."""
    return answer.summary or None


def table_lines(answer: Answer) -> list[str]:
    """A table answer as a Markdown table (年份, 指标, 数值, 说明, 出处), every cell escaped; then its summary.

    A missing period is marked 缺; a conflict period is one row with both values side by side, both cited.
    """
    both_roles = len({row.role for row in answer.table}) > 1
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in answer.table:
        groups.setdefault((row.period, row.role), []).append(row)
    lines = ["| 年份 | 指标 | 数值 | 说明 | 出处 |", "| --- | --- | --- | --- | --- |"]
    for (period, role), rows in groups.items():
        role_word = ROLE_WORDS.get(role, role)
        shown = [row for row in rows if row.status != "missing"]
        if not shown:
            note = f'<span class="missing">{esc(MISSING)}</span>'
            cells = ["—", '<span class="missing">缺</span>', f"{esc(role_word)}：{note}" if both_roles else note, "—"]
        else:
            indicators = list(dict.fromkeys(row.indicator or "—" for row in shown))
            values = [f"<strong>{esc(row.text)}</strong>{esc(row.bound)}" for row in shown]
            cited = [chip(answer.citations[row.citation], brief=True) for row in shown
                     if row.citation is not None and 0 <= row.citation < len(answer.citations)]
            if any(row.status == "conflict" for row in shown):
                note = f'<span class="conflict">{esc(CONFLICT)}</span>'
                note = f"{esc(role_word)}：{note}" if both_roles else note
            else:
                note = esc(role_word)
            cells = [" / ".join(esc(i) for i in indicators), " / ".join(values), note, " ".join(cited) or "—"]
        lines.append("| " + " | ".join([esc(period)] + cells) + " |")
    summary = table_summary(answer)
    if summary:
        lines += ["", bold_figures(summary, answer.figures)]
    return lines


def chart_font() -> str | None:
    """A font with Chinese glyphs for the chart's labels, or None (then the chart's labels are in English)."""
    from matplotlib import font_manager

    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def chart_points(answer: Answer) -> tuple[list[dict], str | None, str]:
    """The numeric rows a chart of a table answer draws (all of one unit, the majority), that unit, and a note.

    Only rows the answer shows are drawn: a missing period has no point and nothing is interpolated.
    """
    numeric = [row for row in answer.table if row.status != "missing" and isinstance(row.value, (int, float))
               and math.isfinite(row.value)]
    if not numeric:
        return [], None, ""
    units = Counter(row.unit for row in numeric)
    unit = max(units, key=lambda u: (units[u], -next(i for i, r in enumerate(numeric) if r.unit == u)))
    kept = [row for row in numeric if row.unit == unit]
    note = ""
    if len(kept) < len(numeric):
        others = "、".join(f"“{u or '无单位'}”" for u in units if u != unit)
        note = f"各行单位不同：图中只画单位为“{unit or '无单位'}”的 {len(kept)} 行，单位为{others}的行未画。"
    return kept, unit, note


def chart_scale(values: list[float], unit: str | None) -> tuple[float, str]:
    """The divisor and word (万, 亿, 万亿) that keep the chart's numbers short."""
    if unit in PLAIN_UNITS or not values:
        return 1.0, ""
    smallest = min(abs(v) for v in values)
    return next(((size, word) for size, word in SCALES if smallest >= size), (1.0, ""))


def trend_chart(answer: Answer):
    """A small matplotlib figure of a table answer (or None): a line over the periods, or bars for two periods
    or target vs outcome. A conflict period shows both figures; a missing period is a gap.

    Returns:
        (figure, note): the figure and an escaped HTML note (what is drawn, in what unit).
    """
    points, unit, unit_note = chart_points(answer)
    if not points:
        return None, ""
    from matplotlib.figure import Figure

    periods = list(dict.fromkeys(row.period for row in answer.table))
    roles = {row.role for row in answer.table}
    bars = len(periods) <= 2 or roles == {"target", "outcome"}
    size, word = chart_scale([row.value for row in points], unit)
    font = chart_font()
    words = ({"target": "目标", "outcome": "实际", "other": "另一期公报的说法"} if font
             else {"target": "target", "outcome": "outcome", "other": "other issue"})
    series: dict[str, dict[str, float]] = {}  # series → period → value
    for row in points:
        name = "other" if row.period in series.get(row.role, {}) else row.role
        series.setdefault(name, {})[row.period] = row.value / size
    order = [name for name in ("target", "outcome", "other") if name in series]
    colours = {"target": "#94a3b8", "outcome": "#2563eb", "other": "#dc2626"}

    figure = Figure(figsize=(4.8, 2.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    positions = range(len(periods))
    if bars:
        width = 0.8 / len(order)
        for n, name in enumerate(order):
            xs = [i - 0.4 + width * (n + 0.5) for i, p in enumerate(periods) if p in series[name]]
            ys = [series[name][p] for p in periods if p in series[name]]
            drawn = axes.bar(xs, ys, width * 0.9, color=colours[name], label=words[name])
            axes.bar_label(drawn, fmt="%g", fontsize=8, padding=2)
        values = [v for drawn in series.values() for v in drawn.values()]
        low, high = min(0.0, min(values) * 1.35), max(0.0, max(values) * 1.35)
        axes.set_ylim(low, high if high > low else low + 1)
    else:
        for name in order:
            ys = [series[name].get(p, math.nan) for p in periods]  # NaN: a gap, never a line across
            axes.plot(positions, ys, marker="o" if name != "other" else "X", markersize=5 if name != "other" else 7,
                      linestyle="-" if name != "other" else "none", color=colours[name], label=words[name])
        axes.margins(y=0.25)
    missing = [p for p in periods if not any(p in drawn for drawn in series.values())]
    for i, period in enumerate(periods):
        if period in missing:  # the gap is labelled, not filled
            axes.annotate("缺" if font else "n/a", (i, 0), xycoords=("data", "axes fraction"), xytext=(0, 6),
                          textcoords="offset points", ha="center", fontsize=8, color="#b45309",
                          fontfamily=font or "sans-serif")
    extra = 0.5 if len(periods) == 1 else 0.0
    axes.set_xlim(-0.5 - extra, len(periods) - 0.5 + extra)
    axes.set_xticks(list(positions), list(periods))
    axes.tick_params(labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    if len(order) > 1:
        # Above the axes, in one row: inside them it would cover a bar or a point.
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=len(order), borderaxespad=0.2, frameon=False,
                    prop={"family": font, "size": 7} if font else {"size": 7})
    if font:
        axes.set_ylabel(f"{word}{unit or ''}", fontsize=8, fontfamily=font)
        for label in axes.get_xticklabels() + axes.get_yticklabels():
            label.set_fontfamily(font)
    parts = [f"{indicator_of(answer)}（单位：{word}{unit or ''}）" if (word or unit) else indicator_of(answer),
             "柱状图" if bars else "折线图"]
    if missing:
        parts.append(f"{'、'.join(missing)} 年缺数据，图中留空")
    if "other" in series:
        parts.append("两期公报说法不同的年份画出两个点")
    note = "；".join(part for part in parts if part) + "。" + unit_note
    return figure, f"<p>{esc(note)}</p>"


def indicator_of(answer: Answer) -> str:
    """The indicator a table answer is about (the most common one among its rows)."""
    found = Counter(row.indicator for row in answer.table if row.indicator)
    return found.most_common(1)[0][0] if found else ""


# ----- the sources panel -----
def paragraph_html(bulletin, start: int, end: int) -> str:
    """The paragraph(s) a quote sits in, escaped, with the quoted part highlighted."""
    text = bulletin.clean_text
    blocks = []
    for paragraph in bulletin.paragraphs:
        if paragraph.end <= start or paragraph.start >= end:
            continue
        lo, hi = max(start, paragraph.start), min(end, paragraph.end)
        blocks.append(f"<p>{esc_lines(text[paragraph.start:lo])}<mark>{esc_lines(text[lo:hi])}</mark>"
                      f"{esc_lines(text[hi:paragraph.end])}</p>")
    return "".join(blocks) or f"<p><mark>{esc_lines(text[start:end])}</mark></p>"


def source_html(assistant: Assistant, citation: Citation, row: str = "") -> str:
    """One citation in the sources panel: where it sits (and which table row it backs), then its full
    paragraph with the quote marked."""
    bulletin = assistant.index.bulletins.get(citation.file)
    body = (paragraph_html(bulletin, citation.start, citation.end) if bulletin is not None
            else f"<p><mark>{esc_lines(citation.quote)}</mark></p>")
    row = f"<strong>{esc(row)}</strong> " if row else ""
    return (f'<div class="source"><div class="label">{row}{esc(citation.label)}'
            f'（文件：{esc(citation.file)}）</div>{body}</div>')


def row_labels(answer: Answer) -> dict[int, str]:
    """For a table answer: citation index → the row it backs, e.g. '2021 年 · 实际：1269万人'."""
    labels: dict[int, str] = {}
    for row in answer.table:
        if row.citation is not None:
            labels[row.citation] = f"{row.period} 年 · {ROLE_WORDS.get(row.role, row.role)}：{row.text}"
    return labels


def sources_html(assistant: Assistant, answer: Answer) -> str:
    """The sources panel for one answer (related passages are labelled as not being an answer)."""
    head = f"<p><strong>问题：</strong>{esc(answer.question)}</p>"
    if answer.citations:
        rows = row_labels(answer)
        return head + "".join(source_html(assistant, c, rows.get(i, "")) for i, c in enumerate(answer.citations))
    if answer.related:
        note = f'<p class="not-answer">{esc(RELATED_HEADING)}</p>'
        return head + note + "".join(source_html(assistant, c) for c in answer.related)
    return head + "<p>（没有出处）</p>"


STATUS_LOADING = "正在读取索引状态…"  # until the page's load event fills in the live status
STATUS_POLL_SECONDS = 2.0  # how often the page refreshes the status line while the index is built
WAIT_FOR_BUILD = "语义索引正在建立中，文件将在建立完成后添加，请稍候（可以继续提问）…"
UPLOAD_FAILED = "索引未能建立，暂时无法添加公报；请查看服务器日志，或重新启动后再试。"
EMPTY_SOURCES = "<p>提问后，这里显示答案出处的完整段落，引用的句子会高亮。</p>"


# ----- status and uploads -----
def retrieval_words(status: dict, build: "BackgroundBuild | None" = None) -> str:
    """How questions are answered now (`status` is `Assistant.status()`): 混合检索 (BM25 and vectors), or 关键词检索
    while the index is built, with the build's progress (N / M 段, time left) or its failure."""
    if status["retrieval"] == "hybrid":
        return "混合检索"
    if build is not None and build.error is not None:
        return "关键词检索（语义索引建立失败，详见服务器日志）"
    if build is not None and build.running:
        return f"关键词检索（语义索引建立中：{build_progress_zh(build.progress)}）"
    return "关键词检索"


def status_html(assistant: Assistant, build: "BackgroundBuild | None" = None) -> str:
    """One short status line (series · issues · years · paragraphs · model · retrieval · last update); the issues
    of each series unfold under it. While the index is built it says so, with its progress."""
    status = assistant.status()
    names = [f"《{name}》" for name in sorted(status["issues"])]
    series = "".join(names) if len(names) <= SERIES_SHOWN else "".join(names[:SERIES_SHOWN]) + f"等 {len(names)} 个系列"
    issues = sum(len(found) for found in status["issues"].values())
    years = status.get("years")
    span = (f"{years[0]} 年" if years[0] == years[1] else f"{years[0]}–{years[1]} 年") if years else None
    parts = [f"已收录 {series or '（暂无公报）'}", f"{issues} 期", span, f"{status['chunks']:,} 段",
             f"模型 {status['model']}", retrieval_words(status, build), f"最近更新 {show_time(status['last_update'])}"]
    line = esc(" · ".join(part for part in parts if part))
    every = "；".join(f"《{name}》第 {'、'.join(found)} 期" for name, found in sorted(status["issues"].items()))
    if not every:
        return f"<p>{line}</p>"
    return f"<details><summary>{line}</summary><p>{esc(every)}</p></details>"


def show_time(stamp: str | None) -> str:
    """An ISO 8601 time from the library as the chat shows every time: local 'YYYY-MM-DD HH:MM'."""
    if not stamp:
        return "—"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment.astimezone().strftime(TIME_FORMAT)


def series_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """Dropdown choices: every series in the index, plus 'all'."""
    return [("全部", "")] + [(name, name) for name in sorted(assistant.status()["issues"])]


def describe_file(assistant: Assistant, name: str) -> str:
    """'「name」：《series》第 N 期（date）' for a file in the index."""
    bulletin = assistant.index.bulletins.get(name)
    if bulletin is None:
        return f"「{esc(name)}」"
    issue = format_issue(bulletin.issue) + (f"（{bulletin.date}）" if bulletin.date else "")
    return f"「{esc(name)}」：{esc(f'《{bulletin.series}》{issue}')}"


def upload_message(assistant: Assistant, report) -> str:
    """What an upload did, one sentence per file; refusals name the file and the reason."""
    lines = [f"已添加{describe_file(assistant, name)}。" for name in report.files_added]
    lines += [f"已更新{describe_file(assistant, name)}。" for name in report.files_changed]
    lines += [f'<span class="error">未添加「{esc(name)}」：{esc(refusal_zh(report.refusals.get(name)))}</span>'
              for name in report.files_refused]
    lines += [f'<span class="warning">{esc(identity_warning(warning))}</span>' for warning in report.warnings
              if warning.split(": ", 1)[0] in (*report.files_added, *report.files_changed)]
    if report.files_added or report.files_changed:
        lines.append(esc(f"索引已更新：新嵌入 {report.chunks_embedded} 段，共 {report.chunks_total} 段。"))
    else:
        lines.append("索引保持不变。")
    return "<br>".join(lines)


def identity_warning(warning: str) -> str:
    """'x.pdf: could not infer date, publisher from the title block' → the same in Chinese, for the status."""
    name, _, rest = warning.partition(": ")
    fields = rest.removeprefix("could not infer ").split(" from ")[0].split(", ")
    where = "标题" if "title block" in rest else "报头"
    named = "、".join(FIELD_NAMES.get(field, field) for field in fields)
    return f"「{name}」已添加，但未能从{where}中识别出{named}；引用时这些信息将空缺。"


def discard_uploads(paths: list[Path]) -> None:
    """Remove Gradio's temporary copies of uploaded files once handled: an accepted file now lives in the
    corpus folder, a refused one nowhere. Only files inside Gradio's upload folder are touched."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    for path in paths:
        resolved = path.resolve()
        if resolved.is_relative_to(folder) and resolved.is_file():
            resolved.unlink(missing_ok=True)
            try:
                resolved.parent.rmdir()  # Gradio keeps each upload in a folder of its own
            except OSError:
                pass


def check_upload(paths: list[Path]) -> str | None:
    """The message refusing a whole upload before it reaches the library (nothing chosen, too many files)."""
    if not paths:
        return "请先选择要添加的公报文件。"
    if len(paths) > MAX_UPLOAD_FILES:
        reason = f"一次最多添加 {MAX_UPLOAD_FILES} 个文件（这次选了 {len(paths)} 个），请分批添加。"
        refused = [f'<span class="error">未添加「{esc(p.name)}」：{esc(reason)}</span>' for p in paths]
        return "<br>".join(refused + ["索引保持不变。"])
    return None


# ----- filters -----
def make_filters(series: str | None, issue: str | None, date_from: str | None, date_to: str | None,
                 department: str | None, place: str | None = None) -> Filters:
    """Filters from the widgets' values (blank means no filter).

    Raises:
        FilterError: a date that is not YYYY-MM-DD, or a range that ends before it starts
            (`qa.messages.filter_error_zh` says it in Chinese).
    """
    clean = [(v or "").strip() or None for v in (series, issue, date_from, date_to, department, place)]
    return Filters(*clean)


# ----- the app -----
def build_app(assistant: Assistant, k: int = 5, build: "BackgroundBuild | None" = None) -> "gr.Blocks":
    """The chat as a Gradio Blocks app over one Assistant (launch it with `launch_app`); with the background
    `build` that gives it its index, the status line shows the build's progress until it is done."""
    gr = import_gradio()

    def ask_api(question: str, history: list[str] | None = None, series: str = "", issue: str = "",
                date_from: str = "", date_to: str = "", department: str = "", place: str = "") -> dict:
        """Answer a question; returns exactly the JSON object `bulletin-qa ask --json` prints."""
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
        except FilterError as error:
            raise gr.Error(filter_error_zh(error)) from None
        return assistant.ask(question, history=[str(h) for h in history or []], filters=filters, k=k).to_json()

    def chart(answer: Answer | None) -> tuple:
        """The trend box's updates for an answer: shown with its chart for a table answer, else hidden."""
        figure, note = trend_chart(answer) if answer is not None else (None, "")
        if figure is None:
            return gr.Column(visible=False), None, ""
        return gr.Column(visible=True), figure, note

    def respond(question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                place):
        """Chat turn: show the question at once, stream the answer (under chips naming the filters in force), then
        its quotes, citations and sources (and, for a trend or comparison, its chart). A filter that cannot be
        used is said under the filters and in the chat, and nothing is looked up."""
        question = (question or "").strip()
        keep = (gr.skip(),) * 3  # the trend box stays as it is until the answer is there
        if not question:
            yield gr.skip(), messages, messages, questions, sources, tables, gr.skip(), gr.skip(), *keep
            return
        messages = messages + [{"role": "user", "content": esc_lines(question)}]
        # Clear the box only now: later yields skip it, so typing the next question while this one streams is kept.
        yield ("", messages + [{"role": "assistant", "content": WORKING}], messages, questions, sources, tables,
               gr.skip(), gr.skip(), *keep)
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
            answer = assistant.ask(question, history=list(questions), filters=filters, k=k)
        except FilterError as error:
            problem = filter_error_zh(error)
            note = f'<p class="error">{esc(problem)}</p>'
            messages = messages + [{"role": "assistant", "content": esc(f"筛选条件有误：{problem}没有查找，请改正后再问。")}]
            yield (gr.skip(), messages, messages, questions, sources + [None, None], tables + [None, None],
                   gr.skip(), note, *chart(None))
            return
        except BulletinQAError as error:
            print(f"error: {error}", file=sys.stderr)  # the English detail for whoever runs the server
            messages = messages + [{"role": "assistant", "content": "出错了，没能回答这个问题，请稍后再试。"}]
            yield (gr.skip(), messages, messages, questions, sources + [None, None], tables + [None, None],
                   gr.skip(), "", *chart(None))
            return
        chips = filter_chips(filters) + "\n" if not filters.is_empty() else ""
        for step in range(1, STREAM_STEPS):
            shown = messages + [{"role": "assistant", "content": chips + partial_answer(answer, step)}]
            yield gr.skip(), shown, messages, questions, sources, tables, gr.skip(), "", *keep
            time.sleep(STREAM_PAUSE)
        panel = sources_html(assistant, answer)
        messages = messages + [{"role": "assistant", "content": render_answer(answer, filters)}]
        table = answer if answer.table else None
        yield (gr.skip(), messages, messages, questions + [question], sources + [None, panel], tables + [None, table],
               panel, "", *chart(answer))

    def select_message(sources, tables, event: gr.SelectData):
        """Clicking an answer shows its sources (and its chart, or none)."""
        index = event.index if isinstance(event.index, int) else event.index[0]
        panel = sources[index] if 0 <= index < len(sources) else None
        if not panel:
            return gr.skip(), *(gr.skip(),) * 3
        return panel, *chart(tables[index] if index < len(tables) else None)

    def building() -> bool:
        return build is not None and build.running

    def refresh():
        """On page load: the current status and series (the index may have grown since the app was built), and the
        status is polled while the index is built."""
        return (status_html(assistant, build), gr.Dropdown(choices=series_choices(assistant)),
                gr.Timer(active=building()))

    def poll():
        """While the index is built: its progress in the status line; once it is done, the final status."""
        return status_html(assistant, build), gr.Timer(active=building())

    def clear():
        """Forget the conversation."""
        return [], [], [], [], [], EMPTY_SOURCES, *chart(None)

    def add_bulletins(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (how gradio injects progress)
        """Add uploaded bulletins through the library; report each file; refresh status and series. While the
        index is being built the upload waits for it, and says so."""
        paths = [Path(f) for f in files or []]
        try:
            refusal = check_upload(paths)
            if refusal:
                yield refusal, status_html(assistant, build), gr.skip(), None
                return
            if building():
                yield WAIT_FOR_BUILD, status_html(assistant, build), gr.skip(), gr.skip()
            progress(0, desc="正在检查文件并更新索引…")
            try:
                report = assistant.add_files(paths, progress=True)
            except BulletinQAError as error:  # the index could not be built: nothing to add to
                print(f"error: {error}", file=sys.stderr)
                yield (f'<span class="error">{esc(UPLOAD_FAILED)}</span>', status_html(assistant, build), gr.skip(),
                       None)
                return
            progress(1, desc="完成")
            yield (upload_message(assistant, report), status_html(assistant, build),
                   gr.Dropdown(choices=series_choices(assistant)), None)
        finally:
            discard_uploads(paths)

    with gr.Blocks(title="公报问答") as demo:
        messages = gr.State([])  # what the chat shows, as {"role", "content"} dicts (already escaped)
        questions = gr.State([])  # earlier user questions, raw: the history for follow-ups
        sources = gr.State([])  # per chat message: its sources panel (None for questions)
        tables = gr.State([])  # per chat message: its Answer when that is a table answer (for its chart), else None
        gr.Markdown("## 公报问答\n只从已收录的公报中摘录原文作答，每个答案都附引文和出处；找不到就直说。")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="对话", elem_id="chat", height=520, render_markdown=True,
                                     sanitize_html=True, allow_tags=False, latex_delimiters=[],
                                     buttons=[], feedback_options=None, layout="bubble",
                                     placeholder="请提问。答案只摘自已收录的公报原文，并附出处。")
                with gr.Row():
                    question = gr.Textbox(label="问题", placeholder="输入问题，例如：全区社会工作者持证人数是多少？",
                                          show_label=False, elem_id="question", scale=5, max_length=500,
                                          submit_btn=False)
                    send = gr.Button("提问", variant="primary", elem_id="send", scale=1)
                gr.Examples(EXAMPLES, inputs=[question], label="示例问题")
                reset = gr.Button("清空对话", size="sm", elem_id="clear")
            with gr.Column(scale=2):
                with gr.Column(visible=False, elem_id="trend") as trend:
                    gr.Markdown("### 趋势图")
                    trend_plot = gr.Plot(format="png", show_label=False, elem_id="trend-chart")
                    trend_note = gr.HTML("", elem_id="trend-note", js_on_load=None)
                gr.Markdown("### 出处")
                panel = gr.HTML(EMPTY_SOURCES, elem_id="sources", js_on_load=None, container=True,
                                padding=True, max_height=640)
                with gr.Accordion("筛选", open=False):
                    series = gr.Dropdown(series_choices(assistant), value="", label=FILTER_LABELS["series"],
                                         elem_id="series")
                    issue = gr.Textbox(label=FILTER_LABELS["issue"], placeholder="例如 8", elem_id="issue")
                    with gr.Row():
                        date_from = gr.Textbox(label=FILTER_LABELS["date_from"], placeholder="YYYY-MM-DD",
                                               elem_id="date-from")
                        date_to = gr.Textbox(label=FILTER_LABELS["date_to"], placeholder="YYYY-MM-DD",
                                             elem_id="date-to")
                    department = gr.Textbox(label=FILTER_LABELS["department"], placeholder="例如 区委社工部",
                                            elem_id="department")
                    place = gr.Textbox(label=FILTER_LABELS["place"], placeholder="例如 哈密市 或 哈密", elem_id="place")
                    filter_message = gr.HTML("", elem_id="filter-message", js_on_load=None)
                with gr.Accordion("添加公报", open=True):
                    files = gr.File(label=f"公报文件（{'、'.join(s[1:] for s in SUPPORTED_SUFFIXES)}；"
                                          f"一次最多 {MAX_UPLOAD_FILES} 个）",
                                    file_count="multiple", type="filepath", elem_id="upload", height=140)
                    add = gr.Button("添加到索引", elem_id="add")
                    upload_result = gr.HTML("", elem_id="upload-message", js_on_load=None)
                status = gr.HTML(f"<p>{STATUS_LOADING}</p>", elem_id="status", js_on_load=None)
                status_timer = gr.Timer(STATUS_POLL_SECONDS, active=building())

        trend_outputs = [trend, trend_plot, trend_note]
        ask_inputs = [question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                      place]
        ask_outputs = [question, chatbot, messages, questions, sources, tables, panel, filter_message, *trend_outputs]
        for trigger in (question.submit, send.click):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private", concurrency_limit=4)
        chatbot.select(select_message, [sources, tables], [panel, *trend_outputs], api_visibility="private")
        reset.click(clear, None, [chatbot, messages, questions, sources, tables, panel, *trend_outputs],
                    api_visibility="private")
        add.click(add_bulletins, [files], [upload_result, status, series, files], api_visibility="private")
        demo.load(refresh, None, [status, series, status_timer], api_visibility="private")
        status_timer.tick(poll, None, [status, status_timer], api_visibility="private", show_progress="hidden",
                          concurrency_limit=None)
        gr.api(ask_api, api_name="ask", concurrency_limit=4)
    return demo


def ui_text() -> "gr.I18n":
    """Gradio's own words (the upload box's 'Drop File Here', 'Click to Upload'…) in Chinese, whatever the browser's
    language: the frontend picks its built-in dictionary by the browser's locale, so these go into every locale it
    ships. A flat key such as 'upload_text.drop_file' is looked up before the built-in nested one."""
    gr = import_gradio()
    return gr.I18n(**{locale: GRADIO_TEXT for locale in GRADIO_LOCALES})


def import_gradio():
    """Gradio, imported on first use (so `--help` is instant) with its usage analytics off."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a government intranet
    import gradio

    return gradio


def auth_from_env() -> tuple[str, str] | None:
    """(username, password) when both BULLETIN_QA_USERNAME and BULLETIN_QA_PASSWORD are set."""
    username, password = os.environ.get("BULLETIN_QA_USERNAME"), os.environ.get("BULLETIN_QA_PASSWORD")
    return (username, password) if username and password else None


def launch_app(demo: "gr.Blocks", host: str = "127.0.0.1", port: int = 7860, auth=None,
               block: bool = True, on_serve=None) -> str:
    """Start the server (uploads capped at the library's file size; no extra paths served); returns the URL.
    `on_serve` is called once the server is up (the background build starts then)."""
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=MAX_FILE_BYTES,
                            prevent_thread_lock=True, css=CSS, ssr_mode=False, quiet=True, i18n=ui_text())
    print(f"Bulletin QA chat: {url}", flush=True)
    if on_serve is not None:
        on_serve()
    if block:
        demo.block_thread()
    return url


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags (each with its BULLETIN_QA_* environment twin)."""
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Chat with the bulletins: cited, verbatim answers in the browser.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=default_for("host"), help=help_for("host"))
    parser.add_argument("--port", type=int, default=default_for("port"), help=help_for("port"))
    parser.add_argument("--corpus", default=None,
                        help="folder of bulletin files the index is updated from; it must be the one the index was "
                             "built from (env BULLETIN_QA_CORPUS; default: the folder the index records, corpus "
                             "for a new index/)")
    parser.add_argument("--index", default=default_for("index"), help=help_for("index"))
    parser.add_argument("--model", default=default_for("model"), help=help_for("model"))
    parser.add_argument("--backend", default=default_for("backend"), choices=BACKENDS, help=help_for("backend"))
    parser.add_argument("-k", type=int, default=default_for("k"), help=help_for("k"))
    parser.add_argument("--reranker", default=default_for("reranker"), help=help_for("reranker"))
    parser.add_argument("--today", default=default_for("today"), help=help_for("today"))
    parser.add_argument("--milvus", default=default_for("milvus"), metavar="URI", help=help_for("milvus"))
    parser.add_argument("--milvus-collection", default=default_for("milvus-collection"), metavar="NAME",
                        help=help_for("milvus-collection"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Open the index (updated from the corpus it records), then serve the chat. On first start the default
    index/ is built in the background while the chat answers by BM25 over the parsed corpus. Another index folder
    that holds no index is an error: it is built with `bulletin-qa index`."""
    from qa.corpus import corpus_to_update
    from qa.generations import has_index

    args = build_parser().parse_args(argv)
    index = resolve_path(args.index)
    try:
        given_corpus = given("corpus", args.corpus)
        milvus = None
        if args.milvus:  # the index in Milvus (qa/milvus.py): updated from the corpus it records, never built here
            from qa.milvus import parse_target
            from qa.milvus_update import corpus_to_update as milvus_corpus

            milvus = parse_target(args.milvus, collection=args.milvus_collection)
            index = None
            corpus, warning = milvus_corpus(milvus, resolve_path(given_corpus) if given_corpus else None)
        else:
            corpus, warning = corpus_to_update(index, resolve_path(given_corpus) if given_corpus else None,
                                               resolve_path(str(setting("corpus").default)),
                                               build_missing=is_default_path("index", args.index))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        build = None
        if milvus is not None:
            print(f"Opening index {milvus} (corpus {corpus or 'not updated'}, model {args.model})…", flush=True)
            assistant = Assistant.open(index, model=args.model, backend=args.backend, reranker=args.reranker,
                                       corpus_dir=corpus, progress=True, today=parse_day(args.today), milvus=milvus)
        elif corpus is not None and not has_index(index):
            from qa.build import open_at_once

            print(f"No index in {index} yet: reading {corpus} for keyword (BM25) answers now; the full index "
                  f"(model {args.model}) is built in the background and used when written.", flush=True)
            started = time.perf_counter()
            assistant, build = open_at_once(index, corpus, model=args.model, backend=args.backend,
                                            reranker=args.reranker,
                                            today=parse_day(args.today), paused=True)
            print(f"Keyword index ready: {assistant.status()['chunks']:,} chunks in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        else:
            print(f"Opening index {index} (corpus {corpus or 'not updated'}, model {args.model})…", flush=True)
            assistant = Assistant.open(index, model=args.model, backend=args.backend, reranker=args.reranker,
                                       corpus_dir=corpus, progress=True, today=parse_day(args.today))
        launch_app(build_app(assistant, k=args.k, build=build), host=args.host, port=args.port, auth=auth_from_env(),
                   on_serve=build.resume if build is not None else None)
    except (BulletinQAError, OSError) as error:  # e.g. no corpus folder, index of another model, port taken
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, BackendMismatchError):  # whoever runs a Chinese chat gets it in Chinese too
            print(f"错误：{backend_mismatch_zh(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
