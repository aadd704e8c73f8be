"""Sentence evidence: how likely a sentence answers a reading question (who, what, when, where, why).

A figure question is answered by the clause that holds the asked figure (`qa/candidates.py`, `qa/lead.py`). A reading question
asks for something the question cannot name, so the answering sentence shares the question's words *and*
says something more, of the kind asked (a time for 何时, a reason for 为什么). Three judges of a sentence:

- **lexical**: the clause score of `qa/candidates.py` (IDF-weighted coverage of the question's words);
- **semantic**: the embedding model's cosine between the question and the sentence;
- **learned**: a logistic regression over both and a few features of format (`FEATURES`), trained on DRCD
  (traditional-Chinese Wikipedia, CC BY-SA 3.0) by `eval/train_sentence_scorer.py`; its weights ship in
  `qa/sentence_scorer.json` (a few hundred bytes).

Pure functions over strings; nothing is loaded at import time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.tokens import normalise

WEIGHTS_FILE = Path(__file__).with_name("sentence_scorer.json")

# What a reading question asks for, by its interrogative, and what a sentence that answers it holds. Words
# of the language (interrogatives, connectives, time words), not of any corpus.
ASKED_TYPES = {
    "time": re.compile(r"什么时候|何时|哪一?年|哪一?天|几月|几号|何年|哪个时期|哪个朝代|哪一朝|什么时间|多少年"),
    "reason": re.compile(r"为什么|为何|什么原因|原因是|何故|怎么会"),
    "place": re.compile(r"哪里|哪儿|何处|何地|什么地方|哪个地方|哪些地区|哪个地区|哪个国家|哪个城市|位于哪"),
    "number": re.compile(r"多少|几[个名位次年岁人家种项条座所部届场本首集]?"),
    "name": re.compile(r"叫什么|什么名字|名称是|名叫|称为什么|原名|别名|又称|简称|全称|英文名"),
}
# A point in time as text writes it: a year (公元前25年, 1965年, 显德二年), a month or day, a century or decade.
TIME_TEXT_RE = re.compile(r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十元]+年|世纪|年代|公元|年初|年底|年末")
HOLDS_TYPE = {
    "time": re.compile(TIME_TEXT_RE.pattern + r"|[春夏秋冬]季|期间|时期|当时|早期|晚期|末期|初期"),
    "reason": re.compile(r"因为|由于|因此|所以|为了|原因|导致|以致|致使|因而|以便|旨在|源于|得名|之故|"
                         r"因[受此而]|受[\u4e00-\u9fff]{0,8}影响"),
    "place": re.compile(r"[\u4e00-\u9fff](?:省|市|县|区|镇|乡|村|州|国|岛|山|河|江|湖|海|洲|岸|地区|一带|境内|附近)|位于|分布|产于|栖息|生长于"),
    "number": re.compile(r"\d|[一二两三四五六七八九十百千万亿]+[个名位次年岁人家种项条座所部届场本首集倍]"),
    "name": re.compile(r"称|名|叫|[“「《\"]"),
}
QUESTION_PARTS_RE = re.compile(r"请问|是什么|什么|哪些|哪个|哪里|哪儿|哪|为什么|为何|如何|怎样|怎么|谁|多少|几|吗|呢|[？?，,。！!、\s]")
CJK_PAIR_RE = re.compile(r"(?=([\u4e00-\u9fff]{2}))")

# Feature names, in the order of the weights file.
FEATURES = (
    "lexical",        # the sentence's best clause score (qa/candidates.py), minus the best sentence's
    "coverage",       # IDF-weighted share of the question's words the sentence itself holds
    "cosine",         # embedding cosine question/sentence, minus the best sentence's (0 when no model)
    "rank",           # 1 / (1 + rank of the retrieved chunk it came from)
    "top_paragraph",  # 1 when the sentence is in the paragraph of the first retrieved chunk
    "type_held",      # the question asks a type (time, reason, place, number, name) the sentence holds
    "type_missing",   # the question asks a type the sentence does not hold
    "novelty",        # share of the sentence's character pairs the question does not say (it says more)
    "length",         # log of the sentence's length in characters
    "opens",          # 1 for the first sentence of its paragraph (definitions: 什么是…)
)


def asked_types(question: str) -> list[str]:
    """The kinds of thing a reading question asks for ('time', 'reason', 'place', 'number', 'name')."""
    text = normalise(question)
    return [kind for kind, pattern in ASKED_TYPES.items() if pattern.search(text)]


def holds_types(sentence: str, kinds: list[str]) -> list[bool]:
    """For each kind asked, whether the sentence holds something of that kind."""
    text = normalise(sentence)
    return [bool(HOLDS_TYPE[kind].search(text)) for kind in kinds]


def novelty(question: str, sentence: str) -> float:
    """Share of the sentence's CJK character pairs that the question does not say (0..1): a sentence that only
    repeats the question holds no answer."""
    asked = set(CJK_PAIR_RE.findall(QUESTION_PARTS_RE.sub(" ", normalise(question))))
    pairs = CJK_PAIR_RE.findall(normalise(sentence))
    if not pairs:
        return 0.0
    return sum(pair not in asked for pair in pairs) / len(pairs)


@dataclass(frozen=True)
class SentenceEvidence:
    """What is known about one candidate sentence of a reading question."""

    lexical: float
    coverage: float
    cosine: float | None
    rank: int
    top_paragraph: bool
    opens: bool
    text: str


def features(question: str, sentences: list[SentenceEvidence]) -> list[list[float]]:
    """One feature row (`FEATURES`) per candidate sentence; lexical and cosine relative to the best candidate."""
    if not sentences:
        return []
    kinds = asked_types(question)
    best_lexical = max(s.lexical for s in sentences)
    cosines = [s.cosine for s in sentences if s.cosine is not None]
    best_cosine = max(cosines) if cosines else 0.0
    rows = []
    for s in sentences:
        held = holds_types(s.text, kinds)
        rows.append([
            s.lexical - best_lexical,
            s.coverage,
            (s.cosine - best_cosine) if s.cosine is not None else 0.0,
            1.0 / (1 + s.rank),
            float(s.top_paragraph),
            float(any(held)),
            float(bool(kinds) and not any(held)),
            novelty(question, s.text),
            math.log(1 + len(s.text)),
            float(s.opens),
        ])
    return rows


@dataclass(frozen=True)
class SentenceScorer:
    """A logistic regression over `FEATURES`: the probability that a sentence holds the answer."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float  # answer a reading question when its best sentence is at least this probable

    def probability(self, row: list[float]) -> float:
        """P(the sentence holds the answer) for one feature row."""
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in zip(self.weights, row, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                "mean": list(self.mean), "scale": list(self.scale), "threshold": self.threshold}


@lru_cache(maxsize=4)
def load_scorer(path: Path = WEIGHTS_FILE) -> SentenceScorer | None:
    """The shipped scorer, or None when its file is absent or was trained on other features."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data.get("features", ())) != FEATURES:
        return None
    return SentenceScorer(tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]), tuple(data["scale"]),
                          float(data["threshold"]))
