"""Tables in bulletin text: recognise them, name their columns, read a cell with its unit. Pure functions.

Statistical bulletins carry much of their data in tables. Whatever the source format, a table reaches the
parser as lines of text:
- markdown rows `| 指标 | 单位 | 2025年 | 比上年增长（%） |` (the reader writes HTML and Word tables this way,
  spans repeated in every cell they cover; markdown and plain-text files may hold them too), or
- PDF text rows after a caption: `表 1 2025 年居民消费价格比上年涨跌幅度`, `指标 涨跌幅度（%）`,
  `居民消费价格 0.5` — a label, then figures separated by spaces.
Each data row is a citable unit (the row as printed); its table gives the caption, the column names and the
units. Column names join every header row (a spanned header names each column under it), and a column that
only says how a figure changed (比上年增长（%）) is named after the quantity on its left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.figures import UNIT_WORDS

TABLE_CAPTION_RE = re.compile(r"^\s*(?:附)?表\s*([0-9０-９]{1,3}|[一二三四五六七八九十]{1,3})(?:[\s:：、.．]|(?=[\u4e00-\u9fff0-9]))")
FIGURE_CAPTION_RE = re.compile(r"^\s*图\s*[0-9０-９]{1,3}(?:[\s:：、.．]|(?=[\u4e00-\u9fff0-9]))")
UNIT_LINE_RE = re.compile(r"^\s*[（(]?\s*(?:计量)?单位\s*[:：]\s*([^）)]{1,12})[）)]?\s*$")
FIGURE_CELL_RE = re.compile(r"^[-+－—]?\s*[0-9０-９][0-9０-９,，.．]*\s*(?:[%％‰]|[\u4e00-\u9fff]{1,4})?$")
# A PDF text row: a label (no figure at its end), then one or more figures separated by spaces.
_TEXT_ROW_RE = re.compile(r"^(?P<label>\S(?:.*?\S)?)\s+(?P<figures>[-+－—]?\d[\d,.]*%?(?:\s+[-+－—]?\d[\d,.]*%?)*)\s*$")
_CHANGE_COLUMN_RE = re.compile(r"^(?:比上年|比去年|同比|较上年|增长|增速|增幅|涨跌|比上年末|比年初)")
_GENERIC_COLUMN_RE = re.compile(r"^(?:绝对数|绝对值|数值|数量|总量|金额|本年|全年|实绩|计量单位|单位|指标|项目|[12]\d{3}\s*年?)$")
_BRACKETED_UNIT_RE = re.compile(r"[（(]\s*([^（）()]{1,8}?)\s*[)）]\s*$")


@dataclass(frozen=True)
class Table:
    """A table of a bulletin: offsets are paragraph indexes of `Bulletin.paragraphs`."""

    index: int
    number: str | None  # "表1" as printed (spaces removed), when the caption numbers it
    caption: str | None
    caption_paragraph: int | None
    columns: tuple[str, ...]  # one name per column; the first is the row labels' column
    header_paragraphs: tuple[int, ...]
    row_paragraphs: tuple[int, ...]
    unit: str | None  # a unit for the whole table, from the caption or a 单位： line


def is_pipe_row(line: str) -> bool:
    """True for a markdown table row `| a | b |` (at least two cells)."""
    stripped = line.strip()
    return stripped.startswith("|") and stripped.endswith("|") and stripped.count("|") >= 3


def is_separator_row(line: str) -> bool:
    """True for a markdown header rule `|---|:---:|`."""
    return bool(re.fullmatch(r"\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*\|?\s*", line)) and "-" in line


def pipe_cells(line: str) -> list[str]:
    """The cells of a markdown row, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def text_row_cells(line: str) -> list[str] | None:
    """A PDF text row as [label, figure, figure…], or None when the line is not shaped like one."""
    match = _TEXT_ROW_RE.match(line.strip())
    if not match or re.search(r"[。；！？]", match.group("label")):
        return None
    return [match.group("label"), *match.group("figures").split()]


