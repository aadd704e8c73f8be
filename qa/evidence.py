"""Sentence evidence: how likely a sentence answers a reading question (who, what, when, where, why).

A figure question is answered by the clause that holds the asked figure (`qa/candidates.py`, `qa/lead.py`). A reading question
asks for something the question cannot name, so the answering sentence shares the question's words *and*
says something more, of the kind asked (a time for 何时, a reason for 为什么). Three judges of a sentence:

- **lexical**: the clause score of `qa/candidates.py` (IDF-weighted coverage of the question's words);
- **semantic**: the embedding model's cosine between the question and the sentence;
- **learned**: models over both and features of format and context (`FEATURES`: the answer types and whether
  the sentence holds one the question does not say, the previous and next sentences — a dropped subject, a
  question restated just before its answer —, the words around the interrogative, the asking clause told from
  the clauses that set the scene), trained on DRCD (traditional-Chinese Wikipedia, CC BY-SA 3.0) by
  `eval/train_sentence_scorer.py`: a small network (one tanh layer, five seeds summed) trained listwise chooses
  the sentence, a logistic regression gates the answer; their weights ship as plain numbers in
  `qa/sentence_scorer.json` (about 120 KB) and are read with numpy (no torch at query time).

Pure functions over strings; nothing is loaded at import time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

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
QUESTION_LEAD_RE = re.compile(r"^(?:请问|试问|问)[，,：:]?")

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
    # Zero anaphora: Chinese prose names its topic once and drops it after, so the answering sentence may lack
    # the question's subject, which the sentence before it holds.
    "previous_coverage",  # coverage of the question by the previous sentence
    "joint_coverage",     # coverage by the previous sentence and this one together
    # Chinese asks in situ: the interrogative stands where the answer stands in the declarative sentence, so
    # the words right around it in the question stand right around the answer in the sentence that holds it.
    "slot_left",      # the two characters before the interrogative are in the sentence
    "slot_right",     # a pair of the four characters after the interrogative phrase is in the sentence
    "slot_both",      # both, the left before the right
    "shared_run",     # longest run of the question's characters the sentence repeats, over the question's length
    # The answer is something the question does not say: an instance of the asked type already in the
    # question (its year, its number) answers nothing.
    "type_new",       # the sentence holds an instance of an asked type that the question does not contain
    # A question often restates one sentence; its answer is that sentence or the next one.
    "coverage_gap",   # the best candidate's coverage minus this sentence's (0 for the best-covering sentence)
    "previous_gap",   # the best candidate's coverage minus the previous sentence's (0: it follows the restatement)
    "next_coverage",  # coverage of the question by the next sentence (the answer may precede its explanation)
    # A sentence that opens with a pronoun, adverb or connective has dropped its subject: it continues the
    # sentence before, so its topic is that sentence's.
    "subject_dropped",    # the sentence opens without a subject of its own
    "dropped_previous",   # subject_dropped times the previous sentence's coverage
    # A long question sets its scene in clauses of context (威廉一世去世后，腓特烈三世继位，) and asks in the clause
    # holding the interrogative: a sentence that holds only the context restates the scene, and the answer is
    # in the sentence that holds the asking clause, often the next one.
    "asked_share",        # share of the asking clause's character pairs the sentence holds
    "context_share",      # share of the context clauses' character pairs the sentence holds
    "previous_context",   # context_share of the previous sentence (the scene was just set)
    "next_asked",         # asked_share of the next sentence
    # A text names its topic once, in its title or heading (黄鳍紫鱼), and its sentences drop it (体长可达50公分;
    # 以其他鱼类为食): every sentence under the title holds the title's words, so only the rest of the question
    # tells them apart, and the opening sentence that merely names the topic loses its lead.
    "titled_coverage",    # coverage of the question by the title, headings and sentence together
    "titled_gap",         # the best candidate's titled_coverage minus this sentence's
    "rest_cosine",        # cosine of the question without its title's words, minus the best sentence's
)


# Paired brackets and quotation marks: what they enclose is one unit (a title 《你好！》, an aside （…。）, a
# quoted name or slogan “走啊！走啊！”), so a sentence does not end inside them. A long quotation is reported
# speech, whose sentences are sentences: quotation marks hold one unit up to QUOTED_UNIT characters.
OPENERS = {"《": "》", "「": "」", "『": "』", "“": "”", "（": "）", "(": ")", "〈": "〉"}
QUOTATION_MARKS = "「『“"
QUOTED_UNIT = 24


def merge_enclosed(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join consecutive sentence spans (absolute, in order) where a sentence ends inside a pair of brackets or
    quotation marks that closes in a later span: 《我的爱！》 or “走吧。回家。” is not cut at its ！ or 。. An opener
    that never closes within the spans is ignored (a typo must not swallow the paragraph), and so is a quotation
    longer than QUOTED_UNIT characters (speech)."""
    if len(spans) < 2:
        return spans
    start, end = spans[0][0], spans[-1][1]
    closes: dict[int, int] = {}  # opener position -> its closer's position
    stack: list[tuple[str, int]] = []
    closers = {close: open_ for open_, close in OPENERS.items()}
    for i in range(start, end):
        ch = text[i]
        if ch in OPENERS and not (ch == "“" and stack and stack[-1][0] == "“"):
            stack.append((ch, i))
        elif ch in closers:
            for depth in range(len(stack) - 1, -1, -1):
                opener, at = stack[depth]
                if opener == closers[ch]:
                    if opener not in QUOTATION_MARKS or i - at - 1 <= QUOTED_UNIT:
                        closes[at] = i
                    del stack[depth:]
                    break
    merged = [spans[0]]
    for s, e in spans[1:]:
        prev_s, prev_e = merged[-1]
        # the previous sentence ends inside a pair: an opener before its end whose closer lies past it
        if any(prev_s <= o < prev_e and c >= prev_e for o, c in closes.items()):
            merged[-1] = (prev_s, e)
        else:
            merged.append((s, e))
    return merged


