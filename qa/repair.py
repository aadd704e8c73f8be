"""Repair text as PDF and Word export leaves it, line by line, before the parser sees it. Pure functions.

What export does to a bulletin, and what is undone here (each for a reason of print layout, never of one
office's wording):
- justified or letter-spaced lines put a space between every character ("一、综 合", "X 市 统 计 局",
  "第二 产 业 增 加 值 3970.37 亿 元 ， 增 长"): a run of single characters separated by single spaces is
  closed up; words of two or more characters separated by a space (two issuers on one line) are kept apart;
- page numbers stand on lines of their own ("— 1 —", "- 2 -", "第 3 页", "3/15"): such lines are dropped;
- a section number printed apart from its heading ("01 / 综合", "06固定资产投资") is a heading, not the start
  of the next sentence (see `is_numbered_heading`).
Hard-wrapped lines are rejoined by the parser (a paragraph that does not end a sentence continues).
"""

from __future__ import annotations

import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
# Three or more single CJK characters (or CJK punctuation) in a row, each followed by one space, with the short
# word the spacing started in ('第二 产 业 增 加 值').
_SPACED_RUN = re.compile(f"(?<![{_CJK}])(?:[{_CJK}]{{1,3}} )?(?:[{_CJK}] ){{2,}}[{_CJK}](?![{_CJK}])")
_SPACED_PAIR = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_DASHES = "—\\-－–―~～"
PAGE_NUMBER_RE = re.compile(
    rf"^\s*(?:[{_DASHES}]+\s*\d{{1,3}}\s*[{_DASHES}]+|第\s*\d{{1,3}}\s*页(?:\s*[，,/]?\s*共\s*\d{{1,3}}\s*页)?"
    rf"|\d{{1,3}}\s*/\s*\d{{1,3}}|[（(]\s*\d{{1,3}}\s*[)）])\s*$"
)
# "01 / 综合", "06固定资产投资", "01｜综合": a two-digit section number and a short heading, nothing else.
NUMBERED_HEADING_RE = re.compile(r"^\s*0[1-9]|^\s*[1-9][0-9]")
_NUMBERED_HEADING_FULL = re.compile(r"^\s*(\d{2})\s*[/／|｜、.．]?\s*([\u4e00-\u9fff][\u4e00-\u9fff、和与及 ]{1,15})\s*$")


def close_up_spacing(line: str) -> str:
    """Remove letter-spacing: '一、综 合' → '一、综合', '第二 产 业 增 加 值 3970.37 亿 元' → '第二产业增加值 3970.37 亿元'.

    Only runs of single characters lose their spaces; '哈密市统计局 国家统计局哈密调查队' keeps its space."""
    line = _SPACED_RUN.sub(lambda match: match.group().replace(" ", ""), line)
    tokens = line.split(" ")
    # A short heading whose words after the first are single characters: '一、综 合', '附 注'.
    if 1 < len(tokens) <= 8 and len(line) <= 24 and all(len(token) == 1 for token in tokens[1:]) \
            and all(_SPACED_PAIR.search(f"{a[-1:]} {b[:1]}") for a, b in zip(tokens, tokens[1:])):
        return "".join(tokens)
    # '亿 元' between a figure and the next clause, left over at the edge of a run.
    return re.sub(f"(?<=\\d) ([{_CJK}]) ([{_CJK}])(?= |$)", r" \1\2", line)


def is_page_number(line: str) -> bool:
    """True for a line that is only a page number: '— 1 —', '- 2 -', '第 3 页', '第3页 共15页', '3/15'."""
    return bool(PAGE_NUMBER_RE.match(line))


def is_numbered_heading(line: str) -> bool:
    """True for a section heading led by a two-digit number: '01 / 综合', '06固定资产投资' (no sentence)."""
    return bool(_NUMBERED_HEADING_FULL.match(line))


def repair_line(line: str) -> str | None:
    """One extracted line made readable, or None when it is print furniture (a page number)."""
    if is_page_number(line):
        return None
    return close_up_spacing(line)
