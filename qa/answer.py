"""Extractive answers: find the clause that answers, lead with the figure, quote the sentence, cite it.

Nothing is generated: the answer is built from verbatim pieces of the bulletin (plus, for a difference the
text implies, a computation that shows both quoted figures). Before an answer leaves this module every
number in it is checked against its quotes (`check_figures`); one that fails is turned into an abstention.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.chunk import Chunk
from qa.errors import BulletinQAError
from qa.cues import COMPARISON_BASE_RE, QUESTION_PLAN_RE, bound_after
from qa.evidence import TIME_TEXT_RE, SentenceEvidence, features, load_scorer, merge_enclosed
from qa.identity import AREA_WORDS, GENERIC_PLACES
from qa.figures import (
    LEAD_DASH,
    CN_FIGURE_RE,
    DATE_TEXT_RE,
    NUMBER_RE,
    clause_spans,
    parse_figures,
    sentence_spans,
)
from qa.parse import Bulletin
from qa.cells import cell_answer, score_cells, table_of
from qa.retrieve import Filters, Hit, anchor_relative_years, question_places, question_years, retrieve
from qa.synonyms import expand
from qa.tokens import document_frequency, normalise, tokenize
from qa.trend import asked_indicator, build_table, facts_of, is_table_question, mostly_planned, summarise

__all__ = ["Answer", "Assistant", "Citation", "Figure", "Filters", "check_figures", "numbers_in"]


# Words that ask, but carry no content to match.
QUESTION_WORDS = re.compile(
    r"请问|一下|是多少|有多少|多少|是几|有几|几个|几家|几项|几名|几场|几次|几|哪些|哪个|哪家|哪位|哪里|哪儿|哪|什么|谁|"
    r"怎么样|怎样|如何|吗|呢|啊|呀|吧|是否|有没有|达到了|达到|分别|大概|大约|具体|情况|[？?！!。，,、\s]"
)
# Function characters: a question token made with one of them carries no content to match.
STOP_CHARS = set("这那是的了吗呢啊吧在有和与及其之也都对被把将还又请问么")
FIGURE_CUES = re.compile(r"多少|几|百分|比例|比重|覆盖率|率|增长|增加|提升|下降|减少|数量|人数|规模|总额|金额|占比|目标")
WHEN_CUES = re.compile(r"什么时候|何时|哪天|哪一天|日期|几月|几号|哪年|哪一年|发布时间|印发时间")
WHO_CUES = re.compile(r"谁|哪位|什么人|姓名|名字")
WHAT_CUES = re.compile(r"哪个|哪些|哪家|什么|名称|叫|哪一个|如何|怎样|怎么")
# Interrogatives of a reading question: why, how, which, where (何职, 哪儿, 哪一朝代).
READING_CUES = re.compile(r"为什么|为何|如何|怎样|怎么|何[职处地人种物事故时]|哪")
NAME_RE = re.compile(r"[“\"《]([^”\"》]{1,30})[”\"》]")
RATE_CUES = re.compile(r"增速|增长率|增幅|涨幅|比例|比重|占比|百分|率|(增长|下降|提高|降低|上涨)了?(多少|几)(?![万亿千百]?[人个家元件条项名次户台辆吨斤亩])")
ISSUE_SELF_RE = re.compile(r"这期|本期|这一期|该期|这份|印发|出版|刊发|编印|发行|发布|落款|标注|公报")
SOURCE_CUES = re.compile(r"哪个部门|哪个单位|哪家单位|哪些单位|哪些部门|哪个机构|哪些机构|谁办|主办|编印|供稿|来源|出自|谁写|"
                         r"哪个部门写|发布单位|发布机构|由谁发布|谁发布")
# "国内生产总值总量" asks for an amount, never for a ratio to GDP.
AMOUNT_CUES = re.compile(r"总量|总额|总值是|规模|多少钱|多少元|多少亿|多少万亿")
# Qualifiers that make a figure a different indicator from the bare one: an average ("年均1270多万人",
# "人均地区生产总值") or a part of the year ("一季度…增长4.7%", "1-11月"). Such a figure answers a question only
# when the question says the same qualifier. A qualifier belongs to the figure it precedes: in
# "城镇新增就业1256万人、城镇调查失业率平均为5.1%" the 平均 is the second figure's, not the first's.
QUALIFIER_RE = re.compile(r"年均|平均每年|每年平均|人均|户均|日均|平均|[一二三四1-4]季度|前三季度|上半年|下半年|"
                          r"\d{1,2}\s*[-—–~～至]\s*\d{1,2}\s*月")
SAME_QUALIFIER = {"平均每年": "年均", "每年平均": "年均"}
# An indicator is named by a noun phrase that ends like one (失业率, 进出口总额, 单位GDP能耗); other words before
# 多少 are mostly the asker's verbs ('一年里指导开展了多少场'), which the text words differently.
INDICATOR_END_RE = re.compile(r"(率|额|值|量|数|比例|比重|指数|能耗|收入|支出|赤字|价格|涨幅|增速)$")
# Words of a figure question that say how it is asked, not what is measured ('…的增长预期目标是多少').
ASKING_WORDS_RE = re.compile(r"[12][0-9]{3}\s*年(?:度)?|全年|年度|预期|目标|计划|实际|大概|大约|一共|总共|共计|"
                             r"要|定在|定为|定了|是|的|有|为|达到|达|了|在|多少|几|怎样|如何|[？?，,。！!、\s]")
PLACE_RE = re.compile(r"[\u4e00-\u9fff]{2,3}(?:区|县|市|镇|乡)(?=的|有|在|是|共|[，,？?]|$)")
NOT_PLACES = AREA_WORDS + GENERIC_PLACES + ("城市", "城镇", "乡镇", "全镇")
# Measure words that count the same things: 多少人 is answered by "139名".
UNIT_GROUPS = {"人": "people", "名": "people", "位": "people", "次": "times", "场": "times", "回": "times"}
COUNT_UNITS = set("个家人支件条场项名块次所座处份套批辆台张本篇")
FOLLOW_UP_RE = re.compile(r"^(那么?|还有|那个|另外|以及)|呢[？?]?$")
DIFFERENCE_CUES = re.compile(r"(增加|增长|多了|扩充|提高|提升|上升|减少|下降|降低|少了)(了)?(多少|几)")
FROM_TO_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(%|[\u4e00-\u9fff])[^，。；\d]{0,20}?(?:至|到)\s*(\d+(?:\.\d+)?)\s*(%|[\u4e00-\u9fff])")
MEASURE_AFTER_QUESTION = re.compile(r"(?:多少|几)(万|亿)?(个人|位|个|家|人次|人|支|件|条|场|项|名|块|次|所|座|元|亩|吨|斤|天|倍|处|份|套|批|辆|台|张|本|篇|期)")

# A question about what happened, not what was planned: "实际增长了多少", "完成了多少".
OUTCOME_CUES = re.compile(r"实际|完成|实现|最终|结果|了多少|了几")

# How many retrieved chunks the extraction reads: fusion can push a lexical rank-3 chunk below rank 8 when
# other chunks sit in both lists, and the clause scoring is the better judge of the two.
EXTRACTION_DEPTH = 12

# Clause meaning: the best few candidates are reordered by the embedding model's cosine between the question
# and the clause read from the start of its sentence ("比上年增长9.7%" needs its subject, "年内新增 27 支" the
# clause before it), relative to the best cosine among them. Lexical coverage cannot tell "人均地区生产总值" from "地区生产总值"; meaning can.
SEMANTIC_WEIGHT = 2.0
SEMANTIC_DEPTH = 10
SEMANTIC_MARGIN = 0.1  # only candidates this close to the lexical best are reordered

# Chunks that are never offered as related passages: a masthead or footer names the bulletin, it says nothing.
NOT_RELATED = ("masthead", "footer")

# How much a figure label that says no more than the question (label_precision) adds to a candidate's score.
PRECISION_WEIGHT = 0.2
CJK_PAIR_RE = re.compile(r"[\u4e00-\u9fff]{2}")

# A parallel list: "a、b、c" or "a、b和c" (members and figures alike).
# A parallel list: "a、b、c" or "a、b和c" (members and figures alike).
LIST_SEPARATOR_RE = re.compile(r"\s*(?:、|和|及|与)\s*")
LIST_FIGURES_RE = re.compile(r"((?:\d+(?:\.\d+)?\s*%?\s*(?:、|和|及|与)\s*)+\d+(?:\.\d+)?\s*%?)")
# "从 65% 提升至 98%", "16 家…扩充至 29 家" (FROM_TO_RE): the first figure is where a change started; asked
# 原来 it is the answer.
ORIGINAL_CUES = re.compile(r"原来|原先|以前|之前|起初|最初|从多少")
# A change asked (增减了多少, 变化) is answered by the figure after its direction word (下降6.9%).
CHANGE_CUES = re.compile(r"增减|变化|变动|涨跌|增长|下降|上涨|提高|降低")
RATE_DIRECTION_RE = re.compile(r"(增长|下降|上涨|上升|提高|降低|减少|增加|回落|下跌|扩大|收窄)\s*$")

# A clause must cover this share of the question's content (IDF-weighted) to answer; below it we abstain.
ANSWER_THRESHOLD = 0.45

# Reading questions (who, what, when, why) choose a sentence by its evidence (qa/evidence.py): "lexical" the
# clause score alone, "semantic" plus the embedding cosine, "learned" the trained scorer (the default).
SENTENCE_SCORINGS = ("lexical", "semantic", "learned")
READING_KINDS = ("what", "who", "when")
READING_DEPTH = 16  # sentences judged per question, best lexical first
READING_SEMANTIC_WEIGHT = 4.0  # chosen on DRCD by eval/train_sentence_scorer.py (its "semantic_weight")


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from; `quote` is a verbatim substring of the bulletin's clean text."""

    chunk_id: str
    file: str
    series: str
    issue: str | None
    date: str | None
    title: str | None
    section: str | None
    paragraph: int  # 1-based, the N of the label's 第 N 段 (Chunk.paragraph is the 0-based index)
    quote: str
    start: int
    end: int
    label: str  # human-readable citation line

    def to_json(self) -> dict:
        return {"chunk_id": self.chunk_id, "file": self.file, "series": self.series, "issue": self.issue,
                "date": self.date, "title": self.title, "section": self.section, "paragraph": self.paragraph,
                "quote": self.quote, "start": self.start, "end": self.end, "label": self.label}


