"""Bulletin QA chat: a Gradio UI over the `qa` library — cited answers, sources, filters, adding bulletins,
and for a trend or target-vs-outcome question a cited table with a small chart of the rows it shows.

The UI only wires widgets to `qa.answer.Assistant` (ask, add_files, status); it holds no retrieval, parsing
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
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer import Answer, Assistant, Citation, Filters, shorten_quote
from qa.chunk import format_issue, shorten
from qa.errors import BulletinQAError
from qa.read import MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from qa.settings import default_for, given, help_for, is_default_path, parse_day, resolve_path, setting
from qa.upload import MAX_UPLOAD_FILES

if TYPE_CHECKING:
    import gradio as gr

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
MISSING = "缺（公报中没有这一年的数据）"
CONFLICT = "两期公报说法不同"
ROLE_WORDS = {"target": "目标", "outcome": "实际"}
ROW_LINE_RE = re.compile(r"^\d{4} 年(?:目标)?：")  # a row line of a table answer's text, not its summary
PLAIN_UNITS = ("%", "个百分点", "‰")  # units charted as written, never scaled by 万/亿
SCALES = ((1e12, "万亿"), (1e8, "亿"), (1e4, "万"))
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Noto Serif CJK SC")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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
.abstain { color: var(--body-text-color-subdued); font-style: italic; }
.abstain-mark { font-weight: 600; color: #b45309; }
#sources mark { background: #fde68a; color: inherit; padding: 0 1px; }
#sources .source { margin-bottom: 0.9em; line-height: 1.7; }
#sources .label { font-size: 0.85em; color: var(--body-text-color-subdued); }
#sources .not-answer { color: #b45309; font-weight: 600; }
#upload-message .error { color: #b91c1c; }
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


def render_answer(answer: Answer) -> str:
    """The chat message for a finished answer: the answer, each quote with its chip; or an abstention."""
    if answer.abstained:
        mark = '<span class="abstain-mark">未找到答案</span>'
        lines = [f'{mark} <span class="abstain">{esc(answer.answer)}</span>']
        if answer.related:
            lines += ["", f"<strong>{esc(RELATED_HEADING)}</strong>", ""]
            lines += [f"- “{esc(shorten_quote(c.quote))}” {chip(c)}" for c in answer.related]
        return "\n".join(lines)
    lines = table_lines(answer) if answer.table else [emphasise(answer)]
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
    """The one-line summary of a table answer: its text's last line when that is not a row line."""
    lines = answer.answer.splitlines()
    return lines[-1] if len(lines) > 1 and not ROW_LINE_RE.match(lines[-1]) else None


def table_lines(answer: Answer) -> list[str]:
    """A table answer as a Markdown table (年份, 指标, 数值, 说明, 出处), every cell escaped; then its summary.

    A missing period is marked 缺; a conflict period is one row with both values side by side, both cited.
    """
    both_roles = len({row["role"] for row in answer.table}) > 1
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in answer.table:
        groups.setdefault((row["period"], row["role"]), []).append(row)
    lines = ["| 年份 | 指标 | 数值 | 说明 | 出处 |", "| --- | --- | --- | --- | --- |"]
    for (period, role), rows in groups.items():
        role_word = ROLE_WORDS.get(role, role)
        shown = [row for row in rows if row["status"] != "missing"]
        if not shown:
            note = f'<span class="missing">{esc(MISSING)}</span>'
            cells = ["—", '<span class="missing">缺</span>', f"{esc(role_word)}：{note}" if both_roles else note, "—"]
        else:
            indicators = list(dict.fromkeys(row["indicator"] or "—" for row in shown))
            values = [f"<strong>{esc(row['text'])}</strong>{esc(qualifier(answer, row))}" for row in shown]
            cited = [chip(answer.citations[row["citation"]], brief=True) for row in shown
                     if row["citation"] is not None and 0 <= row["citation"] < len(answer.citations)]
            if any(row["status"] == "conflict" for row in shown):
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


