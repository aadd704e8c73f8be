"""The fact table: every figure of every bulletin as a record, to follow one indicator across issues.

Built at index time from the parsed bulletins (pure extraction, no model), stored with the index as SQLite
(`facts.sqlite`), queried by indicator, series and period. A fact knows the phrase it measures as written
(城镇新增就业), its value with 万/亿 applied, unit, kind (count, percent, change, target), the year it speaks
about (a 2024 report's 回顾 speaks of 2023), and the exact offsets of the figure and its sentence.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from bisect import bisect_left
from dataclasses import dataclass, fields
from functools import cached_property, lru_cache
from pathlib import Path

from qa.chunk import Chunk
from qa.cues import (CHANGE_BEFORE_RE, COMPARED_FIGURE_RE, HOLD_WORDS_RE, LISTED_BEFORE_RE, NOT_AFTER_COMPARISON,
                     PAST_YEAR_CUES, PLAN_WORDS_RE, THIS_YEAR_CUES, bound_after)
from qa.figures import SCALES, clause_spans, parse_figures, sentence_spans
from qa.lists import parallel_list, spread, suffix_by_longest, suffix_by_shape
from qa.parse import Bulletin, Paragraph
from qa.synonyms import expand
from qa.tokens import normalise

# 12: a year opening or compared at the end of an indicator is dropped (１９５５年全国工业总产值 → 全国工业总产值), a
# list's members end alike (高技术制造业、装备制造业增加值) and 和 may join words inside a member; 11: a sentence's year word after 比/较/同/于 is a comparison base, 上年 counts otherwise (cue words from qa.cues); 10: list members named by the list's shape (qa/lists.py), no 党组织 case; 9: no seed verbs stripped from an indicator's start (建成区绿化覆盖率 stays whole); 8: 要从 marks a plan; 7: plan words and report verbs (首次跃上) end no indicator; 6: kinds by figure_kind (a bound right after the figure; 控制在 is a plan only ahead; 比上年… is a change), the
# first time word decides a sentence's period; 5: 以上/左右/以内 only right after a figure; 4: thousands commas
FACTS_VERSION = 12
KINDS = ("count", "percent", "change", "target")  # what Fact.kind may be

# A year that opens the phrase is when, not what: "１９５５年全国工业总产值" is 全国工业总产值 of 1955 (the period says
# so), "2013年以来新增的…" is 新增的….
YEAR_WORD = r"(?:[0-9０-９]{4}|[一二三四五六七八九〇零○]{4})\s*年(?:底|末|初|度|以来)?"
# Verbs and fillers between an indicator and its figure: "国内生产总值超过126万亿元" → 国内生产总值.
TRAILING = re.compile(
    r"(达到|达|超过|突破|为|是|增长|下降|提高到|提高至|提高|提升至|提升到|提升|降至|降到|降低|控制在|拟按|安排|完成|实现|"
    r"新增|累计|平均为|平均|约|近|共|了|比上年|同比|较上年|分别为|分别|由|从|至|到|增加|减少|上涨|回落到|回落|涨幅|"
    r"保持在|保持|在|以上|左右|全年|总计|合计|之间|等|已|年均|超|逾|多|预期|拟|计划|力争|"
    r"首次|再次|连续|稳定在|稳定|跃上|迈上|站上|又?比[较較]?" + YEAR_WORD + ")+$"
)
LEADING = re.compile(r"^(" + YEAR_WORD + r"|推动|推进|实现|完成|其中|全年|一年来|今年|去年|同时|此外|并|和|及|与|、|，)+")


@dataclass(frozen=True)
class Fact:
    """One figure of a bulletin with what it measures and where it is written."""

    fact_id: str
    indicator: str
    text: str  # the figure as written: '1244万人', '5.2%', '434 人'
    value: float
    unit: str | None
    scale: float  # 1, 1e4 (万), 1e8 (亿), 1e12 (万亿)
    kind: str  # count | percent | change | target
    period: str | None
    series: str
    issue: str | None
    date: str | None
    file: str
    chunk_id: str
    start: int  # the figure in the clean text
    end: int
    sentence_start: int  # the sentence that is quoted for it
    sentence_end: int


def _indicator(before: str) -> str:
    """The indicator phrase from the text before a figure, without the verbs that link it to the figure."""
    phrase = re.split(r"[，；：。、（）()“”《》\s]", before.rstrip())[-1] if before.strip() else ""
    for _ in range(3):
        phrase = TRAILING.sub("", phrase)
        phrase = LEADING.sub("", phrase)
    return phrase.strip()


def figure_kind(before: str, after: str, unit: str | None, opening: str, ahead: bool,
                sentence_before: str = "") -> str:
    """count, percent, change or target for a figure, from the words around it.

    Args:
        before, after: the figure's clause before and after it.
        opening: what introduces its sentence (a list's intro line and the sentence's first words).
        ahead: the sentence speaks of the bulletin's own year or later (a plan can be set), not of a past one.
        sentence_before: the whole sentence before the figure.
    """
    before = LISTED_BEFORE_RE.sub("", before)
    if COMPARED_FIGURE_RE.search(before) and not bound_after(after):
        return "change"  # "比上年提高1个百分点" is a difference, even inside a plan
    if PLAN_WORDS_RE.search(before) or PLAN_WORDS_RE.search(opening):
        return "target"
    if ahead and PLAN_WORDS_RE.search(sentence_before):
        return "target"  # "今年经济增长速度的宏观调控目标，定为百分之八至九"; a review's "完成目标任务，…" stays an outcome
    if ahead and (bound_after(after) or HOLD_WORDS_RE.search(before)):
        return "target"  # "今年…控制在3%以内"; in a review "控制在2.8%" reports what was kept
    if CHANGE_BEFORE_RE.search(before):
        return "change"
    if unit in ("%", "个百分点"):
        return "percent"
    return "count"


def _scale(figure_text: str) -> float:
    """The scale word a figure is written with (万亿 before 亿 and 万), as qa.figures reads it."""
    return next((SCALES[word] for word in sorted(SCALES, key=len, reverse=True) if word in figure_text), 1.0)


def extract_facts(bulletin: Bulletin, chunks: list[Chunk]) -> list[Fact]:
    """Every figure written with digits in the bulletin's body and masthead-free text, as facts.

    Args:
        bulletin: the parsed bulletin.
        chunks: its chunks (a fact points at the chunk that holds its figure).

    Returns:
        Facts in text order.
    """
    text = bulletin.clean_text
    facts: list[Fact] = []
    by_start = sorted(chunks, key=lambda c: c.start)
    for paragraph in bulletin.paragraphs:
        if paragraph.kind != "body":
            continue
        intro = list_intro(bulletin, paragraph)
        period = paragraph.period
        for s_start, s_end in sentence_spans(text, paragraph.start, paragraph.end):
            sentence = text[s_start:s_end]
            opening = (intro if s_start == paragraph.start else "") + sentence[:16]
            period = sentence_period(sentence, bulletin.year, period)
            own_period = None if MULTI_YEAR.search(sentence) else period
            ahead = not (period and period[:4].isdigit() and bulletin.year) or int(period[:4]) >= bulletin.year
            last_indicator = ""
            for c_start, c_end in clause_spans(text, s_start, s_end):
                clause = text[c_start:c_end]
                listed = _list_members(clause)
                for f_start, f_end, figure, value, unit in _merge_ranges(clause, parse_figures(clause)):
                    if value is None or _is_year_or_ordinal(clause, f_start, f_end, unit):
                        continue  # a fact needs a value to compare across issues
                    before = clause[:f_start]
                    indicator = listed.get(f_start) or _indicator(before) or last_indicator
                    last_indicator = indicator or last_indicator
                    kind = figure_kind(before, clause[f_end:], unit, opening, ahead,
                                       text[s_start:c_start + f_start])
                    start = c_start + f_start
                    chunk = next((c for c in by_start if c.start <= start < c.end), None)
                    if chunk is None:
                        continue
                    facts.append(Fact(
                        fact_id=hashlib.sha256(f"{chunk.chunk_id}|{start}".encode()).hexdigest()[:16],
                        indicator=indicator, text=figure, value=float(value), unit=unit, scale=_scale(figure),
                        kind=kind, period=own_period, series=bulletin.series, issue=bulletin.issue,
                        date=bulletin.date, file=bulletin.file, chunk_id=chunk.chunk_id, start=start,
                        end=c_start + f_end, sentence_start=s_start, sentence_end=s_end,
                    ))
    return facts


def _merge_ranges(clause: str, figures: list) -> list:
    """'6%－6.5%' and '6.5%－7%' are one target range: one figure whose value is the lower bound."""
    merged: list = []
    for figure in figures:
        if merged and re.fullmatch(r"\s*[－\-~～至到]\s*", clause[merged[-1][1]:figure[0]]):
            start, _, _, value, unit = merged[-1]
            merged[-1] = (start, figure[1], clause[start:figure[1]], value, unit or figure[4])
        else:
            merged.append(figure)
    return merged


MULTI_YEAR = re.compile(r"五年|三年来|十年|年均|“十[一二三四五]五”时期|以来累计|期间累计")


# The time word that opens a sentence's head: the past year (its review) or the report's own year.
SAID_YEAR_RE = re.compile(NOT_AFTER_COMPARISON + "(" + "|".join(PAST_YEAR_CUES) + ")|" + NOT_AFTER_COMPARISON + "("
                          + "|".join(THIS_YEAR_CUES) + ")")


def sentence_period(sentence: str, year: int | None, current: str | None) -> str | None:
    """The year a sentence speaks about, carried on from the sentences before it: '过去一年，…' → year-1 until
    '今年…' → year. A sentence that opens with its own year ('2011年，是…') speaks about that year."""
    head = re.split(r"[，,：:]", sentence, maxsplit=1)[0]
    explicit = re.match(r"^\s*([12][0-9]{3})年", normalise(head))
    if explicit:
        return explicit.group(1)
    if year is None:
        return current
    # The first time word of the head decides: "今年赤字率拟按2.8%左右安排、比去年有所下调" speaks of this year.
    said = SAID_YEAR_RE.search(head)
    if said:
        return str(year - 1) if said.group(1) else str(year)
    return current


def list_intro(bulletin: Bulletin, paragraph: Paragraph) -> str:
    """The line before a paragraph when it introduces a list ('今年发展主要预期目标是：' then
    '国内生产总值增长5%左右；…'); else nothing."""
    if paragraph.index == 0:
        return ""
    previous = bulletin.paragraphs[paragraph.index - 1]
    line = bulletin.clean_text[previous.start:previous.end]
    return line[-40:] if line.endswith(("：", ":")) else ""


def _is_year_or_ordinal(clause: str, start: int, end: int, unit: str | None) -> bool:
    """'2024年' as a date, '第二届', '十四五' are not figures of an indicator."""
    figure = normalise(clause[start:end])
    if unit == "年" and re.fullmatch(r"(19|20)\d{2}年", figure.replace(" ", "")):
        return True
    return clause[max(start - 1, 0):start] == "第"


def _list_members(clause: str) -> dict[int, str]:
    """For 'A、B、C、D党组织覆盖率提升至 92.5%、87%、94%、91%': figure offset → 'A党组织覆盖率', … . With no question
    to say the shared suffix, it is found from the list's shape (`qa.lists`)."""
    listed = parallel_list(clause)
    if listed is None:
        return {}
    names = [LEADING.sub("", name) for name in listed.names]
    names[-1] = TRAILING.sub("", names[-1])  # a verb the list pattern does not know (稳定在)
    if not all(names):
        return {}
    full = spread(names, suffix_by_shape(names) or suffix_by_longest(names))
    return dict(zip(listed.figure_starts, full))