@dataclass(frozen=True)
class Figure:
    """A number shown in an answer: its text as written, value (万/亿 applied), unit, and which citation."""

    text: str
    value: float | None
    unit: str | None
    citation: int

    def to_json(self) -> dict:
        value = self.value
        if value is not None and float(value).is_integer():
            value = int(value)
        return {"text": self.text, "value": value, "unit": self.unit, "citation": self.citation}


@dataclass(frozen=True)
class Answer:
    """The result of a question: the answer text, its citations (best first) and figures, or an abstention."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    figures: tuple[Figure, ...] = ()
    related: tuple[Citation, ...] = ()  # nearest passages shown with an abstention, not as an answer
    table: tuple[dict, ...] = ()  # trend/comparison rows: period, value, unit, text, status, citation index, bound
    summary: str = ""  # a table answer's one-line summary, computed from its rows
    effective_question: str | None = None  # the question after resolving a follow-up
    seconds: float = 0.0
    guard_caught: tuple[str, ...] = ()  # numbers the guard found in no quote before it made this an abstention

    def to_json(self) -> dict:
        """The object `bulletin-qa ask --json` prints."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "figures": [f.to_json() for f in self.figures],
            "related": [c.to_json() for c in self.related],
            "table": list(self.table),
            "summary": self.summary,
            "effective_question": self.effective_question,
            "guard_caught": list(self.guard_caught),
        }

    def to_text(self) -> str:
        """A terminal rendering: answer, quotes, citations."""
        lines = [self.answer]
        for citation in self.citations:
            lines.append(f"  “{citation.quote}”")
            lines.append(f"  {citation.label}")
        if self.abstained and self.related:
            lines.append("  相关内容（不是答案）：")
            for citation in self.related:
                lines.append(f"  · “{shorten_quote(citation.quote)}” {citation.label}")
        return "\n".join(lines)


@lru_cache(maxsize=65536)
def token_set(text: str) -> frozenset[str]:
    """The BM25 tokens of a text, cached: the same sentences are matched against many questions."""
    return frozenset(tokenize(text))


def shorten_quote(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def numbers_in(text: str) -> list[str]:
    """Every number written with digits in text (full-width normalised), e.g. ['434', '61.5']."""
    return NUMBER_RE.findall(normalise(text))


def check_figures(answer_text: str, quotes: list[str], computed: list[str] = ()) -> list[str]:
    """Numbers in the answer that appear in none of the quotes (nor as a shown computation's result).

    Returns:
        The unsupported numbers; empty when the answer keeps the product's promise.
    """
    supported = set(computed)
    for quote in quotes:
        supported.update(numbers_in(quote))
    return [number for number in numbers_in(answer_text) if number not in supported]


@dataclass
class Question:
    """A question reduced to what matching needs."""

    text: str
    kind: str  # "figure" | "when" | "who" | "what"
    content: str  # the question without question words
    tokens: list[str]
    measure: str | None  # 个 in 多少个: the unit a figure answer must carry
    counted: str | None  # 充电桩 in 多少个充电桩, 经费 in 花了多少经费: what the figure must count
    predicate: str | None = None  # 办结 in 办结了几条: what must be said right where the figure is
    wants_target: bool = False  # asks for a plan (预期目标) rather than an outcome
    years: list[str] = field(default_factory=list)
    measured: tuple[str, ...] = ()  # what a figure question measures: 进出口总额 in '2024年进出口总额的增长目标
    weights: dict[str, float] | None = None  # token → IDF weight, filled once by the Reader
    places: list[str] = field(default_factory=list)  # places named that no indexed bulletin speaks for
    plan_answers: bool = False  # asks plainly about an indicator the bulletins mostly give as a plan (赤字率)


def analyse(question: str) -> Question:
    """Classify a question and strip it to its content words (expanded with indicator synonyms)."""
    text = normalise(question).strip()
    content = QUESTION_WORDS.sub(" ", text)
    content = re.sub(r"\s+", " ", content).strip()
    # A reading interrogative (为什么, 何职, 哪儿) asks for words, not a figure, unless 多少/几 asks an amount too.
    reading = READING_CUES.search(text) and not re.search(r"多少|几", text)
    if WHEN_CUES.search(text):
        kind = "when"
    elif WHO_CUES.search(text) and not FIGURE_CUES.search(text):
        kind = "who"
    elif FIGURE_CUES.search(text) and not re.search(r"哪个|哪些|哪家|什么", text) and not reading:
        kind = "figure"
    elif WHAT_CUES.search(text) or reading:
        kind = "what"
    else:
        kind = "figure" if re.search(r"\d", text) is None else "what"
    measure = MEASURE_AFTER_QUESTION.search(text)
    asking = measure or re.search(r"多少|几", text)
    # What is counted follows the measure word, after any verb of the question ('多少人当了流动网格员').
    after_measure = re.sub(r"^[\u4e00-\u9fff]{1,2}?了", "", text[asking.end():]) if asking else ""
    counted = re.match(r"[\u4e00-\u9fff]{2,6}", after_measure) if asking else None
    before = re.search(r"([\u4e00-\u9fff]{2})(?:了|的|是|有|到|为|在|达|共|总共|一共)*$", text[:asking.start()]) if asking else None
    predicate = before.group(1) if before and not set(before.group(1)) & STOP_CHARS else None
    # Years are matched through chunk periods, not as words: "2009年" must not outweigh 城镇新增就业.
    matchable = re.sub(r"[12][0-9]{3}\s*年|去年|今年|前年|上年|明年", " ", expand(content))
    tokens = [token for token in tokenize(matchable) if not token.isspace() and not set(token) & STOP_CHARS]
    measure_word = {"个人": "人"}.get(measure.group(2), measure.group(2)) if measure else None  # 几个人 counts 人
    measured = tuple(word for word in ASKING_WORDS_RE.split(text[:asking.start()] if asking else "")
                     if len(word) >= 3 and re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9]+", word)
                     and INDICATOR_END_RE.search(word))
    return Question(question, kind, content, tokens, measure_word,
                    counted.group() if counted else None, predicate, bool(QUESTION_PLAN_RE.search(text)),
                    question_years(question), measured)


def _home_of(bulletin: Bulletin) -> str:
    """The bulletin's own name and publisher: the place it speaks for."""
    return " ".join(filter(None, (bulletin.series, bulletin.publisher, bulletin.title, bulletin.place)))