def qualifier(answer: Answer, row: dict) -> str:
    """左右/以上/以内/以下 as the answer's row line writes it after a row's figure ('5%左右（国内生产总值）')."""
    label = f"{row['period']} 年{'目标' if row['role'] == 'target' else ''}："
    for line in answer.answer.splitlines():
        if line.startswith(label):
            found = re.search(re.escape(row["text"]) + r"(左右|以上|以内|以下)（", line)
            return found.group(1) if found else ""
    return ""


def chart_font() -> str | None:
    """A font with Chinese glyphs for the chart's labels, or None (then the chart's labels are in English)."""
    from matplotlib import font_manager

    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def chart_points(answer: Answer) -> tuple[list[dict], str | None, str]:
    """The numeric rows a chart of a table answer draws (all of one unit, the majority), that unit, and a note.

    Only rows the answer shows are drawn: a missing period has no point and nothing is interpolated.
    """
    numeric = [row for row in answer.table if row["status"] != "missing" and isinstance(row["value"], (int, float))
               and math.isfinite(row["value"])]
    if not numeric:
        return [], None, ""
    units = Counter(row["unit"] for row in numeric)
    unit = max(units, key=lambda u: (units[u], -next(i for i, r in enumerate(numeric) if r["unit"] == u)))
    kept = [row for row in numeric if row["unit"] == unit]
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

    periods = list(dict.fromkeys(row["period"] for row in answer.table))
    roles = {row["role"] for row in answer.table}
    bars = len(periods) <= 2 or roles == {"target", "outcome"}
    size, word = chart_scale([row["value"] for row in points], unit)
    font = chart_font()
    words = ({"target": "目标", "outcome": "实际", "other": "另一期公报的说法"} if font
             else {"target": "target", "outcome": "outcome", "other": "other issue"})
    series: dict[str, dict[str, float]] = {}  # series → period → value
    for row in points:
        name = "other" if row["period"] in series.get(row["role"], {}) else row["role"]
        series.setdefault(name, {})[row["period"]] = row["value"] / size
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
        axes.legend(fontsize=7, frameon=False, prop={"family": font, "size": 7} if font else {"size": 7})
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
    found = Counter(row["indicator"] for row in answer.table if row.get("indicator"))
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
        if row["citation"] is not None:
            labels[row["citation"]] = f"{row['period']} 年 · {ROLE_WORDS.get(row['role'], row['role'])}：{row['text']}"
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
EMPTY_SOURCES = "<p>提问后，这里显示答案出处的完整段落，引用的句子会高亮。</p>"


# ----- status and uploads -----
def status_html(assistant: Assistant) -> str:
    """One status line: issues per series, files, chunks, model, last update."""
    status = assistant.status()
    series = "；".join(f"《{name}》第 {'、'.join(issues)} 期" for name, issues in status["issues"].items())
    parts = [f"已收录 {series or '（暂无公报）'}", f"{status['files']} 个文件", f"{status['chunks']} 段",
             f"模型 {status['model']}", f"最近更新 {status['last_update'] or '—'}"]
    return f"<p>{esc(' · '.join(parts))}</p>"


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
    lines += [f'<span class="error">未添加「{esc(name)}」：{esc(reason)}</span>'
              for name, reason in report.files_refused.items()]
    lines += [f'<span class="warning">{esc(identity_warning(warning))}</span>' for warning in report.warnings
              if warning.split(": ", 1)[0] in (*report.files_added, *report.files_changed)]
    if report.files_added or report.files_changed:
        lines.append(esc(f"索引已更新：新嵌入 {report.chunks_embedded} 段，共 {report.chunks_total} 段。"))
    else:
        lines.append("索引保持不变。")
    return "<br>".join(lines)


