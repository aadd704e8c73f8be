"""Answers from table cells: which cell of a retrieved row answers, and how it is said and cited.

A row is quoted as printed ("| 1.2.粮食总产 | 万吨 | 13.61 | -12.0 |"); the answer names the row, the column
and the unit ("1.2.粮食总产（2025年）：13.61 万吨（表2）"), and cites the header row and the caption too, so
every figure in the answer (a year in a column name, the table's number) stands in a cited quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from qa.figures import LEAD_DASH
from qa.parse import Bulletin
from qa.tables import Table, column_of, is_figure, row_cells, unit_of

# A column that gives a change or a share, not a level (比上年增长（%）, 增速, 比重).
CHANGE_COLUMN_RE = re.compile(r"增长|增速|增幅|涨跌|下降|比上年|同比|±|%|％|比重|占比|指数")
RATE_QUESTION_RE = re.compile(r"增长|增速|增幅|涨幅|涨跌|下降|提高|降低|上涨|百分|比重|占比|率|指数")


@dataclass(frozen=True)
class CellCandidate:
    """One figure cell of a retrieved row, scored against the question."""

    score: float
    table: Table
    label: str  # the row's label cell
    column: str  # the column's name (header rows joined)
    cell: str  # the cell as printed
    unit: str | None


def table_of(bulletin: Bulletin, paragraph: int) -> Table | None:
    """The table a row paragraph belongs to."""
    number = bulletin.paragraphs[paragraph].table
    return next((table for table in bulletin.tables if table.index == number), None)


def score_cells(question_text: str, row_text: str, table: Table, coverage: Callable[[str], float]) -> list[CellCandidate]:
    """Score every figure cell of a row: the row label and the column name must carry what is asked; a
    rate question wants a change or share column, a level question the level."""
    cells = row_cells(row_text)
    label = cells[0]
    wants_rate = bool(RATE_QUESTION_RE.search(question_text))
    found = []
    for position, cell in enumerate(cells[1:], start=1):
        if not is_figure(cell):
            continue
        column = column_of(position, cells, table.columns)
        if re.search(r"单位", column):
            continue
        own = coverage(f"{label} {column}")
        context = coverage(f"{label} {column} {table.caption or ''}")
        score = 0.7 * own + 0.3 * context
        is_change = bool(CHANGE_COLUMN_RE.search(column))
        if wants_rate != is_change:
            score -= 0.15  # "粮食总产是多少" is the level, "增长多少" the change column
        found.append(CellCandidate(score, table, label, column, cell,
                                   unit_of(column, cells, table.columns, table.unit)))
    return sorted(found, key=lambda candidate: -candidate.score)


def cell_answer(candidate: CellCandidate) -> str:
    """'13.61 万吨 —— 1.2.粮食总产（2025年）（表2）' — the figure and unit first, then row, column and table."""
    column = re.sub(r"[（(][^（）()]*[)）]", "", candidate.column).strip()
    named = f"{candidate.label}（{column}）" if column and column != candidate.label else candidate.label
    unit = candidate.unit or ""
    shown = candidate.cell
    if unit and not shown.endswith(unit):
        shown = f"{shown}{unit}" if unit in ("%", "‰") else f"{shown} {unit}"
    where = f"（{candidate.table.number}）" if candidate.table.number else ""
    return f"{shown}{LEAD_DASH}{named}{where}。"