def _paragraph_of(bulletin: Bulletin, chunk: Chunk) -> str:
    """The chunk's paragraph with its article title and section heading."""
    paragraph = bulletin.paragraphs[chunk.paragraph]
    return " ".join(filter(None, (chunk.title, chunk.section, bulletin.clean_text[paragraph.start:paragraph.end])))


def _named_in(term: str | None, text: str) -> bool | None:
    """Whether a question term is named in text (by any of its bigrams); None when there is no term."""
    if not term:
        return None
    forms = expand(term).split()
    return any(form[i:i + 2] in text for form in forms for i in range(max(len(form) - 1, 1)))


def resolve_follow_up(question: str, history: list[str]) -> str:
    """Turn a follow-up into a full question using the previous turn.

    '那新市民驿站呢？' after '全区建成了多少个友好场景？' → '新市民驿站多少个？';
    '那2024年呢？' after '2023年城镇新增就业多少人？' → '2024年城镇新增就业多少人？';
    '那它有多少名成员？' (asks for itself) → the previous question's words plus this one.
    """
    if not history:
        return question
    text = question.strip()
    previous = history[-1].strip()
    leaning = re.match(r"^(它|他们|她|其|该|这个|那个|现在|目前|后来|原来|其中)", text)
    if not FOLLOW_UP_RE.search(text) and not leaning and len(text) > 8:
        return question
    asks = re.search(r"多少|几|什么|哪|谁|何时|吗", text)
    if asks:
        if len(text) > 14 and not re.match(r"^(那么?|它|其|该)", text):
            return question
        # Asks for itself but leans on the previous subject: keep both for matching.
        own = re.sub(r"^(那么?|还有|另外)|^(它|他们|她|其|该)", "", text)
        if question_years(own) and question_years(previous):
            return own  # "那2025年的目标呢？" names its own year
        return f"{QUESTION_WORDS.sub('', previous)} {own}"
    entity = re.sub(r"^(那么?|还有|那个|另外|以及)|呢?[？?。！!]*$", "", text).strip(" ，,的")
    if not entity:
        return previous
    years = question_years(entity)
    if years and question_years(previous):
        return re.sub(r"[12１２][0-9０-９]{3}\s*年", f"{years[0]}年", previous, count=1)
    interrogative = re.search(r"(是多少|有多少|多少\w?|几\w?|有哪些|是什么|是谁|哪\w+)", previous)
    tail = interrogative.group(1) if interrogative else "是多少"
    prefix = "".join(f"{year}年" for year in question_years(previous))
    target = "目标" if QUESTION_PLAN_RE.search(previous) and not QUESTION_PLAN_RE.search(entity) else ""
    return f"{prefix}{entity}{target}{tail}？"


def effective_question(question: str, history: list[str] | None, today: date) -> tuple[str, list[str], str]:
    """What is really asked: 今年/去年 named as years (in the question and its history), then a follow-up
    resolved against the previous turn. Returns (anchored question, anchored history, effective question)."""
    turns = [anchor_relative_years(turn, today) for turn in history or []]
    anchored = anchor_relative_years(question.strip(), today)
    return anchored, turns, resolve_follow_up(anchored, turns)


