"""Which figure of a clause a question asks for: its unit and kind, its own words, the noun it counts,
qualifiers the question does not say, the end of a change, and one member of a parallel list."""

from __future__ import annotations

import re

from qa.figures import parse_figures
from qa.lists import parallel_list, spread, suffix_by_shape
from qa.question import AMOUNT_CUES, CHANGE_CUES, ORIGINAL_CUES, RATE_CUES, Question
from qa.synonyms import expand
from qa.tokens import normalise

# Qualifiers that make a figure a different indicator from the bare one: an average ("年均1270多万人",
# "人均地区生产总值") or a part of the year ("一季度…增长4.7%", "1-11月"). Such a figure answers a question only
# when the question says the same qualifier. A qualifier belongs to the figure it precedes: in
# "城镇新增就业1256万人、城镇调查失业率平均为5.1%" the 平均 is the second figure's, not the first's.
QUALIFIER_RE = re.compile(r"年均|平均每年|每年平均|人均|户均|日均|平均|[一二三四1-4]季度|前三季度|上半年|下半年|"
                          r"\d{1,2}\s*[-—–~～至]\s*\d{1,2}\s*月")
SAME_QUALIFIER = {"平均每年": "年均", "每年平均": "年均"}
# Measure words that count the same things: 多少人 is answered by "139名".
UNIT_GROUPS = {"人": "people", "名": "people", "位": "people", "次": "times", "场": "times", "回": "times"}
FROM_TO_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(%|[\u4e00-\u9fff])[^，。；\d]{0,20}?(?:至|到)\s*(\d+(?:\.\d+)?)\s*(%|[\u4e00-\u9fff])")
DATE_BEFORE_RE = re.compile(r"\d\s*[年月]\s*$")
RATE_DIRECTION_RE = re.compile(r"(增长|下降|上涨|上升|提高|降低|减少|增加|回落|下跌|扩大|收窄)\s*$")


def names_a_year_or_note(clause: str, figure: tuple) -> bool:
    """A year ('2021-2023 年', '2025年'), a date's month or day ('2025年10月', '10月15日') or a footnote mark
    ('[3]') is no figure that answers 'how much'."""
    start, end, text, value, unit = figure
    if clause[max(start - 1, 0):start] in ("[", "［") and clause[end:end + 1] in ("]", "］"):
        return True
    if DATE_BEFORE_RE.search(clause[:start]) and (unit in ("月", "日") or clause[end:end + 1] in ("日", "号")):
        return True  # a month after a year, a day after a month: a date, not a count of months or days
    yearish = value is not None and float(value).is_integer() and 1900 <= value <= 2100 and "." not in text
    return yearish and (unit == "年" or bool(re.match(r"\s*[-—–~～至到]\s*\d{4}", clause[end:])))


def asked_figure(question: Question, text: str, coverage=None) -> str | None:
    """The figure of a clause the question asks for, as printed, to lead the answer: the one whose unit
    fits the measure asked (多少人 → "1244 万人"), a rate for a rate question, an amount for an amount
    question, never one with a qualifier the question does not say, the one whose own words (just before
    it, and the noun just after it: "255个网格") the question shares, and the state after a change, not
    the one before ("从 65% 提升至 98%"); else the first. A rate keeps the
    direction word before it ("下降6.9%"), which its sign depends on. None when the clause has no figure."""
    figures = [figure for figure in parse_figures(text) if not names_a_year_or_note(text, figure)]
    if not figures:
        return None
    wants_rate = bool(RATE_CUES.search(question.text))
    wants_amount = bool(AMOUNT_CUES.search(question.text)) or (question.measure is not None and question.measure != "%")
    wants_change = bool(CHANGE_CUES.search(question.text)) and not wants_amount

    def fit(position: int) -> int:
        start, _end, figure_text, _value, unit = figures[position]
        is_rate = unit == "%" or "百分之" in figure_text
        score = 0.0
        if question.measure and unit and (question.measure in unit or unit in question.measure
                                          or UNIT_GROUPS.get(unit, unit) == UNIT_GROUPS.get(question.measure)):
            score += 2
        if (wants_rate and is_rate) or (wants_amount and not is_rate):
            score += 1
        if wants_change and RATE_DIRECTION_RE.search(text[max(start - 4, 0):start]):
            score += 1
        # A figure's own words: those after the last separator before it, and the noun right after its
        # measure word ("43个社区255个网格": 社区 is 43's, 网格 is 255's).
        label = re.split(r"[，；、,;]", text[(figures[position - 1][1] if position else 0):start])[-1]
        if position and not re.search(r"[，；、,;]", text[figures[position - 1][1]:start]):
            label = label[len(nouns[position - 1]):]
        if unasked_qualifiers(label, question.text):
            score -= 2
        if start in change_starts:
            # "从 65% 提升至 98%": the figure before the change is where it started, the answer only when asked
            score += 1 if asks_original else -1
        if question.counted and nouns[position].startswith(question.counted[:2]):
            score += 2  # "多少个社区" → "43个社区"
        if coverage is not None:
            score += 2 * coverage(label[-16:] + nouns[position])
        return score

    change_starts = {match.start(1) for match in FROM_TO_RE.finditer(text)}
    # A follow-up reads "earlier context + its own words": only its own words ask for 原来.
    asks_original = bool(ORIGINAL_CUES.search(question.text.rsplit(" ", 1)[-1]))
    nouns = [re.match(r"[^\d，。；、,;]{0,4}", text[end:]).group() for _start, end, *_ in figures]

    best = max(range(len(figures)), key=lambda position: (fit(position), -position))
    start, _end, figure_text, _value, unit = figures[best]
    direction = RATE_DIRECTION_RE.search(text[max(start - 4, 0):start])
    is_rate = unit == "%" or "百分之" in figure_text
    return (direction.group(1) if direction and is_rate else "") + figure_text


