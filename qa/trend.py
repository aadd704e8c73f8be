"""Trend, comparison and target-vs-outcome answers from the fact table: one cited row per period.

"城镇新增就业这几年是多少？", "2023年和2024年的经济增长目标比较", "2024年经济增长目标完成了吗？". Each row is a fact
of the fact table with its verbatim sentence as the citation; a period with no fact is shown as missing, never
interpolated; two issues giving different figures for the same indicator and period are shown side by side.
The one-line summary is computed only from the rows shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from qa.cues import QUESTION_PLAN_RE
from qa.facts import Fact, indicator_similarity
from qa.parse import YEAR_RE, to_int
from qa.synonyms import written_forms
from qa.tokens import normalise

# A table answers a question over time: a span of years, several years, or a plan and its outcome. Words that
# only compare or list (变化, 分别, 趋势, 比较) ask over time only together with one of these: "…是怎样变化的？"
# about an encyclopedia article is no request for a year-by-year table.
TIME_SPAN_CUES = re.compile(r"这几年|近几年|这些年|历年|逐年|每年|各年|历次|几年来|近年来|多年来")
RANGE_RE = re.compile(r"([12]\d{3})\s*年?\s*(?:到|至|-|—|~|～)\s*([12]\d{3})\s*年?")
COMPLETION_RE = re.compile(r"完成了吗|实现了吗|达到了吗|完成没有|是否完成|是否实现|是否达到|完成情况|达标|目标.*实际|实际.*目标")
GROWTH_CUES = re.compile(r"增长|增速|增幅|涨幅|上涨|下降|率")
# Growth words after an indicator name: "国内生产总值增长" asks for 国内生产总值's percentage figures.
GROWTH_TAIL = re.compile(r"(增长率|增长速度|增长幅度|上涨幅度|增长|增速|增幅|涨幅|幅度|速度|上涨|下降)+$")
# Where a question stops naming its indicator: at a figure or at the verb that compares it
# ("城镇新增就业超过预期目标了吗", "经济增长目标是5.5%左右", "M2增速有没有达到13%").
INDICATOR_STOP = re.compile(r"(?<![A-Za-z])\d|超过|有没有|有无|是否|达到|达(?!标)|是|为|(?<![相对])比|高于|低于")
FILLER = re.compile(
    r"[12１２][0-9０-９]{3}\s*年?|到|至|和|与|及|的|是多少|有多少|多少[万亿]?[人个家元件条项名次户台辆吨斤亩]?|分别|"
    r"这几年|近几年|这些年|历年|逐年|每年|各年|各是|各为|有什么|什么|怎样|怎么|实际|控制|调控|安排|"
    r"趋势|变化|走势|对比|比较|相比|情况|完成了吗|实现了吗|达到了吗|完成没有|是否完成|是否实现|是否达到|完成|预期目标|"
    r"历次|几年来|近年来|多年来|目标|预期|计划|怎么样|如何|有何|不同|区别|差别|差异|各|是|呢|吗|了|[？?！!。，,、\s]"
)
RECENT_PERIODS = 6  # "这几年" without years: the latest periods that have the indicator


@dataclass(frozen=True)
class Row:
    """One period of a table answer. `facts` is empty for a missing period, two or more for a conflict."""

    period: str
    role: str  # "outcome" | "target"
    facts: tuple[Fact, ...]

    @property
    def status(self) -> str:
        if not self.facts:
            return "missing"
        return "conflict" if len({f.value for f in self.facts}) > 1 else "ok"


def is_table_question(question: str) -> bool:
    """Trend, comparison over several years, or target vs outcome."""
    text = normalise(question)
    years = {to_int(m.group(1)) for m in YEAR_RE.finditer(text)}
    return bool(TIME_SPAN_CUES.search(text) or RANGE_RE.search(text) or COMPLETION_RE.search(text) or len(years) >= 2)


def asked_indicator(question: str) -> str:
    """The indicator words of a table question: '2021到2024年城镇新增就业分别是多少？' → '城镇新增就业',
    '2022年经济增长目标是5.5%左右，最后实际增长了多少？' → '经济增长': the first clause that names one, up to
    a figure or a comparing verb, without the words that only ask."""
    text = RANGE_RE.sub(" ", normalise(question))
    for clause in re.split(r"[，,？?。；;！!]", text):
        clause = re.sub(r"[12][0-9]{3}\s*年", " ", clause)
        stop = INDICATOR_STOP.search(clause)
        words = FILLER.sub("", clause[:stop.start()] if stop else clause).strip()
        if len(words) >= 2:
            return words
    return ""


def asked_periods(question: str, available: list[str]) -> list[str]:
    """The periods a question asks about: a range, listed years, or the latest ones that have data."""
    text = normalise(question)
    span = RANGE_RE.search(text)
    if span:
        first, last = sorted((int(span.group(1)), int(span.group(2))))
        return [str(year) for year in range(first, last + 1)]
    years = sorted({str(to_int(m.group(1))) for m in YEAR_RE.finditer(text)})
    if years:
        return years
    if not available:
        return []
    # The latest years as one unbroken span, so a year without data shows as missing instead of vanishing.
    last = int(max(available))
    return [str(year) for year in range(last - RECENT_PERIODS + 1, last + 1)]


def same_indicator(asked: str, indicator: str) -> bool:
    """Whether a fact measures the asked indicator, not a neighbour.

    A Chinese noun phrase ends in its head: 财政赤字率 is a 赤字率, 对全球经济增长的贡献率 is no 经济增长 and
    单位国内生产总值能耗 no 国内生产总值. So the fact's indicator and the asked one (or a written form of it from
    the synonym table) must end alike: one is the other with words in front. Growth words at the end
    (国内生产总值增长, 居民消费价格涨幅) say which figures, not which indicator, and are set aside first."""
    indicator, asked = normalise(indicator).lower(), normalise(asked).lower()
    written = GROWTH_TAIL.sub("", indicator) or indicator
    core = GROWTH_TAIL.sub("", asked) or asked
    # a synonym may be asked with any growth word: 经济增速, 经济增长速度 → the entry for 经济增长
    for form in dict.fromkeys(written_forms(asked) + written_forms(core) + written_forms(core + "增长")):
        form = GROWTH_TAIL.sub("", form) or form
        if len(form) >= 2 and len(written) >= 2 and (written.endswith(form) or form.endswith(written)):
            return True
    return False


def facts_of(facts: list[Fact], indicator: str) -> list[Fact]:
    """The facts of exactly this indicator (`same_indicator`), in table order."""
    grouped = facts.by_indicator() if hasattr(facts, "by_indicator") else None
    if grouped is None:
        return [f for f in facts if same_indicator(indicator, f.indicator)]
    # each distinct indicator is judged once
    found = [pair for name, members in grouped.items() if same_indicator(indicator, name) for pair in members]
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


def find_facts(facts: list[Fact], indicator: str, series: str | None = None, year_from: int | None = None,
               year_to: int | None = None, kinds: tuple[str, ...] | None = None) -> list[Fact]:
    """The facts of one indicator as a chat table finds them (`facts_of`), within a series, a period range and
    some kinds, in table order: what `bulletin-qa facts` prints."""
    def admitted(fact: Fact) -> bool:
        if series and fact.series != series or kinds and fact.kind not in kinds:
            return False
        if year_from or year_to:
            if not fact.period or not fact.period.isdigit():
                return False
            return not (year_from and int(fact.period) < year_from or year_to and int(fact.period) > year_to)
        return True

    return [fact for fact in facts_of(facts, indicator) if admitted(fact)]


def mostly_planned(facts: list[Fact]) -> bool:
    """Whether the bulletins give an indicator mostly as a plan: its targets cover more than twice as many
    periods as its outcomes (赤字率 is set each year, 拟按3%安排, and rarely reported back)."""
    planned = {f.period for f in facts if f.period and f.kind == "target"}
    outcomes = {f.period for f in facts if f.period and f.kind != "target"}
    return 2 * len(outcomes) < len(planned)


def _preference(fact: Fact, wants_growth: bool, indicator: str) -> tuple:
    """Sort key: the closest wording first; a growth question prefers percentages, a level question counts."""
    unit_fit = (fact.unit in ("%", "个百分点")) == wants_growth
    return (-round(_similarity(indicator, fact.indicator), 2), not unit_fit, fact.file, fact.start)


@lru_cache(maxsize=16384)
def _similarity(query: str, indicator: str) -> float:
    return indicator_similarity(query, indicator)


def _pick(candidates: list[Fact], wants_growth: bool, indicator: str) -> tuple[Fact, ...]:
    """The fact(s) for one period: the best match; several only when issues disagree (a conflict)."""
    if not candidates:
        return ()
    ranked = sorted(candidates, key=lambda f: _preference(f, wants_growth, indicator))
    best = ranked[0]
    key = _preference(best, wants_growth, indicator)[:2]
    # Same indicator quality and unit from another issue with another value: show both, never merge.
    rivals = [f for f in ranked[1:] if _preference(f, wants_growth, indicator)[:2] == key
              and f.issue != best.issue and f.unit == best.unit and f.value != best.value]
    return (best, *rivals[:1])


def build_table(facts: list[Fact], question: str) -> tuple[str, list[Row]] | None:
    """The rows that answer a table question, or None when the fact table does not hold its indicator.

    Every row is a fact of the asked indicator itself (`same_indicator`), for the period the fact table gives
    it (the bulletin's period rules), so a year with no such fact is shown as missing, never filled in.
    """
    indicator = asked_indicator(question)
    if len(indicator) < 2:
        return None
    text = normalise(question)
    # "1个百分点" is how much a rate moved, never the rate itself, unless 百分点 is what is asked.
    wants_points = "百分点" in text
    matching = [f for f in facts_of(facts, indicator) if wants_points or "百分点" not in (f.unit or "")]
    if not matching:
        return None
    wants_growth = bool(GROWTH_CUES.search(text)) and not re.search(r"总量|规模|达到多少|多少人|多少万", text)
    completion = bool(COMPLETION_RE.search(text))
    wants_target = bool(QUESTION_PLAN_RE.search(text)) and not completion
    if not completion and not QUESTION_PLAN_RE.search(text) and mostly_planned(matching):
        wants_target = True  # 赤字率拟按…安排: followed as planned
    wanted_kind = (lambda f: f.kind == "target") if wants_target else (lambda f: f.kind != "target")
    available = sorted({f.period for f in matching if f.period and (completion or wanted_kind(f))})
    periods = asked_periods(question, available)
    rows: list[Row] = []
    for period in periods:
        in_period = [f for f in matching if f.period == period]
        targets = [f for f in in_period if f.kind == "target"]
        outcomes = [f for f in in_period if f.kind != "target"]
        if completion:
            rows.append(Row(period, "target", _pick(targets, wants_growth, indicator)))
            rows.append(Row(period, "outcome", _pick(outcomes, wants_growth, indicator)))
        elif wants_target:
            rows.append(Row(period, "target", _pick(targets, wants_growth, indicator)))
        else:
            rows.append(Row(period, "outcome", _pick(outcomes, wants_growth, indicator)))
    if not any(row.facts for row in rows):
        return None
    return indicator, rows


def summarise(indicator: str, rows: list[Row], qualifier=lambda fact: "") -> str:
    """One line computed only from the rows shown: the direction from the first to the last figure, or
    whether the outcome met the target (`qualifier(fact)` gives the words after a figure: 左右, 以上…)."""
    shown = [row for row in rows if row.status == "ok"]
    roles = {row.role for row in rows}
    if roles == {"target", "outcome"} and len(shown) == 2:
        target, outcome = (next(r for r in shown if r.role == role).facts[0] for role in ("target", "outcome"))
        wording = target.text + qualifier(target)
        return f"{outcome.period} 年目标 {wording}，实际 {outcome.text}：{_verdict(target, wording, outcome)}。"
    if len(shown) < 2:
        return ""
    first, last = shown[0].facts[0], shown[-1].facts[0]
    if first.unit != last.unit:
        return ""
    direction = "上升" if last.value > first.value else "下降" if last.value < first.value else "持平"
    gaps = [row.period for row in rows if row.status == "missing"]
    note = f"（{'、'.join(gaps)} 年缺数据）" if gaps else ""
    return f"{indicator}从 {first.text}（{first.period} 年）到 {last.text}（{last.period} 年），总体{direction}{note}。"


def _verdict(target: Fact, window: str, outcome: Fact) -> str:
    """The outcome against the target, by the target's own wording: a floor (以上) is met or not, a ceiling
    (以内) kept or exceeded; a point (左右, or no wording) is only said to be met within a small tolerance,
    otherwise 高于/低于 — whether higher is better (growth) or worse (prices) is the reader's call."""
    if target.unit != outcome.unit:
        return "单位不同，无法直接比较"
    if "以内" in window or "以下" in window:
        return "控制在目标以内" if outcome.value <= target.value else "超出目标"
    if "以上" in window or "超过" in window:
        return "达到目标" if outcome.value >= target.value else "未达到目标"
    tolerance = 0.5 * max(1.0, abs(target.value) / 10) if "左右" in window else 0.0
    if abs(outcome.value - target.value) <= tolerance:
        return "与目标基本一致" if tolerance else "与目标持平"
    return "高于目标" if outcome.value > target.value else "低于目标"