class Reader:
    """Answers questions from one fixed index. Immutable once built, so concurrent asks need no lock."""

    def __init__(self, index, embedder, reranker=None, sentence_scoring: str = "learned") -> None:
        if sentence_scoring not in SENTENCE_SCORINGS:
            raise BulletinQAError(f"unknown sentence scoring {sentence_scoring!r}; choose one of "
                                  f"{', '.join(SENTENCE_SCORINGS)}")
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.sentence_scoring = sentence_scoring
        self._vectors: dict[str, np.ndarray] = {}
        # Stored with the index when it has it (qa.store.BulletinIndex.text_frequency): counting them all took
        # 4.5 s per ask at 6,917 chunks on the loaded machine.
        counted = getattr(index, "text_frequency", None)
        self._document_frequency = (counted() if counted is not None
                                    else document_frequency(chunk.text for chunk in index.chunks))
        # Build the lookups a question needs now, not on the first question.
        index.rows_by_year()
        index.vector_matrix()
        index.facts()

    # ----- weights -----
    def idf(self, token: str) -> float:
        """Inverse document frequency of a token over chunk texts."""
        total = max(len(self.index.chunks), 1)
        return math.log(1 + (total + 1) / (self._document_frequency.get(token, 0) + 0.5))

    def coverage(self, question: Question, text: str) -> float:
        """IDF-weighted share of the question's content tokens that occur in text (0..1)."""
        if not question.tokens:
            return 0.0
        if question.weights is None:
            # A single character says less than a two-character word: weigh unigrams down.
            question.weights = {token: self.idf(token) * (0.4 if len(token) == 1 and not token.isdigit() else 1.0)
                                for token in set(question.tokens)}
        weights = question.weights
        total = sum(weights.values())
        present = token_set(text)
        return sum(weight for token, weight in weights.items() if token in present) / total if total else 0.0

    def label_precision(self, question: Question, labels: list[str]) -> float:
        """IDF-weighted share of a figure label's two-character words that the question says too (0..1).

        Coverage asks whether the clause says all the question says; this asks whether the figure's own label
        says more: "全年铁路旅客运输量" is narrower than the 旅客运输总量 asked, "旅客运输总量" is exact.
        Common words (全年, 比上年) weigh little, so scope and comparison words hardly count."""
        grams = {token for label in labels for token in token_set(COMPARISON_BASE_RE.sub(" ", normalise(label)))
                 if len(token) == 2 and CJK_PAIR_RE.fullmatch(token)}
        if not grams:
            return 0.0
        asked = set(question.tokens) | token_set(question.text)  # 比上年 too, which matching leaves out
        total = sum(self.idf(gram) for gram in grams)
        return sum(self.idf(gram) for gram in grams if gram in asked) / total

    # ----- the API -----
    def ask(self, question: str, history: list[str] | None = None, filters: Filters | None = None,
            k: int = 5, method: str = "hybrid", today: date | None = None) -> Answer:
        """Answer one question (optionally a follow-up to `history`, earlier user turns) from this index.

        `today` is the day 今年/去年/前年 count from (default: the system date)."""
        started = time.perf_counter()
        cleaned = (question or "").strip()
        if not cleaned or not re.search(r"[\w\u4e00-\u9fff]", cleaned):
            return Answer(question, "请输入一个关于公报内容的问题。", True, seconds=time.perf_counter() - started)
        if len(cleaned) > 500:
            return Answer(question, "问题太长（超过 500 字），请缩短后再问。", True, seconds=time.perf_counter() - started)
        anchored, history, effective = effective_question(cleaned, history, today or date.today())
        if is_table_question(effective):
            table = self._table_answer(effective, filters)
            if table is not None:
                table = replace(table, question=question, seconds=time.perf_counter() - started,
                                effective_question=effective if effective != cleaned else None)
                return self._passages_only(guard(table))
        places, unknown = question_places(self.index, effective)
        # Retrieval narrows to the named place; the matching judges what is asked, so the place's names
        # (哈密市, 哈密) are not words to find in the answer ("全市" says it there).
        parsed = analyse(self._without_places(effective))
        parsed.places = unknown if unknown and not places else []
        searched = expand(effective)
        if effective != anchored:
            # A follow-up searches with the previous turn's words too (企事业单位 → 专项关爱行动…).
            searched += " " + QUESTION_WORDS.sub(" ", history[-1])
        # One query embedding serves retrieval and the clause-meaning step (the model is the slow part of an ask).
        query_vector = (self.embedder.embed_queries([searched])[0]
                        if self.embedder is not None and method in ("hybrid", "dense") else None)
        hits = retrieve(self.index, self.embedder, searched, k=max(k, EXTRACTION_DEPTH), filters=filters, method=method,
                        query_vector=query_vector)
        if self.reranker is not None and hits:
            hits = self.reranker(effective, hits)
        answer = self._extract(parsed, hits, query_vector)
        answer = replace(answer, question=question, seconds=time.perf_counter() - started,
                         effective_question=effective if effective != cleaned else None)
        return self._passages_only(guard(answer))

    def _passages_only(self, answer: Answer) -> Answer:
        """The answer without masthead or footer chunks among its related passages (the guard's abstention keeps
        the answer's citations as related, and a source question cites the masthead)."""
        chunks, row_of = self.index.chunks, self.index.row_of
        related = tuple(c for c in answer.related if chunks[row_of[c.chunk_id]].kind not in NOT_RELATED)
        return answer if len(related) == len(answer.related) else replace(answer, related=related)

    def _without_places(self, question: str) -> str:
        """The question without the names of indexed places."""
        for name in sorted(self.index.place_names(), key=len, reverse=True):
            question = question.replace(name, "")
        return question

    # ----- tables -----
    def _table_answer(self, question: str, filters: Filters | None) -> Answer | None:
        """A trend, comparison or target-vs-outcome answer from the fact table, one cited row per period."""
        facts = self.index.facts()
        if filters is not None and not filters.is_empty():
            admitted = {c.chunk_id for c in self.index.chunks if filters.admits(c)}
            facts = [f for f in facts if f.chunk_id in admitted]
        built = build_table(facts, question)
        if built is None:
            return None
        indicator, rows = built
        citations: list[Citation] = []
        table: list[dict] = []
        lines: list[str] = []

        def qualifier(fact) -> str:
            """左右/以上/以内 right after a target figure, as written."""
            return bound_after(self.index.bulletins[fact.file].clean_text[fact.end:fact.end + 6])

        for row in rows:
            label = f"{row.period} 年" + ("目标" if row.role == "target" else "")
            if not row.facts:
                table.append({"period": row.period, "role": row.role, "status": "missing", "text": None,
                              "value": None, "unit": None, "indicator": None, "citation": None, "bound": ""})
                lines.append(f"{label}：缺（公报中没有这一年的数据）")
                continue
            shown = []
            for fact in row.facts:
                chunk = self.index.chunks[self.index.row_of[fact.chunk_id]]
                citations.append(self._citation(chunk, fact.sentence_start, fact.sentence_end))
                value = int(fact.value) if float(fact.value).is_integer() else fact.value
                table.append({"period": row.period, "role": row.role, "status": row.status, "text": fact.text,
                              "value": value, "unit": fact.unit, "indicator": fact.indicator,
                              "citation": len(citations) - 1, "bound": qualifier(fact)})
                shown.append(f"{fact.text}{qualifier(fact)}（{fact.indicator}）")
            conflict = "；两期公报说法不同：" if row.status == "conflict" else ""
            lines.append(f"{label}：{conflict}{' / '.join(shown)}")

        stated = re.search(r"\d", re.sub(r"[12][0-9]{3}\s*年", "", question))  # a figure, not a year
        asks_outcome = (re.search(r"实际|最后|结果|最终", question) or stated) and not re.search(r"目标(是|为|定为)?(多少|几)|分别", question)
        if {row.role for row in rows} == {"target", "outcome"} and asks_outcome:
            # "目标是 1200 万以上，实际完成了多少" asks for the outcome: its quote is cited first, the target's after.
            role_of = {entry["citation"]: entry["role"] for entry in table if entry["citation"] is not None}
            order = sorted(range(len(citations)), key=lambda i: role_of.get(i) != "outcome")
            renumber = {old: new for new, old in enumerate(order)}
            citations = [citations[i] for i in order]
            for entry in table:
                if entry["citation"] is not None:
                    entry["citation"] = renumber[entry["citation"]]
        summary = summarise(indicator, rows, qualifier)
        text = "\n".join(lines) + (f"\n{summary}" if summary else "")
        figures = tuple(Figure(row["text"], row["value"], row["unit"], row["citation"])
                        for row in table if row["status"] != "missing")
        return Answer(question, text, False, tuple(citations), figures, table=tuple(table), summary=summary)

    # ----- extraction -----
    def _extract(self, question: Question, hits: list[Hit], query_vector: np.ndarray | None = None) -> Answer:
        if not hits:
            if question.places:
                reason = f"已收录的公报中没有关于{'、'.join(question.places)}的内容，无法回答。"
            elif question.years:
                reason = f"公报中没有关于 {'、'.join(question.years)} 年的内容，无法回答。"
            else:
                reason = "公报中未找到能回答这个问题的内容。"
            return Answer(question.text, reason, True)
        if question.years and not question.wants_target and not OUTCOME_CUES.search(question.text):
            indicator = asked_indicator(question.text)
            question.plan_answers = len(indicator) >= 2 and mostly_planned(facts_of(self.index.facts(), indicator))
        candidates = self._candidates(question, hits)
        candidates = self._by_meaning(question, candidates, query_vector)
        answers = bool(candidates) and candidates[0]["score"] - candidates[0]["reorder"] >= ANSWER_THRESHOLD
        if question.kind in READING_KINDS and candidates:
            # A reading question (who, what, when, why): the sentence is chosen by its evidence as a whole.
            candidates, evident = self._by_evidence(question, candidates, hits, query_vector)
            answers = answers or evident
        if candidates and answers:  # label precision reorders, never decides
            built = self._build(question, candidates[0], candidates)
            if built is not None:
                return built
        passages = [hit for hit in hits if hit.chunk.kind not in NOT_RELATED][:3]  # a masthead is no passage
        related = tuple(self._citation(hit.chunk, hit.chunk.start, hit.chunk.end) for hit in passages)
        return Answer(question.text, "公报中未找到能回答这个问题的内容。以下是最接近的段落，仅供参考，不是答案。",
                      True, related=related)

    def _sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """Document embeddings of sentences, cached by text (the same sentences answer many questions)."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            if len(self._vectors) > 50_000:
                self._vectors.clear()
            self._vectors.update(zip(missing, self.embedder.embed_documents(missing)))
        return np.stack([self._vectors[text] for text in texts])

    def sentence_evidence(self, question: Question, candidates: list[dict], hits: list[Hit],
                          query_vector: np.ndarray | None = None) -> tuple[list[dict], list[SentenceEvidence]]:
        """The best candidate of each of the first READING_DEPTH sentences, and what is known about each
        sentence (`qa.evidence`); cosines only when the embedder knows meaning and scoring is not lexical."""
        best_of: dict[tuple[str, int], dict] = {}
        for candidate in candidates:
            if "cell" in candidate:
                continue
            best_of.setdefault((candidate["chunk"].file, candidate["sentence"][0]), candidate)
            if len(best_of) >= READING_DEPTH:
                break
        chosen = list(best_of.values())
        texts = [c["bulletin"].clean_text[c["sentence"][0]:c["sentence"][1]] for c in chosen]
        cosines: list[float | None] = [None] * len(chosen)
        if chosen and self.sentence_scoring != "lexical" and self.embedder is not None \
                and getattr(self.embedder, "knows_meaning", True):
            if query_vector is None:
                query_vector = self.embedder.embed_queries([question.text])[0]
            cosines = [float(x) for x in self._sentence_vectors(texts) @ query_vector]
        top = hits[0].chunk if hits else None
        evidence = []
        for candidate, text, cosine in zip(chosen, texts, cosines):
            chunk, bulletin = candidate["chunk"], candidate["bulletin"]
            paragraph = bulletin.paragraphs[chunk.paragraph]
            before = [(s, e) for s, e in merge_enclosed(bulletin.clean_text, sentence_spans(
                bulletin.clean_text, paragraph.start, paragraph.end)) if e <= candidate["sentence"][0]]
            previous = bulletin.clean_text[before[-1][0]:before[-1][1]] if before else ""
            evidence.append(SentenceEvidence(
                lexical=candidate["score"] - candidate["reorder"], coverage=self.coverage(question, text),
                cosine=cosine, rank=candidate["rank"],
                top_paragraph=top is not None and (chunk.file, chunk.paragraph) == (top.file, top.paragraph),
                opens=candidate["sentence"][0] == paragraph.start, text=text, previous=previous,
                previous_coverage=self.coverage(question, previous) if previous else 0.0,
                joint_coverage=self.coverage(question, f"{previous}{text}")))
        return chosen, evidence

    def _by_evidence(self, question: Question, candidates: list[dict], hits: list[Hit],
                     query_vector: np.ndarray | None = None) -> tuple[list[dict], bool]:
        """Reorder a reading question's candidates by the evidence of their sentences, and say whether that
        evidence alone is strong enough to answer (the learned scorer's probability over its threshold)."""
        if self.sentence_scoring == "lexical" or candidates[0]["chunk"].kind != "body" or candidates[0].get("itself"):
            # A masthead or footer line, or a department tag （区委社工部）, won by the rules about the bulletin
            # itself (its issuers, its date, who supplied the article) is the answer to such a question; body
            # sentences are no evidence against it.
            return candidates, False
        chosen, evidence = self.sentence_evidence(question, candidates, hits, query_vector)
        if len(chosen) < 1 or evidence[0].cosine is None:
            return candidates, False
        scorer = load_scorer() if self.sentence_scoring == "learned" else None
        if scorer is not None:  # the scorer's choice, and its gate on the chosen sentence
            index, probability = scorer.judge(features(question.text, evidence))
            evident = probability >= scorer.threshold
        else:  # meaning as one hand-weighted signal beside the lexical score
            best_cosine = max(e.cosine for e in evidence)
            scores = [e.lexical + READING_SEMANTIC_WEIGHT * (e.cosine - best_cosine) for e in evidence]
            index, evident = max(range(len(chosen)), key=lambda i: scores[i]), False
        best = chosen[index]
        return [best] + [c for c in candidates if c is not best], evident

    def _by_meaning(self, question: Question, candidates: list[dict],
                    query_vector: np.ndarray | None = None) -> list[dict]:
        """Reorder the best candidates by their score plus the meaning of their clause (SEMANTIC_WEIGHT)."""
        if self.embedder is None or not getattr(self.embedder, "knows_meaning", True) \
                or question.kind not in ("figure", "what") or len(candidates) < 2:
            return candidates
        # Meaning settles near-ties only: a clear lexical verdict (a rate asked, a rate given) stands.
        # So does the kind of figure the lexical best gives (a rate, or an amount).
        kind = _rate_like(candidates[0])
        top = [c for c in candidates[:SEMANTIC_DEPTH]
               if c["score"] >= candidates[0]["score"] - SEMANTIC_MARGIN and _rate_like(c) == kind]
        if len(top) < 2:
            return candidates
        texts = []
        for candidate in top:
            text = candidate["bulletin"].clean_text
            c_start, c_end = candidate["clause"]
            if "cell" in candidate:  # a row means its label under its column: "交通通信 比上年涨跌幅度"
                texts.append(f"{candidate['cell'].label} {candidate['cell'].column}")
                continue
            if candidate["position"] > 0:  # a clause inside a sentence is read with what leads up to it
                c_start = candidate["sentence"][0]
            texts.append(text[c_start:c_end])
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question.text])[0]
        cosines = self.embedder.embed_documents(texts) @ query_vector
        best = float(np.max(cosines))
        # Meaning reorders; the lexical score still decides whether to answer at all (the threshold).
        order = sorted(range(len(top)), key=lambda i: -(top[i]["score"] + SEMANTIC_WEIGHT * (float(cosines[i]) - best)))
        chosen = {id(c) for c in top}
        return [top[i] for i in order] + [c for c in candidates if id(c) not in chosen]

    def _candidates(self, question: Question, hits: list[Hit]) -> list[dict]:
        """Score every clause of every sentence in the hits; best first."""
        found = []
        seen: set[tuple[str, int]] = set()
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            bulletin = self.index.bulletin_of(chunk)
            text = bulletin.clean_text
            if chunk.kind == "row":
                found.extend(self._cell_candidates(question, chunk, bulletin, rank))
                continue
            for s_start, s_end in self._sentences_of(bulletin, chunk):
                if (chunk.file, s_start) in seen:
                    continue
                seen.add((chunk.file, s_start))
                sentence = text[s_start:s_end]
                sentence_score = self.coverage(question, _with_context(chunk, sentence))
                clauses = clause_spans(text, s_start, s_end) if chunk.kind == "body" else [(s_start, s_end)]
                for position, (c_start, c_end) in enumerate(clauses):
                    clause = text[c_start:c_end]
                    window_start = clauses[max(position - 1, 0)][0]
                    if chunk.kind != "body":
                        window = _with_context(chunk, clause) + " " + _line_label(clause, bulletin)
                    elif question.kind == "figure":
                        window = text[window_start:c_end]  # "持证人数达 434 人，同比增长 61.5%": the figure's subject may precede
                    else:
                        window = clause
                    clause_score = max(self.coverage(question, clause), 0.8 * self.coverage(question, window))
                    figures = [figure for figure in parse_figures(clause) if not names_a_year_or_note(clause, figure)]
                    precision = 0.0
                    score = 0.6 * clause_score + 0.4 * sentence_score
                    score += 0.05 * self.coverage(question, clause)  # ties go to the clause that says it itself
                    score += 0.04 / (1 + rank)
                    if question.years:
                        if chunk.period in question.years:
                            score += 0.1  # the chunk speaks about the asked year, not just names it
                        elif not any(f"{year}年" in normalise(sentence) for year in question.years):
                            score -= 0.2  # another year's passage that merely mentions the year elsewhere
                    for place in PLACE_RE.findall(normalise(question.text)):
                        # "二七区的持证社工" is never answered by the figure for 上街区, nor "峡窝镇有多少个网格"
                        # by the district's 255 网格: a place must be named where the figure is, unless it is
                        # the bulletin's own (上街区 in 中共上街区委办公室).
                        if not place.endswith(NOT_PLACES) and place not in _home_of(bulletin) \
                                and place not in _paragraph_of(bulletin, chunk):
                            score -= 1.0
                    itself = False  # won by a rule about the bulletin itself (its department, publisher, date)
                    if SOURCE_CUES.search(question.text):
                        tagged = chunk.department and f"（{chunk.department}）" in sentence
                        if tagged or (chunk.kind == "masthead" and clause.strip() and clause.strip() in (bulletin.publisher or "")):
                            # "哪个部门供稿" → the department tag; "哪个单位办的" → the publisher line
                            score = max(score + 0.5, ANSWER_THRESHOLD + 0.3)  # over the title line that names the bulletin
                            itself = True
                    if question.kind == "when" and chunk.kind == "masthead" and ISSUE_SELF_RE.search(question.text) \
                            and DATE_TEXT_RE.search(clause):
                        # "这期简报是什么时候印发的" asks for the issue's own date: its masthead line; the issue the
                        # question names (上街信息) first, else the newest — "这期" is the one just out.
                        named = self.coverage(question, _home_of(bulletin) + " " + clause) >= 0.5
                        day = chunk.date or (f"{bulletin.year}-00-00" if bulletin.year else "0")
                        newest = int(re.sub(r"\D", "", day) or 0) / 1e9  # 2026-02-12 → 0.0202…
                        score = max(score, ANSWER_THRESHOLD + 0.2 + 0.1 * named + newest)
                        itself = True
                    if question.kind == "when" and not TIME_TEXT_RE.search(normalise(clause)):
                        continue  # a time question is answered by a clause that holds a time (2026年2月, 公元前25年)
                    if question.kind == "figure":
                        if not figures and not CN_FIGURE_RE.search(clause):
                            continue
                        # the fact table says which figures are plans (5%左右, 拟按3%, a 主要预期目标 list)
                        planned = "target" in self.index.facts().kinds_between(chunk.file, c_start, c_end)
                        score += self._figure_fit(question, clause, window, figures, planned)
                        labels = [clause[:figures[0][0]] if figures else clause]
                        own = re.sub(r"[^\u4e00-\u9fff]", "", COMPARISON_BASE_RE.sub("", labels[0]))
                        if position > 0 and len(own) <= 2:
                            # "…2929.40亿元，比上年增长5.4%": a label that is only a verb has the sentence's subject
                            head = text[clauses[0][0]:clauses[0][1]]
                            labels.append(head[:(parse_figures(head) or [(len(head),)])[0][0]])
                        precision = PRECISION_WEIGHT * self.label_precision(question, labels)
                        score += precision
                    found.append({"score": score, "reorder": precision, "chunk": chunk, "bulletin": bulletin,
                                  "sentence": (s_start, s_end), "clause": (c_start, c_end),
                                  "clauses": clauses, "position": position, "figures": figures, "rank": rank,
                                  "itself": itself})
        found.sort(key=lambda c: -c["score"])
        return found

    def _cell_candidates(self, question: Question, chunk: Chunk, bulletin: Bulletin, rank: int) -> list[dict]:
        """The best figure cell of a table row, as a candidate like a clause's (a figure question only)."""
        table = table_of(bulletin, chunk.paragraph)
        if question.kind != "figure" or table is None:
            return []
        cells = score_cells(question.text, chunk.text, table, lambda text: self.coverage(question, text))
        if not cells:
            return []
        best = cells[0]
        precision = PRECISION_WEIGHT * self.label_precision(question, [best.label])
        score = best.score + 0.04 / (1 + rank) + precision
        if question.years and chunk.period in question.years:
            score += 0.1
        span = (chunk.start, chunk.end)
        return [{"score": score, "reorder": precision, "chunk": chunk, "bulletin": bulletin, "sentence": span, "clause": span,
                 "clauses": [span], "position": 0, "figures": [], "cell": best, "rank": rank}]

    @staticmethod
    def _figure_fit(question: Question, clause: str, window: str, figures: list, planned: bool) -> float:
        """Bonus or penalty for how well a clause's figures fit what the question asks."""
        adjustment = 0.0
        units = [unit for *_, unit in figures if unit] + (["%"] if "百分之" in clause else [])
        if RATE_CUES.search(question.text) and units:
            # "经济增速是多少" is answered by a percentage, not by "67.7万亿元" or "1个百分点的增量"
            adjustment += 0.1 if "%" in units else -0.15
        if AMOUNT_CUES.search(question.text) and units:
            adjustment += -0.15 if all(unit == "%" for unit in units) else 0.05
        labels = [clause[(figures[i - 1][1] if i else 0):start] for i, (start, *_) in enumerate(figures)]
        if labels and all(unasked_qualifiers(label, question.text) for label in labels):
            adjustment -= 0.3  # "2022年城镇新增就业" is not "年均1270多万人", 地区生产总值 not 人均地区生产总值
        for word in question.measured:
            if not _mostly_named_in(word, window):
                adjustment -= 0.3  # "进出口总额的增长目标" is not answered by "经济增长预期目标为5%左右"
        if DIFFERENCE_CUES.search(question.text) and FROM_TO_RE.search(window):
            return 0.2  # "增加了几家" is answered by "16 家…扩充至 29 家", whatever the measure word
        if question.measure:
            compatible = any(question.measure in unit or unit in question.measure
                             or UNIT_GROUPS.get(unit, unit) == UNIT_GROUPS.get(question.measure) for unit in units)
            generic = question.measure == "个" and units and "%" not in units and _named_in(question.counted, clause)
            if units and all(unit == "%" for unit in units) and question.measure in COUNT_UNITS:
                adjustment -= 0.5  # "几个小区" is never answered by "98%"
            elif not compatible and not generic:
                adjustment -= 1.0  # "多少个充电桩" is not answered by "69 条", "多少名成员" not by "80 周年"
        counted = _named_in(question.counted, window)
        if counted is False:
            adjustment -= 0.25  # the thing counted (经费, 参赛) must be named where the figure is
        elif counted:
            if not _mostly_named_in(question.counted, window):
                adjustment -= 0.1  # '专职网格员' is only half named by '流动网格员'
            nouns = _figure_nouns(clause, figures)
            if nouns and not any(_named_in(question.counted, noun) for noun in nouns):
                adjustment -= 0.3  # named, but the figure counts something else: "充电桩等建议 69 条"
        predicate = _named_in(question.predicate, clause)
        if predicate:
            adjustment += 0.15  # "办结了几条" → the clause that says 办结
        if question.years:
            if question.wants_target and not planned:
                adjustment -= 1.0  # a target question is never answered by the outcome
            elif planned and not question.wants_target:
                # "2009年增长了多少" asks for what happened, never the plan "8%左右"; a plain "2023年的赤字率是多少"
                # may be answered by the plan when the year has nothing else (赤字率拟按3%安排), which its quote shows.
                adjustment -= 0.3 if question.plan_answers else 1.0
        return adjustment

    def _sentences_of(self, bulletin: Bulletin, chunk: Chunk) -> list[tuple[int, int]]:
        """Whole sentences of the chunk's paragraph that overlap the chunk (quotes are whole sentences)."""
        paragraph = bulletin.paragraphs[chunk.paragraph]
        if chunk.kind != "body":
            # Masthead or footer: each line is a quote of its own (第 8 期; 责任编辑：柴亚文).
            return [(p.start, p.end) for p in bulletin.paragraphs
                    if p.kind == chunk.kind and chunk.start <= p.start < chunk.end]
        spans = merge_enclosed(bulletin.clean_text, sentence_spans(bulletin.clean_text, paragraph.start, paragraph.end))
        return [(s, e) for s, e in spans if e > chunk.start and s < chunk.end]

    def _build_cell(self, best: dict) -> Answer:
        """A table-cell answer: the row as the quote, the header row and the caption cited after it."""
        bulletin, chunk, cell = best["bulletin"], best["chunk"], best["cell"]
        citations = [self._citation(chunk, chunk.start, chunk.end)]
        for paragraph in (cell.table.header_paragraphs[-1:] + ((cell.table.caption_paragraph,)
                                                               if cell.table.caption_paragraph is not None else ())):
            spot = bulletin.paragraphs[paragraph]
            citations.append(self._citation(chunk, spot.start, spot.end, paragraph=paragraph))
        figures = tuple(Figure(text, value, unit, 0) for *_, text, value, unit in parse_figures(cell.cell))
        return Answer(chunk.text, cell_answer(cell), False, tuple(citations), figures)

    def _build(self, question: Question, best: dict, candidates: list[dict]) -> Answer | None:
        if "cell" in best:
            return replace(self._build_cell(best), question=question.text)
        text = best["bulletin"].clean_text
        chunk = best["chunk"]
        s_start, s_end = best["sentence"]
        c_start, c_end = best["clause"]
        clause = text[c_start:c_end].rstrip("，；：,;:。！？")
        if len(clause) < 8:
            clause = text[s_start:s_end].rstrip("。！？")
        citation = self._citation(chunk, s_start, s_end)
        figures: list[Figure] = []
        if question.kind == "figure":
            lead = self._figure_lead(question, best, text)
            if lead is None:
                return None
            asked, context, shown = lead
            for figure_text, value, unit in shown:
                figures.append(Figure(figure_text, value, unit, 0))
            computed = self._difference(question, candidates, text)
            if computed:
                asked = computed[0]  # "增加了几家" leads with the difference, then says how it was got
            answer_text = (f"{asked}{LEAD_DASH}" if asked else "") + f"{context}。" + (computed[1] if computed else "")
        elif question.kind == "what" or question.kind == "who":
            entity = self._entity(question, text[c_start:c_end], text[s_start:s_end], chunk)
            context = clause.strip("（）()")  # the tag （区委社工部） is its own clause: no （（…））
            answer_text = (f"{entity}。" if context in entity else f"{entity}。（{context}）") if entity else f"{clause}。"
        else:  # when: the date as the bulletin prints it (an ISO form would show digits the quote lacks)
            answer_text = f"{clause}。"
        others = [self._citation(c["chunk"], *c["sentence"]) for c in candidates[1:6]
                  if c["sentence"] != best["sentence"] and c["score"] - c["reorder"] >= ANSWER_THRESHOLD]
        unique = [citation]
        for other in others:
            if all(other.quote != seen.quote for seen in unique):
                unique.append(other)
        return Answer(question.text, answer_text, False, tuple(unique[:3]), tuple(figures))

    def _figure_lead(self, question: Question, best: dict, text: str) -> tuple[str | None, str, list] | None:
        """The figure asked (None if none stands out), the words that say it, and every figure shown: the
        clause, resolving lists ('A、B、C…提升至 x、y、z') to one member."""
        c_start, c_end = best["clause"]
        clause = text[c_start:c_end].rstrip("，；：,;:。")
        member = resolve_list_member(question, clause, lambda text: self.coverage(question, text))
        if member is not None:
            label, figure = member
            parsed = parse_figures(figure)
            shown = [(p[2], p[3], p[4]) for p in parsed]
            return figure, label, shown
        pieces = [clause]
        # A following clause that qualifies the figure (同比增长 61.5%) belongs to the answer.
        clauses = best["clauses"]
        position = best["position"]
        if position + 1 < len(clauses):
            following = text[clauses[position + 1][0]:clauses[position + 1][1]].rstrip("，；：,;:。")
            # only a change of the same figure (同比增长 61.5%), not the next fact (其中…, 年内新增…)
            if re.match(r"^(同比|比上年|较上年|增长|下降|提高|增幅|较|比)", following) and parse_figures(following):
                pieces.append(following)
        context = "，".join(pieces)
        lead = asked_figure(question, context, lambda words: self.coverage(question, words))
        shown = [(p[2], p[3], p[4]) for piece in pieces for p in parse_figures(piece)]
        return lead, context, shown

    def _difference(self, question: Question, candidates: list[dict], text: str) -> tuple[str, str] | None:
        """'16 家…扩充至 29 家' asked as 增加了多少: show the subtraction with both quoted figures."""
        if not DIFFERENCE_CUES.search(question.text):
            return None
        best = candidates[0]
        window = normalise(text[best["clauses"][max(best["position"] - 1, 0)][0]:best["clause"][1]])
        pair = FROM_TO_RE.search(window)
        if not pair or pair.group(2) != pair.group(4):
            return None
        first, unit, second = float(pair.group(1)), pair.group(2), float(pair.group(3))
        difference = round(abs(second - first), 6)
        shown = _plain(difference)
        unit = "个百分点" if unit == "%" else unit
        return f"{shown} {unit}", f"（计算：{_plain(max(first, second))} − {_plain(min(first, second))} = {shown} {unit}）"

    def _entity(self, question: Question, clause: str, sentence: str, chunk: Chunk) -> str | None:
        """For 'which/what/who' questions: a quoted name or tag in the answering clause (else its sentence),
        preferring one that ends like the noun asked about (合唱团, 工作法, 品牌, 部门)."""
        asked = re.search(r"(?:哪个|哪些|哪家|什么|哪一个|哪一)([\u4e00-\u9fff]{1,6})", normalise(question.text))
        noun = asked.group(1) if asked else ""
        if question.kind == "who":
            for key in re.findall(r"[\u4e00-\u9fff]{2,8}", question.content):
                for size in range(len(key), 1, -1):
                    match = re.search(re.escape(key[:size]) + r"\s*[：:是为]\s*([\u4e00-\u9fff]{2,4})", sentence)
                    if match:
                        return match.group(1)
        if re.match(r"部门|单位|机关", noun) and chunk.department and chunk.department in sentence:
            return chunk.department  # "哪个部门供稿" → the department tag （区委社工部）
        bulletin = self.index.bulletin_of(chunk)
        if chunk.kind == "masthead" and bulletin.publisher and bulletin.publisher in sentence:
            return bulletin.publisher
        part = bulletin.part_of(chunk.paragraph)
        if chunk.kind == "masthead" and part and part.publisher and SOURCE_CUES.search(question.text) \
                and any(office in part.publisher for office in sentence.split()):
            return part.publisher  # "由哪些单位发布": every issuer, though each stands on a line of its own
        tail = noun[-2:] if len(noun) >= 2 else noun

        def fits(name: str, text: str) -> bool:
            # “周联系、月走访、季汇报”机制 fits 工作机制; “灵芝雀合唱团” fits 合唱团
            follows = re.search(re.escape(name) + r"[”\"》]" + re.escape(tail), text) if tail else None
            return bool(tail) and (name.endswith(tail) or bool(follows) or any(noun[:n] in name for n in (3, 2)))

        candidates = [(text, [n for n in NAME_RE.findall(text) if n not in question.text]) for text in (clause, sentence)]
        for text, names in candidates:
            fitting = [name for name in names if fits(name, text)]
            if fitting:
                return f"“{fitting[0]}”"
        for _, names in candidates:
            if names and not noun:
                return f"“{names[0]}”"
        return None

    def _citation(self, chunk: Chunk, start: int, end: int, paragraph: int | None = None) -> Citation:
        """A quote of [start, end) cited by the chunk it belongs to (or another paragraph of its bulletin:
        a table's header row and caption)."""
        bulletin = self.index.bulletin_of(chunk)
        quote = bulletin.clean_text[start:end]
        label = chunk.citation()
        if paragraph is not None and paragraph != chunk.paragraph:
            label = re.sub(r"第 \d+ 段$", f"第 {paragraph + 1} 段", label)
        return Citation(chunk.chunk_id, chunk.file, chunk.series, chunk.issue, chunk.date, chunk.title,
                        chunk.section, (chunk.paragraph if paragraph is None else paragraph) + 1, quote, start, end,
                        label)