def unasked_qualifiers(text: str, question: str) -> list[str]:
    """Qualifiers in text (人均, 年均, 一季度, 1-11月) that the question does not say; 平均 in a question
    covers any average."""
    asked = normalise(question)
    found = []
    for match in QUALIFIER_RE.finditer(normalise(text)):
        word = SAME_QUALIFIER.get(match.group(), match.group())
        if word in asked or (word in ("年均", "平均") and "平均" in asked):
            continue
        if re.search(r"\d", word) and re.search(r"\d{1,2}\s*[-—–~～至]\s*\d{1,2}\s*月", asked):
            continue
        found.append(word)
    return found


# Where a term may start: the text's start, after punctuation or a year (2025年职业高中, ，普通高中招生); not after
# another number, whose unit comes next (100米跑共有…).
TERM_START = r"(?:^|(?<=[^\u4e00-\u9fff\d.])|(?<=\d年))"
# Determiners and scope words open a phrase without naming a kind of thing (这份上街信息, 全区持证人数).
DETERMINERS = "这那该本此各每全某"


def contrasting_terms(question: str, text: str) -> list[tuple[str, str]]:
    """Pairs (asked, written) of four-character terms that start a phrase, end alike and begin differently, the
    asked one's first two characters absent from text and the written one's from the question: 职业高中 asked,
    普通高中 written. A Chinese noun phrase ends in its head, so the same head with another modifier is another
    thing (another kind of school), however many words the two share."""
    asked_text, written = normalise(question), normalise(text)
    pairs = []
    for match in re.finditer(TERM_START + r"(?=([\u4e00-\u9fff]{4}))", asked_text):
        term = match.group(1)
        modifier, head = term[:2], term[2:]
        if modifier in written or modifier[0] in DETERMINERS:
            continue
        other = re.search(TERM_START + r"([\u4e00-\u9fff]{2})" + re.escape(head), written)
        if other and other.group(1) not in asked_text and not set(other.group(1)) & set(modifier) \
                and other.group(1)[0] not in DETERMINERS:
            pairs.append((term, other.group(1) + head))
    return pairs


def named_in(term: str | None, text: str) -> bool | None:
    """Whether a question term is named in text (by any of its bigrams); None when there is no term."""
    if not term:
        return None
    forms = expand(term).split()
    return any(form[i:i + 2] in text for form in forms for i in range(max(len(form) - 1, 1)))


def mostly_named_in(term: str, text: str) -> bool:
    """Whether more than half the bigrams of each part of a term (or of a synonym) are in text.
    '专职网格员' → 专职 职网 网格 格员: only 2 of 4 in '流动网格员', so not."""
    for form in expand(term).split():
        parts = [p for p in re.split(r"这类|这些|之类|这种|等|的", form) if len(p) >= 2]
        if parts and all(sum(p[i:i + 2] in text for i in range(len(p) - 1)) * 2 > len(p) - 1 for p in parts):
            return True
    return False


def figure_nouns(clause: str, figures: list) -> list[str]:
    """The words a figure counts: the noun just before it ('等问题80余项' → 问题) and just after its unit
    ('291个小区' → 小区)."""
    nouns = []
    for start, end, *_ in figures:
        before = re.search(r"([\u4e00-\u9fff“”]{1,8})\s*$", clause[:start])
        if before:
            segments = [x for x in re.split(r"等|达|共|了|的|为|有|至|到|和|、|及", before.group(1)) if x]
            nouns.extend(segments[-1:])
        after = re.match(r"\s*([\u4e00-\u9fff“”]{1,12})", clause[end:])
        if after:
            nouns.append(after.group(1))
    return [noun for noun in nouns if noun]


def resolve_list_member(question: Question, clause: str, coverage) -> tuple[str, str] | None:
    """'园区、重点非公企业、社会组织、行业协会商会党组织覆盖率提升至 92.5%、87%、94%、91%' + a question about
    社会组织 → ('社会组织党组织覆盖率', '94%'). None when the clause is not such a parallel list.

    A suffix shared by the list is written once, after its last member; it spreads over every member. The
    shared part is what the last name has beyond the width of the others when they are all of one width
    ('城市学校、农村学校团组织覆盖率'), else the longest end of the last name that the question also says,
    leaving the last member at least one character of its own ('第一、二、三产业增加值占…比重' asked about 第三产业… → 产业增加值占…比重).
    A member that already ends as the suffix begins is not doubled ('城市学校、农村学校团组织…'); `qa.lists`."""
    listed = parallel_list(clause)
    if listed is None:
        return None
    names, figures = listed.names, listed.figures
    asked = normalise(question.text).replace("的", "")
    last = names[-1]
    tail = suffix_by_shape(names) or next(
        (last[cut:] for cut in range(1, len(last) - 1) if last[cut:].replace("的", "") in asked), "")
    full = spread(names, tail)
    said = [i for i, name in enumerate(full) if normalise(name).replace("的", "") in asked]
    if len(said) == 1:
        best = said[0]
    else:
        scores = [coverage(name) for name in full]
        best = max(range(len(full)), key=lambda i: scores[i])
        if scores[best] <= 0 or sorted(scores)[-1] == sorted(scores)[-2]:
            return None
    return full[best].strip(), figures[best]
