"""What the chat shows, rendered from `Answer` fields: the answer with its figures in bold, quotes with
citation chips, a table answer's rows and chart, the sources panel, the status line and upload messages.
Everything taken from a bulletin or typed by a user is escaped before it reaches Markdown or HTML, so text such
as `<script>` is shown, never run. No answer text is parsed here: rows, summary, citations and figures are
fields. (~480 lines: one renderer per thing shown, plus the CSS of the page.)"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from qa.assistant import Assistant
from qa.chunk import format_issue, shorten
from qa.figures import SCALES
from qa.messages import FIELD_NAMES, build_progress_zh, refusal_zh
from qa.records import Answer, Citation, shorten_quote
from qa.retrieve import Filters
from qa.upload import MAX_UPLOAD_FILES

if TYPE_CHECKING:
    from qa.build import BackgroundBuild

RELATED_HEADING = "相关内容（不是答案）"
MISSING = "缺（公报中没有这一年的数据）"
CONFLICT = "两期公报说法不同"
ROLE_WORDS = {"target": "目标", "outcome": "实际"}
PLAIN_UNITS = ("%", "个百分点", "‰")  # units charted as written, never scaled by 万/亿
# The chart divides by 万, 亿 or 万亿 (the scales figures are written with; 千 would shorten nothing), largest first.
CHART_SCALES = tuple(sorted(((size, word) for word, size in SCALES.items() if size >= 1e4), reverse=True))
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Noto Serif CJK SC")
# The filter widgets' labels, in the order the chips over an answer show the filters that are set.
FILTER_LABELS = {"series": "系列", "issue": "期号", "date_from": "起始日期", "date_to": "截止日期", "department": "部门",
                 "place": "地区"}
SERIES_SHOWN = 3  # the status line names this many series, then counts the rest
TIME_FORMAT = "%Y-%m-%d %H:%M"  # every time the chat shows, local
STREAM_STEPS = 6  # the answer text appears in this many steps before the quotes and citations
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
    return next(((size, word) for size, word in CHART_SCALES if smallest >= size), (1.0, ""))


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