class Assistant:
    """The Python API: open an index once, `ask` questions, `add_files` as new issues arrive.

    Each ask answers from the index that was live when it started; `add_files` builds the new index
    aside and swaps it in with one assignment, so concurrent questions never see half an update.
    """

    def __init__(self, index, embedder, reranker: str | None = None, index_dir: Path | None = None,
                 corpus_dir: Path | None = None, today: date | None = None, sentence_scoring: str = "learned") -> None:
        self.embedder = embedder
        self.sentence_scoring = sentence_scoring  # how reading questions choose a sentence (SENTENCE_SCORINGS)
        self.today = today  # the day 今年/去年 count from; None: the system date at each ask
        self.index_dir = index_dir
        self.corpus_dir = corpus_dir
        self._reranker = _load_reranker(reranker) if reranker else None
        self._reader = Reader(index, embedder, self._reranker, sentence_scoring)
        self._update_lock = threading.Lock()
        self.last_update: str | None = None

    def score_sentences_by(self, scoring: str) -> None:
        """Choose reading questions' sentences by `scoring` from now on (one of SENTENCE_SCORINGS)."""
        self._reader = Reader(self._reader.index, self.embedder, self._reranker, scoring)
        self.sentence_scoring = scoring

    @property
    def update_lock(self) -> threading.Lock:
        """Held while the index is written (`add_files`, a background build): one writer of this assistant at a time."""
        return self._update_lock

    def use(self, index, embedder) -> None:
        """Answer from now on from this index with this embedder (e.g. a built index replacing a keyword-only one)."""
        self.embedder = embedder
        self._reader = Reader(index, embedder, self._reranker, self.sentence_scoring)
        self.last_update = index.updated

    @property
    def index(self):
        """The live index."""
        return self._reader.index

    milvus = None  # the qa.milvus.MilvusTarget the index lives in, when it is in Milvus

    @classmethod
    def open(cls, index_dir: Path | None, model: str | None = None, reranker: str | None = None,
             corpus_dir: Path | None = None, progress: bool = True, today: date | None = None,
             milvus=None, backend: str | None = None) -> "Assistant":
        """Load the embedder and the index in index_dir (refusing an index built with another model, or embedded by
        a backend whose vectors this one's do not match).

        Args:
            backend: how the model runs: torch, onnx or onnx-int8 (`qa.embed.load_embedder`).
            corpus_dir: when given, the index is first built or brought up to date from this folder
                (only new or changed files are embedded; nothing is written when nothing changed).
            milvus: a `qa.milvus.MilvusTarget`: the index is in Milvus there instead of in index_dir.
        """
        from qa.embed import load_embedder
        from qa.store import BulletinIndex, update_index

        embedder = load_embedder(model, progress=progress, backend=backend)
        if milvus is not None:
            from qa.milvus_update import open_milvus

            index, report = open_milvus(milvus, embedder, corpus_dir, progress=progress)
            for name, reason in report.files_refused.items():
                print(f"warning: {name} was not indexed: {reason}", file=sys.stderr)
        elif corpus_dir is not None:
            index, report = update_index(corpus_dir, index_dir, embedder, progress=progress)
            for name, reason in report.files_refused.items():
                print(f"warning: {name} was not indexed: {reason}", file=sys.stderr)
        else:
            index = BulletinIndex.load(index_dir, embedder)
        assistant = cls(index, embedder, reranker, index_dir=index_dir, corpus_dir=corpus_dir, today=today)
        assistant.milvus = milvus
        assistant.last_update = index.updated
        return assistant

    def ask(self, question: str, history: list[str] | None = None, filters: Filters | None = None,
            k: int = 5, method: str = "hybrid", today: date | None = None) -> Answer:
        """Answer one question (optionally a follow-up to `history`, earlier user turns; 今年/去年 counted
        from `today`, else the assistant's date, else the system date). An index without vectors (or no
        embedder yet) answers by BM25 alone."""
        reader = self._reader
        if reader.embedder is None or not getattr(reader.index, "has_vectors", True):
            method = "bm25"
        return reader.ask(question, history=history, filters=filters, k=k, method=method, today=today or self.today)

    def add_files(self, paths: list[Path], progress: bool = True):
        """Add bulletin files (e.g. uploads) to the corpus folder and update the index incrementally.

        Each file is read and checked before it is copied; a bad file is refused with its reason and
        nothing of it reaches the corpus or the index. Names are sanitised; the same text under
        another name is recognised and not added twice.

        Returns:
            The `UpdateReport`, with refused uploads in `files_refused` under their original names.
        """
        from qa.store import UpdateReport, update_index
        from qa.upload import stage_uploads

        if self.corpus_dir is None or (self.index_dir is None and self.milvus is None):
            raise BulletinQAError("this assistant was opened without a corpus folder; cannot add files")
        with self._update_lock:
            if self.embedder is None:
                raise BulletinQAError("the index is not built yet (no embedding model loaded); cannot add files")
            refused, staged = stage_uploads(paths, self.corpus_dir, self.index)
            report = UpdateReport()
            if staged:
                if self.milvus is not None:
                    from qa.milvus_update import update_milvus

                    index, report = update_milvus(self.corpus_dir, self.milvus, self.embedder, progress=progress,
                                                  client=self.index.client)
                else:
                    index, report = update_index(self.corpus_dir, self.index_dir, self.embedder, progress=progress)
                report.saved_as = staged
                self._reader = Reader(index, self.embedder, self._reranker, self.sentence_scoring)
                self.last_update = index.updated
            for name, refusal in refused.items():
                report.refuse(name, refusal)
            return report

    def status(self) -> dict:
        """What the index holds: issues per series, the years of publication they span, chunks, model, last
        update (ISO 8601, UTC)."""
        index = self.index
        issues: dict[str, list[str]] = {}
        for bulletin in index.bulletins.values():
            issues.setdefault(bulletin.series, []).append(bulletin.issue or "?")
        years = sorted(str(b.year) if b.year else b.date[:4] for b in index.bulletins.values() if b.year or b.date)
        return {
            "years": (years[0], years[-1]) if years else None,
            "issues": {series: sorted(found, key=lambda v: (len(v), v)) for series, found in issues.items()},
            "files": len(index.bulletins),
            "chunks": len(index.chunks),
            "model": index.model.get("name"),
            "retrieval": "hybrid" if self._reader.embedder is not None and index.has_vectors else "bm25",
            "last_update": self.last_update,
        }