# Interrogative phrases, longest first; the phrase is the slot the answer fills.
INTERROGATIVE_RE = re.compile(
    r"为什么|为何|什么时候|什么时间|什么地方|什么原因|什么样的?|什么|哪一?[个位年天种些国部次座条家所项]|哪里|哪儿|哪些|"
    r"哪一|哪|谁|(?:多少|几)[个名位次年岁人家种项条座所部届场本首集月号]?|何[时地处人种年故]?|怎么样?|如何|怎样")
# Words next to the interrogative that are grammar, not content: a copula or particle (…是哪里, …的是谁).
SLOT_GLUE = "是的了为在有被把"


def answer_slot(question: str) -> tuple[str, list[str]]:
    """The two CJK characters before the question's interrogative (its copula and particles left out) and the
    character pairs of the four after it: '青石镇始建于什么时候' → ('建于', []), '首都是哪里呢' → ('首都', [])."""
    text = QUESTION_LEAD_RE.sub("", normalise(question))
    match = INTERROGATIVE_RE.search(text)
    if not match:
        return "", []
    before = re.sub(r"[^\u4e00-\u9fff]", "", text[:match.start()]).rstrip(SLOT_GLUE)
    after = re.sub(r"[^\u4e00-\u9fff]", "", text[match.end():]).lstrip(SLOT_GLUE)
    after = re.sub(r"[吗呢呀啊]+$", "", after)[:4]
    return before[-2:] if len(before) >= 2 else "", [after[i:i + 2] for i in range(max(len(after) - 1, 0))]


def slot_evidence(slot: tuple[str, list[str]], sentence: str) -> tuple[float, float, float]:
    """(left held, right held, both in order) for one sentence."""
    left, rights = slot
    text = normalise(sentence)
    at_left = text.find(left) if left else -1
    at_right = [text.find(pair) for pair in rights if pair in text]
    in_order = at_left >= 0 and any(position > at_left for position in at_right)
    return float(at_left >= 0), float(bool(at_right)), float(in_order)


def shared_run(question: str, sentence: str) -> float:
    """The longest run of characters the sentence shares with the question (its interrogatives and punctuation
    left out), as a share of the question: a question is often a sentence of the text turned round."""
    asked = re.sub(r"[^\u4e00-\u9fff0-9a-z]", "", QUESTION_PARTS_RE.sub("", normalise(question)))
    text = normalise(sentence)
    best, previous = 0, [0] * (len(text) + 1)
    for ch in asked:
        current = [0] * (len(text) + 1)
        for j, other in enumerate(text):
            if ch == other:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best / len(asked) if asked else 0.0


# Openings of a sentence that continues the one before it: a pronoun (他, 其, 该…), an adverb (也, 又, 并…) or a
# connective (但, 因此, 后来…). Function words of the language, not of a corpus.
SUBJECT_DROPPED_RE = re.compile(r"^(?:他们?|她们?|它们?|其|该|此|这|那|并|也|又|还|再|便|就|即|则|遂|乃|亦|均|皆|都|"
                                r"但|而|且|却|故|因此|因而|所以|于是|后来|之后|此后|随后|最终|同时|另外|此外|然而|不过|"
                                r"曾|已|被|将|把|由于|因为)")