# ---------------------------------------------------------------- storage
COLUMNS = [f.name for f in fields(Fact)]


def write_facts(path: Path, facts: list[Fact]) -> None:
    """Write the fact table as a SQLite file (the caller makes the write atomic)."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE facts (fact_id TEXT PRIMARY KEY, indicator TEXT, text TEXT, value REAL, unit TEXT, "
            "scale REAL, kind TEXT, period TEXT, series TEXT, issue TEXT, date TEXT, file TEXT, chunk_id TEXT, "
            "start INTEGER, end INTEGER, sentence_start INTEGER, sentence_end INTEGER)"
        )
        db.executemany(f"INSERT OR REPLACE INTO facts VALUES ({', '.join('?' * len(COLUMNS))})",
                       [tuple(vars(fact).values()) for fact in facts])  # asdict's deep copy: 4× slower
        db.execute("CREATE INDEX facts_by_period ON facts (series, period)")
    # sqlite3's context manager commits but does not close
    sqlite3.connect(path).close()


def read_facts(path: Path) -> list[Fact]:
    """Every fact in a fact table file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM facts ORDER BY file, start").fetchall()
    finally:
        db.close()
    return [Fact(*row) for row in rows]


class FactTable(list):
    """The fact table (a list of `qa.facts.Fact`) with its facts grouped by indicator, built on first use, so
    `qa.facts.find_facts` scores each distinct indicator once and visits only the facts of those that match
    instead of every fact: at 100k chunks a table question scanned ~65k facts (~19 ms)."""

    def by_indicator(self) -> dict[str, list[tuple[int, Fact]]]:
        """Indicator → [(position in the table, fact)], in table order."""
        return self._groups

    def kinds_between(self, file: str, start: int, end: int) -> set[str]:
        """The kinds (count, target, …) of the facts whose figure starts in [start, end) of a file: the answers
        ask the fact table whether a clause is a plan, so both call the same figure a target."""
        starts, kinds = self._by_file.get(file, ([], []))
        return set(kinds[bisect_left(starts, start):bisect_left(starts, end)])

    @cached_property
    def _groups(self) -> dict[str, list[tuple[int, Fact]]]:
        groups: dict[str, list[tuple[int, Fact]]] = {}
        for position, fact in enumerate(self):
            groups.setdefault(fact.indicator, []).append((position, fact))
        return groups

    @cached_property
    def _by_file(self) -> dict[str, tuple[list[int], list[str]]]:
        """File → (the starts of its facts' figures, sorted; their kinds)."""
        by_file: dict[str, tuple[list[int], list[str]]] = {}
        for fact in sorted(self, key=lambda f: (f.file, f.start)):
            starts, kinds = by_file.setdefault(fact.file, ([], []))
            starts.append(fact.start)
            kinds.append(fact.kind)
        return by_file


# ---------------------------------------------------------------- matching
@lru_cache(maxsize=65536)
def bigrams(text: str) -> frozenset[str]:
    text = re.sub(r"\s+", "", normalise(text))
    return frozenset({text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set()))


def indicator_similarity(query: str, indicator: str) -> float:
    """How well a fact's indicator matches what is asked: 1.0 for containment either way (after synonyms),
    else the Dice overlap of character bigrams."""
    if not indicator:
        return 0.0
    best = 0.0
    for form in expand(query).split():
        if form == indicator:
            return 1.0
        if len(form) >= 2 and len(indicator) >= 2 and (form in indicator or indicator in form):
            # containment counts, but less when the longer phrase says much more (经济增长 ⊂ 对全球经济增长的贡献率)
            shorter, longer = sorted((len(form), len(indicator)))
            best = max(best, 0.6 + 0.4 * shorter / longer)
            continue
        a, b = bigrams(form), bigrams(indicator)
        if a and b:
            best = max(best, 2 * len(a & b) / (len(a) + len(b)))
    return best