def _rate_like(candidate: dict) -> bool:
    """Whether a candidate's figure is a rate (%, 百分之…) rather than an amount or count."""
    if "cell" in candidate:
        return candidate["cell"].unit == "%" or "%" in candidate["cell"].column
    text = candidate["bulletin"].clean_text[candidate["clause"][0]:candidate["clause"][1]]
    return any(unit == "%" for *_, unit in candidate["figures"]) or "百分之" in text


def names_a_year_or_note(clause: str, figure: tuple) -> bool:
    """A year ('2021-2023 年', '2025年') or a footnote mark ('[3]') is no figure that answers 'how much'."""
    start, end, text, value, unit = figure
    if clause[max(start - 1, 0):start] in ("[", "［") and clause[end:end + 1] in ("]", "］"):
        return True
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


def _mostly_named_in(term: str, text: str) -> bool:
    """Whether more than half the bigrams of each part of a term (or of a synonym) are in text.
    '专职网格员' → 专职 职网 网格 格员: only 2 of 4 in '流动网格员', so not."""
    for form in expand(term).split():
        parts = [p for p in re.split(r"这类|这些|之类|这种|等|的", form) if len(p) >= 2]
        if parts and all(sum(p[i:i + 2] in text for i in range(len(p) - 1)) * 2 > len(p) - 1 for p in parts):
            return True
    return False


