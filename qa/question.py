"""A question reduced to what matching needs: its kind (figure, when, who, what), content words, the measure
and thing it counts, years, and whether it asks for a plan; follow-ups resolved against the previous turn."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from qa.cues import NOT_AFTER_COMPARISON, QUESTION_PLAN_RE, RELATIVE_YEARS
from qa.parse import YEAR_RE, to_int
from qa.synonyms import expand
from qa.tokens import normalise, tokenize

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
RATE_CUES = re.compile(r"增速|增长率|增幅|涨幅|比例|比重|占比|百分|率|(增长|下降|提高|降低|上涨)了?(多少|几)(?![万亿千百]?[人个家元件条项名次户台辆吨斤亩])")
ISSUE_SELF_RE = re.compile(r"这期|本期|这一期|该期|这份|印发|出版|刊发|编印|发行|发布|落款|标注|公报")
SOURCE_CUES = re.compile(r"哪个部门|哪个单位|哪家单位|哪些单位|哪些部门|哪个机构|哪些机构|谁办|主办|编印|供稿|来源|出自|谁写|"
                         r"哪个部门写|发布单位|发布机构|由谁发布|谁发布")
# "国内生产总值总量" asks for an amount, never for a ratio to GDP.
AMOUNT_CUES = re.compile(r"总量|总额|总值是|规模|多少钱|多少元|多少亿|多少万亿")
# An indicator is named by a noun phrase that ends like one (失业率, 进出口总额, 单位GDP能耗); other words before
# 多少 are mostly the asker's verbs ('一年里指导开展了多少场'), which the text words differently.
INDICATOR_END_RE = re.compile(r"(率|额|值|量|数|比例|比重|指数|能耗|收入|支出|赤字|价格|涨幅|增速)$")
# Words of a figure question that say how it is asked, not what is measured ('…的增长预期目标是多少').
ASKING_WORDS_RE = re.compile(r"[12][0-9]{3}\s*年(?:度)?|全年|年度|预期|目标|计划|实际|大概|大约|一共|总共|共计|"
                             r"要|定在|定为|定了|是|的|有|为|达到|达|了|在|多少|几|怎样|如何|[？?，,。！!、\s]")
FOLLOW_UP_RE = re.compile(r"^(那么?|还有|那个|另外|以及)|呢[？?]?$")
DIFFERENCE_CUES = re.compile(r"(增加|增长|多了|扩充|提高|提升|上升|减少|下降|降低|少了)(了)?(多少|几)")
MEASURE_AFTER_QUESTION = re.compile(r"(?:多少|几)(万|亿)?(个人|位|个|家|人次|人|支|件|条|场|项|名|块|次|所|座|元|亩|吨|斤|天|倍|处|份|套|批|辆|台|张|本|篇|期)")
# A question about what happened, not what was planned: "实际增长了多少", "完成了多少".
OUTCOME_CUES = re.compile(r"实际|完成|实现|最终|结果|了多少|了几")
# "从 65% 提升至 98%", "16 家…扩充至 29 家" (FROM_TO_RE): the first figure is where a change started; asked
# 原来 it is the answer.
ORIGINAL_CUES = re.compile(r"原来|原先|以前|之前|起初|最初|从多少")
# A change asked (增减了多少, 变化) is answered by the figure after its direction word (下降6.9%).
CHANGE_CUES = re.compile(r"增减|变化|变动|涨跌|增长|下降|上涨|提高|降低")
READING_KINDS = ("what", "who", "when")


def question_years(question: str) -> list[str]:
    """Years a question asks about explicitly ('2023年城镇新增就业…' → ['2023'])."""
    return [str(to_int(match.group(1))) for match in YEAR_RE.finditer(question)]


# Relative years in a question count from the day it is asked. Not after 比/较/同: '比去年增长多少' compares.
RELATIVE_YEAR_RE = re.compile(NOT_AFTER_COMPARISON + "(" + "|".join(RELATIVE_YEARS) + ")")


def anchor_relative_years(question: str, today: date) -> str:
    """Name the year a relative word means: '去年城镇新增就业多少人？' asked in 2026 → '2025年城镇新增就业多少人？'.

    A question that names a year already keeps its own words ('2024年比去年…' compares with the year before)."""
    if question_years(question):
        return question
    return RELATIVE_YEAR_RE.sub(lambda match: f"{today.year + RELATIVE_YEARS[match.group(1)]}年", question)


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
    weights: dict[str, float] | None = None  # token → IDF weight, filled once by the Answerer
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
    matchable = re.sub(r"[12][0-9]{3}\s*年|" + "|".join(RELATIVE_YEARS), " ", expand(content))
    tokens = [token for token in tokenize(matchable) if not token.isspace() and not set(token) & STOP_CHARS]
    measure_word = {"个人": "人"}.get(measure.group(2), measure.group(2)) if measure else None  # 几个人 counts 人
    measured = tuple(word for word in ASKING_WORDS_RE.split(text[:asking.start()] if asking else "")
                     if len(word) >= 3 and re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9]+", word)
                     and INDICATOR_END_RE.search(word))
    return Question(question, kind, content, tokens, measure_word,
                    counted.group() if counted else None, predicate, bool(QUESTION_PLAN_RE.search(text)),
                    question_years(question), measured)


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