def subject_dropped(sentence: str) -> float:
    """1 when the sentence opens with a pronoun, adverb or connective: its subject is in the sentence before."""
    return float(bool(SUBJECT_DROPPED_RE.match(normalise(sentence).lstrip(" ，,、：:“「"))))


def new_instances(question: str, sentence: str, kinds: list[str]) -> float:
    """1 when the sentence holds an instance of an asked kind (a year, a number, a place…) that the question
    does not already contain: an instance the question says is the question's, not the answer."""
    asked, text = normalise(question), normalise(sentence)
    return float(any(match.group() not in asked for kind in kinds for match in HOLDS_TYPE[kind].finditer(text)))


CLAUSE_BREAK_RE = re.compile(r"[，,；;：:]")


def question_clauses(question: str) -> tuple[set[str], set[str]]:
    """The CJK character pairs of the clause holding the interrogative and of the question's other clauses (its
    interrogatives and particles left out); a question without an interrogative is all asking clause."""
    clauses = CLAUSE_BREAK_RE.split(QUESTION_LEAD_RE.sub("", normalise(question)))
    asking = next((c for c in clauses if INTERROGATIVE_RE.search(c)), None)
    context = [c for c in clauses if c is not asking] if asking is not None else []

    def pairs(text: str) -> set[str]:
        return set(CJK_PAIR_RE.findall(QUESTION_PARTS_RE.sub(" ", text)))

    return pairs(asking if asking is not None else " ".join(clauses)), pairs(" ".join(context))


def pair_share(pairs: set[str], sentence: str) -> float:
    """Share of the pairs the sentence holds (0 for no pairs)."""
    if not pairs:
        return 0.0
    text = normalise(sentence)
    return sum(pair in text for pair in pairs) / len(pairs)


def asked_types(question: str) -> list[str]:
    """The kinds of thing a reading question asks for ('time', 'reason', 'place', 'number', 'name')."""
    text = normalise(question)
    return [kind for kind, pattern in ASKED_TYPES.items() if pattern.search(text)]


def holds_types(sentence: str, kinds: list[str]) -> list[bool]:
    """For each kind asked, whether the sentence holds something of that kind."""
    text = normalise(sentence)
    return [bool(HOLDS_TYPE[kind].search(text)) for kind in kinds]


TOPIC_UNIT_RE = re.compile(r"[0-9０-９.]+|[A-Za-z]+|.", re.S)
TOPIC_RUN = 2  # the shortest run of characters shared with the title that is read as the title's words


def without_topic(question: str, title: str) -> str:
    """The question without the runs of characters (TOPIC_RUN or more, longest first) its title also says:
    黄鳍紫鱼主要以什么为食？ under the title 黄鳍紫鱼 → 主要以什么为食？. A number or Latin word is one unit, never
    cut (2023年 is not 202 + 3年)."""
    if not title:
        return question
    units = TOPIC_UNIT_RE.findall(question)
    rest, at = [], 0
    while at < len(units):
        run, text = 0, ""
        while at + run < len(units) and text + units[at + run] in title:
            text += units[at + run]
            run += 1
        if len(text.strip()) >= TOPIC_RUN:
            at += run
            rest.append(" ")
        else:
            rest.append(units[at])
            at += 1
    return re.sub(r"\s+", " ", "".join(rest)).strip()


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
    previous: str = ""  # the sentence before it in its paragraph ("" for the first): where a dropped subject is
    previous_coverage: float = 0.0  # coverage of the question's words by the previous sentence
    joint_coverage: float = 0.0  # … by the previous sentence and this one together
    next: str = ""  # the sentence after it in its paragraph ("" for the last)
    next_coverage: float = 0.0  # coverage of the question's words by the next sentence
    # A text names its topic once, in its title or heading, and its sentences drop it: the sentence read with
    # them, and the question read without the words its title already says.
    titled_coverage: float = 0.0  # coverage of the question's words by the title, headings and sentence together
    rest_cosine: float | None = None  # cosine of the question without its title's words and the sentence