def _figure_nouns(clause: str, figures: list) -> list[str]:
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


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _line_label(line: str, bulletin: Bulletin) -> str:
    """Field words for one masthead or footer line, which carries none of its own (中共上街区委办公室 is the
    publisher; 发：… is the distribution list)."""
    line = line.strip()
    if line == (bulletin.publisher or "").strip():
        return "主办单位 编印单位 出版单位 哪个单位办 谁办"
    if DATE_TEXT_RE.search(line):
        return "日期 时间 哪天 印发 出版 发布"
    if re.search(r"第\s*\d+\s*期", line):
        return "期号 第几期 期数 哪一期"
    if line == bulletin.series:
        return "刊名 名称 简报 信息"
    if line.startswith("本期送"):
        return "报送 送给 呈送 领导 给谁看"
    if re.match(r"^(发|抄送|抄报)[：:]", line):
        return "发送 发到 分发 下发 发给 哪些单位"
    if line.startswith(("责任编辑", "编辑")):
        return "编辑 负责 谁编"
    return ""


def _with_context(chunk: Chunk, sentence: str) -> str:
    """A sentence plus its headings, so '一是建强骨干队伍' context counts toward matching. A masthead or footer
    line is matched with the whole masthead or footer (上街信息 … 第 8 期 … 2026 年 2 月 12 日)."""
    if chunk.kind != "body":
        return f"{chunk.embed_text} {chunk.series}"
    return " ".join(part for part in (chunk.section, chunk.subsection, chunk.item, sentence) if part)