def row_cells(line: str) -> list[str]:
    """The cells of any table row line."""
    if is_pipe_row(line):
        return pipe_cells(line)
    return text_row_cells(line) or line.split()  # a PDF header line: names separated by spaces


def is_figure(cell: str) -> bool:
    """True for a cell holding one figure ('1162.95', '-0.7', '61.5%', '434 人'); a year ('2025年') names a
    column, it is no figure."""
    cell = cell.strip()
    return bool(FIGURE_CELL_RE.match(cell)) and not re.fullmatch(r"[12][0-9]{3}\s*年?(?:末|底|度|上半年|全年)?", cell)


def is_data_row(cells: list[str]) -> bool:
    """A row with a figure after its label (header rows name things, data rows give figures)."""
    return any(is_figure(cell) for cell in cells[1:])


def is_caption_row(cells: list[str]) -> bool:
    """A first row that repeats one text across the whole table: a caption printed inside it."""
    filled = [cell for cell in cells if cell]
    return len(cells) > 1 and len(filled) == len(cells) and len(set(filled)) == 1


def column_names(header_rows: list[list[str]], width: int) -> tuple[str, ...]:
    """One name per column from the header rows, top to bottom ('地区生产总值（亿元） 比上年增长（%）')."""
    names = []
    for column in range(width):
        parts: list[str] = []
        for row in header_rows:
            cell = row[column] if column < len(row) else ""
            if cell and cell not in parts:
                parts.append(cell)
        names.append(" ".join(parts))
    # A change column (比上年增长) under no quantity of its own belongs to the quantity on its left, when that
    # is a named quantity and not the label column, a unit column or a year.
    for column in range(2, width):
        left = names[column - 1].split(" ")[0]
        if _CHANGE_COLUMN_RE.match(names[column]) and left and not _CHANGE_COLUMN_RE.match(left) \
                and left != names[0].split(" ")[0] \
                and not _GENERIC_COLUMN_RE.match(left) and not re.search(r"\d", left):
            names[column] = f"{left} {names[column]}"
    return tuple(names)


def column_of(position: int, cells: list[str], columns: tuple[str, ...]) -> str:
    """The name of the column a row's cell stands in. A PDF text row may print fewer cells than its header
    names (a unit glued to the label: '液压元件 万件 130.8 -10.4' under 产品名称 单位 产量 比上年增长): figures
    are right-aligned, so its last cells belong to the last columns."""
    if position == 0:
        return columns[0] if columns else ""
    shift = max(0, len(columns) - len(cells))
    index = position + shift
    return columns[index] if index < len(columns) else ""


def unit_of(column: str, row: list[str], columns: tuple[str, ...], table_unit: str | None) -> str | None:
    """The unit of a cell: its column's '（亿元）', the row's 单位 column, or the table's 单位：."""
    bracketed = _BRACKETED_UNIT_RE.search(column)
    if bracketed and (bracketed.group(1) in ("%", "％", "‰") or bracketed.group(1).strip() in UNIT_WORDS
                      or re.fullmatch(r"[万亿千百]?[\u4e00-\u9fff]{1,4}", bracketed.group(1))):
        return bracketed.group(1).replace("％", "%")
    for position, name in enumerate(columns):
        if re.search(r"单位", name) and position < len(row) and row[position] and not is_figure(row[position]):
            return row[position]
    return table_unit


def caption_number(caption: str | None) -> str | None:
    """'表 1 2025 年居民消费价格…' → '表1'."""
    if not caption:
        return None
    match = TABLE_CAPTION_RE.match(caption)
    return f"表{match.group(1)}" if match else None


def caption_unit(caption: str | None) -> str | None:
    """'（单位：亿元）' or '单位：万元' in or under a caption."""
    if not caption:
        return None
    match = re.search(r"单位\s*[:：]\s*([^）)\s，,]{1,10})", caption)
    return match.group(1) if match else None
