"""Chinese-aware tokens for BM25: character unigrams + bigrams, figures and Latin words kept whole.

Default tokenisers of common BM25 libraries treat a whole run of Chinese characters as one token, which
scores nothing on Chinese. Character uni+bigrams need no dictionary and match names that a word segmenter
would split (灵芝雀合唱团); figures are single tokens so `61.5%` matches `61.5%` and not `61` or `5`.
Full-width forms (％, ０-９) and Chinese numerals are normalised for matching only: the quoted text is
never changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

TOKENIZER_VERSION = "cjk-uni-bi-1"

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# A figure as one BM25 token (61.5%, 434): the number only, unlike qa.figures.FIGURE_RE, which reads a figure's
# value, scale and unit; what it matches is part of TOKENIZER_VERSION.
FIGURE_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?%?")
LATIN_RE = re.compile(r"[a-z]+")
CN_NUMERAL_RE = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")

CN_DIGIT_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNIT_VALUES = {"十": 10, "百": 100, "千": 1000}
CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII, ％ → %), lower case, and no spaces inside figures ('1300 余' stays apart)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"(?<=\d)\s+(?=%)", "", text)


def chinese_numeral_value(numeral: str) -> int | None:
    """Value of a Chinese numeral such as 一千三百, 十三, 两, 二〇二四; None if it is not a plain number."""
    if not numeral or any(ch not in CN_DIGIT_VALUES and ch not in CN_UNIT_VALUES and ch not in CN_BIG_UNITS
                          for ch in numeral):
        return None
    if all(ch in CN_DIGIT_VALUES for ch in numeral) and len(numeral) > 1:
        return int("".join(str(CN_DIGIT_VALUES[ch]) for ch in numeral))  # 二〇二四 → 2024
    total, section, digit = 0, 0, None
    for ch in numeral:
        if ch in CN_DIGIT_VALUES:
            digit = CN_DIGIT_VALUES[ch]
        elif ch in CN_UNIT_VALUES:
            section += (1 if digit is None else digit) * CN_UNIT_VALUES[ch]
            digit = None
        else:
            section += digit or 0
            total += max(section, 1) * CN_BIG_UNITS[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


def numeral_tokens(text: str) -> list[str]:
    """Digit tokens for Chinese numerals in text (八大 → 8, 两个 → 2, 一千三百 → 1300), for matching only."""
    found = []
    for match in CN_NUMERAL_RE.finditer(text):
        value = chinese_numeral_value(match.group())
        if value is not None and (len(match.group()) > 1 or match.group() in "两八九六七五四三"):
            found.append(str(value))
    return found


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: CJK unigrams and bigrams, whole figures (and their bare number), Latin words, Chinese numerals as figures."""
    text = normalise(text)
    tokens: list[str] = []
    for match in FIGURE_TOKEN_RE.finditer(text):
        figure = match.group()
        tokens.append(figure)
        if figure.endswith("%"):
            tokens.append(figure[:-1])
    tokens.extend(LATIN_RE.findall(text))
    for run in CJK_RE.findall(text):
        tokens.extend(run)
        tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    tokens.extend(numeral_tokens(text))
    return tokens


def document_frequency(texts: Iterable[str]) -> Counter:
    """Per token, how many of the texts hold it (the counts behind an IDF)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(set(tokenize(text)))
    return counts