def resolve_list_member(question: Question, clause: str, coverage) -> tuple[str, str] | None:
    """'园区、重点非公企业、社会组织、行业协会商会党组织覆盖率提升至 92.5%、87%、94%、91%' + a question about
    社会组织 → ('社会组织党组织覆盖率', '94%'). None when the clause is not such a parallel list.

    A suffix shared by the list is written once, after its last member; it spreads over every member. The
    shared part is what the last name has beyond the width of the others when they are all of one width
    ('城市学校、农村学校团组织覆盖率'), else the longest end of the last name that the question also says,
    leaving the last member at least one character of its own ('第一、二、三产业增加值占…比重' asked about 第三产业… → 产业增加值占…比重).
    A member that already ends as the suffix begins is not doubled ('城市学校、农村学校团组织…')."""
    figure_list = LIST_FIGURES_RE.search(clause)
    if not figure_list:
        return None
    figures = [f.strip() for f in LIST_SEPARATOR_RE.split(figure_list.group(1)) if f.strip()]
    head = clause[:figure_list.start()]
    verb = re.search(r"(提升至|提高到|提高至|达到|达|分别为|分别是|分别达|增至|降至|为)\s*$", head)
    subject = head[:verb.start()] if verb else head
    names = [name for name in LIST_SEPARATOR_RE.split(subject) if name]
    if len(names) != len(figures) or len(names) < 2:
        return None
    asked = normalise(question.text).replace("的", "")
    last = names[-1]
    widths = {len(name) for name in names[:-1]}
    if len(widths) == 1 and len(last) > min(widths) + 1:
        tail = last[min(widths):]  # members of one width ("第一产业、第二产业、第三产业增加值…"): the rest is shared
    else:
        tail = next((last[cut:] for cut in range(1, len(last) - 1) if last[cut:].replace("的", "") in asked), "")
    if tail:
        names[-1] = last[:len(last) - len(tail)]
    full = []
    for name in names:
        overlap = next((k for k in range(min(len(name), len(tail)), 0, -1) if name.endswith(tail[:k])), 0)
        full.append(name + tail[overlap:])
    said = [i for i, name in enumerate(full) if normalise(name).replace("的", "") in asked]
    if len(said) == 1:
        best = said[0]
    else:
        scores = [coverage(name) for name in full]
        best = max(range(len(full)), key=lambda i: scores[i])
        if scores[best] <= 0 or sorted(scores)[-1] == sorted(scores)[-2]:
            return None
    return full[best].strip(), figures[best]


def unsupported_figures(answer: Answer) -> list[str]:
    """Numbers in an answer that none of its quotes holds. Allowed besides the quotes: the result of a shown
    computation ('29 − 16 = 13') and a table row's period label ('2023 年', from the row's citation)."""
    if answer.abstained:
        return []
    computed = re.findall(r"=\s*(\d+(?:\.\d+)?)", answer.answer)
    computed += [row["period"] for row in answer.table]
    return check_figures(answer.answer, [c.quote for c in answer.citations], computed)


def guard(answer: Answer) -> Answer:
    """Downgrade an answer whose numbers are not all in its quotes to an abstention (the product's promise);
    the abstention keeps the caught numbers in `guard_caught`, so the eval can count what the guard stopped."""
    if answer.abstained:
        return answer
    unsupported = unsupported_figures(answer)
    if unsupported:
        return Answer(answer.question, "公报中未找到能可靠支持这个答案的原文，暂不作答。", True,
                      related=answer.citations, effective_question=answer.effective_question,
                      seconds=answer.seconds, guard_caught=tuple(unsupported))
    return answer


def _load_reranker(name: str):
    """A cross-encoder rerank hook: rescore hits with sentence-transformers' CrossEncoder (off by default)."""
    try:
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(name, device="cpu")
    except Exception as error:  # any load failure becomes one readable error
        raise BulletinQAError(f"cannot load reranker {name!r}: {error}. Give a local cross-encoder folder, "
                              f"or leave --reranker unset.") from error

    def rerank(question: str, hits: list[Hit]) -> list[Hit]:
        scores = model.predict([(question, hit.chunk.text) for hit in hits])
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [replace(hits[i], score=float(scores[i])) for i in order]

    return rerank


