"""Figures, sentences and clauses in bulletin text: the shared vocabulary of answers and the fact table.

Pure functions over the clean text; every span is an absolute offset, so a quote is a lookup.
"""

from __future__ import annotations

import re

from qa.tokens import normalise

# An answer leads with the figure asked, then what says it: "434 人 —— 全区持证人数达 434 人".
LEAD_DASH = " —— "

SENTENCE_RE = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’」』）)]*|$)")
# Clauses end after ，；：, except a comma that groups thousands (older reports: 33，212万吨).
CLAUSE_SPLIT_RE = re.compile(r"(?<=[；：;:\n])|(?<=[，,])(?!(?<=\d[，,])\d{3}(?!\d))")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")  # used on NFKC-normalised text
# Units a figure may carry, longest first where one begins another (statistical tables print them in a
# 单位 column or in a header's brackets, so they are known words of the format, not of one office).
UNIT_WORDS = (
    "个百分点", "万人次", "人次", "户次", "平方公里", "平方米", "立方米", "千瓦时", "千瓦", "标准箱", "吨公里",
    "人公里", "公里", "千米", "公顷", "公斤", "元", "人", "个", "家", "户", "支", "件", "条", "场", "项", "名",
    "块", "次", "所", "座", "米", "亩", "吨", "斤", "年", "天", "月", "倍", "处", "份", "套", "批", "期", "类",
    "辆", "台", "张", "本", "篇", "场次", "周年", "周岁", "岁", "头", "只", "艘", "架", "床", "张",
)
FIGURE_RE = re.compile(
    r"(?<![A-Za-z0-9.．])(?P<num>\d{1,3}(?:[，,]\d{3})+(?!\d)|\d+(?:[.．]\d+)?)(?![A-Za-z+＋\d]|[.．]\d)\s*(?P<approx>余|多)?\s*(?P<scale>万亿|万|亿|千)?\s*"
    r"(?P<unit>[%％]|" + "|".join(dict.fromkeys(UNIT_WORDS)) + "|余)?"
)
DATE_TEXT_RE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月(\s*\d{1,2}\s*日)?")
CN_FIGURE_RE = re.compile(r"[两二三四五六七八九十百千]+(?=大|个|家|项|支|张|类|条|种|批|次)|百分之[零一二三四五六七八九十点至到]+")
SCALES = {"千": 1e3, "万": 1e4, "亿": 1e8, "万亿": 1e12}
# Amounts written in Chinese numerals with a unit, as older reports do: 六百零八万吨, 三千六百五十亿斤.
# Only numerals with a place (百/千/万/亿): '三项', '两个' are wording, not figures.
CN_AMOUNT_RE = re.compile(
    r"(?P<num>[零〇一二两三四五六七八九十百千万亿]*[百千万亿][零〇一二两三四五六七八九十百千万亿]*?)"
    r"(?P<approx>多|余)?(?P<scale>万亿|亿|万)?(?P<unit>吨|斤|公斤|元|人|个|家|户|所|座|公里|亩|辆|台|套|件|项|头|匹|千瓦|瓦)"
)


# 百分之十一点八; a range such as 百分之八至九 is one figure whose value is its lower bound.
CN_PERCENT_RE = re.compile(r"百分之([零〇一二两三四五六七八九十百]+)(?:点([零〇一二三四五六七八九]+))?(?:至[零〇一二两三四五六七八九十百点]+)?")
CN_DECIMALS = {"零": "0", "〇": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
               "八": "8", "九": "9"}


def parse_cn_percents(text: str) -> list[tuple[int, int, str, float, str]]:
    """Percentages written in Chinese numerals, as older reports do: 百分之十一点八 → 11.8 %."""
    from qa.tokens import chinese_numeral_value

    found = []
    for match in CN_PERCENT_RE.finditer(text):
        whole = chinese_numeral_value(match.group(1))
        if whole is None:
            continue
        decimals = "".join(CN_DECIMALS[ch] for ch in match.group(2) or "")
        value = float(f"{whole}.{decimals}") if decimals else float(whole)
        found.append((match.start(), match.end(), match.group(), value, "%"))
    return found


def parse_figures(text: str) -> list[tuple[int, int, str, float | None, str | None]]:
    """Figures in a piece of text, in order: (start, end, text, value, unit). Digits, and percentages
    written in Chinese numerals (百分之十一点八)."""
    return sorted(_digit_figures(text) + parse_cn_percents(text) + parse_cn_amounts(text))


def parse_cn_amounts(text: str) -> list[tuple[int, int, str, float | None, str | None]]:
    """Amounts in Chinese numerals with a unit: 六百零八万吨 → 6,080,000 吨. A numeral that already holds
    万/亿 before another scale (四亿零七百多万吨) keeps its text but no value."""
    from qa.tokens import chinese_numeral_value

    found = []
    for match in CN_AMOUNT_RE.finditer(text):
        numeral, scale = match.group("num"), match.group("scale")
        if numeral.startswith(("万", "亿")):
            continue
        value = chinese_numeral_value(numeral)
        if value is None:
            continue
        if scale and re.search("[万亿]", numeral):
            amount = None
        else:
            amount = float(value) * SCALES.get(scale, 1.0)
        found.append((match.start(), match.end(), match.group(), amount, match.group("unit")))
    return found


def _digit_figures(text: str) -> list[tuple[int, int, str, float | None, str | None]]:
    """Figures written with digits."""
    found = []
    for match in FIGURE_RE.finditer(text):
        number = match.group("num")
        end = match.end()
        # Do not swallow trailing spaces into the figure text.
        while end > match.start() and text[end - 1].isspace():
            end -= 1
        scale = match.group("scale")
        value = float(re.sub(r"[,]", "", normalise(number))) * SCALES.get(scale, 1.0)
        unit = match.group("unit")
        unit = normalise(unit) if unit else unit
        if unit == "余":
            unit = None
        found.append((match.start(), end, text[match.start():end], value, unit))
    return found


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end] as absolute (start, end), trimmed of surrounding whitespace."""
    spans = []
    for match in SENTENCE_RE.finditer(text, start, end):
        if match.end() <= match.start():
            continue
        s, e = match.start(), match.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Clauses of a sentence, cut after ，；：, as absolute spans (the punctuation stays with its clause)."""
    spans = []
    position = start
    for piece in CLAUSE_SPLIT_RE.split(text[start:end]):
        if piece.strip():
            spans.append((position, position + len(piece.rstrip())))
        position += len(piece)
    return spans