def features(question: str, sentences: list[SentenceEvidence]) -> list[list[float]]:
    """One feature row (`FEATURES`) per candidate sentence; lexical and cosine relative to the best candidate."""
    if not sentences:
        return []
    kinds = asked_types(question)
    best_lexical = max(s.lexical for s in sentences)
    cosines = [s.cosine for s in sentences if s.cosine is not None]
    best_cosine = max(cosines) if cosines else 0.0
    slot = answer_slot(question)
    best_coverage = max(s.coverage for s in sentences)
    asking, context = question_clauses(question)
    best_titled = max(s.titled_coverage for s in sentences)
    rests = [s.rest_cosine for s in sentences if s.rest_cosine is not None]
    best_rest = max(rests) if rests else 0.0
    rows = []
    for s in sentences:
        held = holds_types(s.text, kinds)
        dropped = subject_dropped(s.text)
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
            s.previous_coverage,
            s.joint_coverage,
            *slot_evidence(slot, s.text),
            shared_run(question, s.text),
            new_instances(question, s.text, kinds),
            best_coverage - s.coverage,
            best_coverage - s.previous_coverage,
            s.next_coverage,
            dropped,
            dropped * s.previous_coverage,
            pair_share(asking, s.text),
            pair_share(context, s.text),
            pair_share(context, s.previous),
            pair_share(asking, s.next),
            s.titled_coverage,
            best_titled - s.titled_coverage,
            (s.rest_cosine - best_rest) if s.rest_cosine is not None else 0.0,
        ])
    return rows


@dataclass(frozen=True)
class SentenceScorer:
    """Models over the standardised `FEATURES`: a choice among a question's sentences (trained listwise on which
    of the candidates holds the answer: a small network with one hidden layer, or a conditional logit) and a gate
    (a logistic regression: the probability that a sentence holds the answer, which decides whether to answer)."""

    weights: tuple[float, ...]  # the gate's logistic regression
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float  # answer a reading question when its chosen sentence is at least this probable
    choice: tuple[float, ...] = ()  # the conditional logit's weights; () chooses by the gate's probability
    # The choice network (it replaces the conditional logit when given): tanh(hidden · x + hidden_bias) · output.
    # Features interact in a choice (a cosine lead means less when the sentence only restates the question), which
    # one weight per feature cannot say.
    hidden: tuple[tuple[float, ...], ...] = ()
    hidden_bias: tuple[float, ...] = ()
    output: tuple[float, ...] = ()

    def _standard(self, row: list[float]) -> list[float]:
        return [(x - m) / s for x, m, s in zip(row, self.mean, self.scale)]

    def probability(self, row: list[float]) -> float:
        """P(the sentence holds the answer) for one feature row."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, self._standard(row)))
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def preference(self, row: list[float]) -> float:
        """How strongly the choice prefers this sentence over the question's other candidates (a logit)."""
        if self.hidden:
            return self.preferences([row])[0]
        if not self.choice:
            return self.probability(row)
        return sum(w * x for w, x in zip(self.choice, self._standard(row)))

    def preferences(self, rows: list[list[float]]) -> list[float]:
        """`preference` of every row at once (the network as two matrix products)."""
        if not self.hidden:
            return [self.preference(row) for row in rows]
        x = (np.asarray(rows, dtype=float) - np.asarray(self.mean)) / np.asarray(self.scale)
        units = np.tanh(x @ np.asarray(self.hidden).T + np.asarray(self.hidden_bias))
        return (units @ np.asarray(self.output)).tolist()

    def judge(self, rows: list[list[float]]) -> tuple[int, float]:
        """The chosen sentence (its index in rows) and the gate's probability that it holds the answer."""
        scores = self.preferences(rows)
        best = max(range(len(rows)), key=lambda i: scores[i])
        return best, self.probability(rows[best])

    def to_json(self) -> dict:
        network = ({"choice_network": {"hidden": [list(ws) for ws in self.hidden],
                                       "hidden_bias": list(self.hidden_bias), "output": list(self.output)}}
                   if self.hidden else {})
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                "mean": list(self.mean), "scale": list(self.scale), "threshold": self.threshold,
                "choice": list(self.choice), **network}


@lru_cache(maxsize=4)
def load_scorer(path: Path = WEIGHTS_FILE) -> SentenceScorer | None:
    """The shipped scorer, or None when its file is absent or was trained on other features."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data.get("features", ())) != FEATURES:
        return None
    network = data.get("choice_network", {})
    return SentenceScorer(tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]), tuple(data["scale"]),
                          float(data["threshold"]), tuple(data.get("choice", ())),
                          tuple(tuple(ws) for ws in network.get("hidden", ())),
                          tuple(network.get("hidden_bias", ())), tuple(network.get("output", ())))