FIELD_NAMES = {"series": "系列（刊名）", "issue": "期号", "date": "日期", "publisher": "发布单位", "place": "地区"}


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
    """Filters from the widgets' values (blank means no filter); raises ValueError on a malformed date."""
    for value in (date_from, date_to):
        if value and value.strip() and not DATE_RE.match(value.strip()):
            raise ValueError(f"日期“{value.strip()}”格式不对，请写成 YYYY-MM-DD，例如 2026-02-12。")
    clean = [(v or "").strip() or None for v in (series, issue, date_from, date_to, department, place)]
    return Filters(*clean)


# ----- the app -----
def build_app(assistant: Assistant, k: int = 5) -> "gr.Blocks":
    """The chat as a Gradio Blocks app over one Assistant (launch it with `launch_app`)."""
    gr = import_gradio()

    def ask_api(question: str, history: list[str] | None = None, series: str = "", issue: str = "",
                date_from: str = "", date_to: str = "", department: str = "", place: str = "") -> dict:
        """Answer a question; returns exactly the JSON object `bulletin-qa ask --json` prints."""
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        return assistant.ask(question, history=[str(h) for h in history or []], filters=filters, k=k).to_json()

    def chart(answer: Answer | None) -> tuple:
        """The trend box's updates for an answer: shown with its chart for a table answer, else hidden."""
        figure, note = trend_chart(answer) if answer is not None else (None, "")
        if figure is None:
            return gr.Column(visible=False), None, ""
        return gr.Column(visible=True), figure, note

    def respond(question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                place):
        """Chat turn: show the question at once, stream the answer, then its quotes, citations and sources
        (and, for a trend or comparison, its chart)."""
        question = (question or "").strip()
        keep = (gr.skip(),) * 3  # the trend box stays as it is until the answer is there
        if not question:
            yield gr.skip(), messages, messages, questions, sources, tables, gr.skip(), *keep
            return
        messages = messages + [{"role": "user", "content": esc_lines(question)}]
        # Clear the box only now: later yields skip it, so typing the next question while this one streams is kept.
        yield ("", messages + [{"role": "assistant", "content": WORKING}], messages, questions, sources, tables,
               gr.skip(), *keep)
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
            answer = assistant.ask(question, history=list(questions), filters=filters, k=k)
        except (ValueError, BulletinQAError) as error:
            messages = messages + [{"role": "assistant", "content": esc(f"出错了：{error}")}]
            yield (gr.skip(), messages, messages, questions, sources + [None, None], tables + [None, None],
                   gr.skip(), *chart(None))
            return
        for step in range(1, STREAM_STEPS):
            shown = messages + [{"role": "assistant", "content": partial_answer(answer, step)}]
            yield gr.skip(), shown, messages, questions, sources, tables, gr.skip(), *keep
            time.sleep(STREAM_PAUSE)
        panel = sources_html(assistant, answer)
        messages = messages + [{"role": "assistant", "content": render_answer(answer)}]
        table = answer if answer.table else None
        yield (gr.skip(), messages, messages, questions + [question], sources + [None, panel], tables + [None, table],
               panel, *chart(answer))

    def select_message(sources, tables, event: gr.SelectData):
        """Clicking an answer shows its sources (and its chart, or none)."""
        index = event.index if isinstance(event.index, int) else event.index[0]
        panel = sources[index] if 0 <= index < len(sources) else None
        if not panel:
            return gr.skip(), *(gr.skip(),) * 3
        return panel, *chart(tables[index] if index < len(tables) else None)

    def refresh():
        """On page load: the current status and series (the index may have grown since the app was built)."""
        return status_html(assistant), gr.Dropdown(choices=series_choices(assistant))

    def clear():
        """Forget the conversation."""
        return [], [], [], [], [], EMPTY_SOURCES, *chart(None)

    def add_bulletins(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (how gradio injects progress)
        """Add uploaded bulletins through the library; report each file; refresh status and series."""
        paths = [Path(f) for f in files or []]
        try:
            refusal = check_upload(paths)
            if refusal:
                return refusal, status_html(assistant), gr.skip(), None
            progress(0, desc="正在检查文件并更新索引…")
            report = assistant.add_files(paths, progress=True)
            progress(1, desc="完成")
            return (upload_message(assistant, report), status_html(assistant),
                    gr.Dropdown(choices=series_choices(assistant)), None)
        finally:
            discard_uploads(paths)

    with gr.Blocks(title="公报问答 Bulletin QA") as demo:
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
                    question = gr.Textbox(placeholder="输入问题，例如：全区社会工作者持证人数是多少？",
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
                    series = gr.Dropdown(series_choices(assistant), value="", label="系列", elem_id="series")
                    issue = gr.Textbox(label="期号", placeholder="例如 8", elem_id="issue")
                    with gr.Row():
                        date_from = gr.Textbox(label="起始日期", placeholder="YYYY-MM-DD", elem_id="date-from")
                        date_to = gr.Textbox(label="截止日期", placeholder="YYYY-MM-DD", elem_id="date-to")
                    department = gr.Textbox(label="部门", placeholder="例如 区委社工部", elem_id="department")
                    place = gr.Textbox(label="地区", placeholder="例如 哈密市 或 哈密", elem_id="place")
                with gr.Accordion("添加公报 / Add bulletin", open=True):
                    files = gr.File(label=f"公报文件（{'、'.join(s[1:] for s in SUPPORTED_SUFFIXES)}；"
                                          f"一次最多 {MAX_UPLOAD_FILES} 个）",
                                    file_count="multiple", type="filepath", elem_id="upload", height=140)
                    add = gr.Button("添加到索引", elem_id="add")
                    upload_result = gr.HTML("", elem_id="upload-message", js_on_load=None)
                status = gr.HTML(f"<p>{STATUS_LOADING}</p>", elem_id="status", js_on_load=None)

        trend_outputs = [trend, trend_plot, trend_note]
        ask_inputs = [question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                      place]
        ask_outputs = [question, chatbot, messages, questions, sources, tables, panel, *trend_outputs]
        for trigger in (question.submit, send.click):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private", concurrency_limit=4)
        chatbot.select(select_message, [sources, tables], [panel, *trend_outputs], api_visibility="private")
        reset.click(clear, None, [chatbot, messages, questions, sources, tables, panel, *trend_outputs],
                    api_visibility="private")
        add.click(add_bulletins, [files], [upload_result, status, series, files], api_visibility="private")
        demo.load(refresh, None, [status, series], api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=4)
    return demo


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
               block: bool = True) -> str:
    """Start the server (uploads capped at the library's file size; no extra paths served); returns the URL."""
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=MAX_FILE_BYTES,
                            prevent_thread_lock=True, css=CSS, ssr_mode=False, quiet=True)
    if block:
        print(f"Bulletin QA chat: {url}", flush=True)
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
    parser.add_argument("-k", type=int, default=default_for("k"), help=help_for("k"))
    parser.add_argument("--reranker", default=default_for("reranker"), help=help_for("reranker"))
    parser.add_argument("--today", default=default_for("today"), help=help_for("today"))
    parser.add_argument("--milvus", default=default_for("milvus"), metavar="URI", help=help_for("milvus"))
    parser.add_argument("--milvus-collection", default=default_for("milvus-collection"), metavar="NAME",
                        help=help_for("milvus-collection"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Open the index (updated from the corpus it records; the default index/ is built on first start), then
    serve the chat. Another index folder that holds no index is an error: it is built with `bulletin-qa index`."""
    from qa.store import corpus_to_update

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
        print(f"Opening index {milvus or index} (corpus {corpus or 'not updated'}, model {args.model})…", flush=True)
        assistant = Assistant.open(index, model=args.model, reranker=args.reranker,
                                   corpus_dir=corpus, progress=True, today=parse_day(args.today), milvus=milvus)
        launch_app(build_app(assistant, k=args.k), host=args.host, port=args.port, auth=auth_from_env())
    except (BulletinQAError, OSError) as error:  # e.g. no corpus folder, index of another model, port taken
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
