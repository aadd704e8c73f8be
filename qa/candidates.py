"""Candidate clauses: every clause of every retrieved sentence (and the best cell of a table row), scored by
how much of the question it covers (IDF-weighted), how its figures fit what is asked, and, among near ties,
by its meaning (the embedding model's cosine)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.cells import CellCandidate, score_cells, table_of
from qa.chunk import Chunk
from qa.cues import COMPARISON_BASE_RE
from qa.evidence import TIME_TEXT_RE, merge_enclosed
from qa.figures import CN_FIGURE_RE, DATE_TEXT_RE, clause_spans, parse_figures, sentence_spans
from qa.identity import AREA_WORDS, GENERIC_PLACES
from qa.lead import (FROM_TO_RE, UNIT_GROUPS, contrasting_terms, figure_nouns, mostly_named_in, named_in,
                     names_a_year_or_note, unasked_qualifiers)
from qa.parse import Bulletin
from qa.question import AMOUNT_CUES, DIFFERENCE_CUES, ISSUE_SELF_RE, RATE_CUES, SOURCE_CUES, Question
from qa.retrieve import Hit
from qa.tokens import document_frequency, normalise, tokenize

PLACE_RE = re.compile(r"[\u4e00-\u9fff]{2,3}(?:区|县|市|镇|乡)(?=的|有|在|是|共|[，,？?]|$)")
NOT_PLACES = AREA_WORDS + GENERIC_PLACES + ("城市", "城镇", "乡镇", "全镇")
COUNT_UNITS = set("个家人支件条场项名块次所座处份套批辆台张本篇")
# Clause meaning: the best few candidates are reordered by the embedding model's cosine between the question
# and the clause read from the start of its sentence ("比上年增长9.7%" needs its subject, "年内新增 27 支" the
# clause before it), relative to the best cosine among them. Lexical coverage cannot tell "人均地区生产总值" from "地区生产总值"; meaning can.
SEMANTIC_WEIGHT = 2.0
SEMANTIC_DEPTH = 10
SEMANTIC_MARGIN = 0.1  # only candidates this close to the lexical best are reordered
# How much a figure label that says no more than the question (label_precision) adds to a candidate's score.
PRECISION_WEIGHT = 0.2
CJK_PAIR_RE = re.compile(r"[\u4e00-\u9fff]{2}")
# A clause must cover this share of the question's content (IDF-weighted) to answer; below it we abstain.
ANSWER_THRESHOLD = 0.45
# Another thing of the same kind named where the figure is (普通高中 for 职业高中: `qa.lead.contrasting_terms`).
CONTRAST_PENALTY = 0.5
# The lines that name a document rather than say something in it: its masthead, and its footer (distribution
# lines, or the issuer and date it is signed with). They answer questions about the document itself, and are
# never offered as related passages.
NOT_BODY = ("masthead", "footer")
# A title word shared by this share of the index's titles, and by at least this many, names the kind of document
# (政府工作报告 in 52 of 52 report titles), not one document's topic (no word of CMRC's 256 titles reaches it).
TITLE_KIND_SHARE = 0.1
TITLE_KIND_LEAST = 3
# A candidate's score weighs how much of the question its clause covers, and its whole sentence.
CLAUSE_WEIGHT, SENTENCE_WEIGHT = 0.6, 0.4

Span = tuple[int, int]  # [start, end) in the bulletin's clean text


@dataclass
class Candidate:
    """A clause that may answer (or a table row's best cell), where it stands, and how well it fits."""

    score: float
    reorder: float  # the label-precision part of score: it reorders candidates, never decides to answer
    chunk: Chunk
    bulletin: Bulletin
    sentence: Span  # the whole sentence: what is quoted
    clause: Span
    clauses: list[Span]  # every clause of the sentence; clause is clauses[position]
    position: int
    figures: list  # the clause's figures (qa.figures.parse_figures), years and footnote marks left out
    rank: int  # rank of the retrieved chunk it came from
    itself: bool = False  # won by a rule about the bulletin itself (its department tag, publisher, date)
    cell: CellCandidate | None = None  # for a table row: the cell that answers

    @property
    def lexical(self) -> float:
        """The score without the label precision: what the answer threshold judges."""
        return self.score - self.reorder


class ClauseScorer:
    """Scores the clauses of retrieved chunks against a question, over one fixed index."""

    def __init__(self, index, embedder) -> None:
        self.index = index
        self.embedder = embedder
        # Stored with the index when it has it (qa.store.BulletinIndex.text_frequency): counting them all took
        # 4.5 s per ask at 6,917 chunks on the loaded machine.
        counted = getattr(index, "text_frequency", None)
        self._document_frequency = (counted() if counted is not None
                                    else document_frequency(chunk.text for chunk in index.chunks))
        self._kind_words: frozenset[str] | None = None  # see `topic`
        self._topics: dict[str, str] = {}

    # ----- the topic a title names -----
    def topic(self, chunk: Chunk) -> str:
        """The chunk's title without the words that name the kind of document rather than its topic: a word
        shared by at least TITLE_KIND_SHARE of the index's titles (and by TITLE_KIND_LEAST of them) says what the
        documents are (政府工作报告, 国民经济和社会发展统计公报), and a question that names it names which document
        to read, not what to find in it. '' for a title that is all kind."""
        title = chunk.title or ""
        if title not in self._topics:
            if self._kind_words is None:
                titles = {c.title for c in self.index.chunks if c.title}
                counts = Counter(token for t in titles for token in token_set(t) if len(token) >= 2)
                least = max(TITLE_KIND_LEAST, TITLE_KIND_SHARE * len(titles))
                self._kind_words = frozenset(token for token, count in counts.items() if count >= least)
            kind = [False] * len(title)
            for word in self._kind_words:
                at = title.find(word)
                while at != -1:
                    kind[at:at + len(word)] = [True] * len(word)
                    at = title.find(word, at + 1)
            runs = re.split(r"\s+", "".join(" " if marked else char for char, marked in zip(title, kind)))
            self._topics[title] = " ".join(run for run in runs if run)
        return self._topics[title]

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

    def candidates(self, question: Question, hits: list[Hit]) -> list[Candidate]:
        """Score every clause of every sentence in the hits; best first."""
        found = []
        seen: set[tuple[str, int]] = set()
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            bulletin = self.index.bulletin_of(chunk)
            text = bulletin.clean_text
            if chunk.kind == "row":
                found.extend(self.cell_candidates(question, chunk, bulletin, rank))
                continue
            for s_start, s_end in self.sentences_of(bulletin, chunk):
                if (chunk.file, s_start) in seen:
                    continue
                seen.add((chunk.file, s_start))
                sentence = text[s_start:s_end]
                sentence_score = self.coverage(question, with_context(chunk, sentence, self.topic(chunk)))
                clauses = clause_spans(text, s_start, s_end) if chunk.kind == "body" else [(s_start, s_end)]
                for position, (c_start, c_end) in enumerate(clauses):
                    clause = text[c_start:c_end]
                    window_start = clauses[max(position - 1, 0)][0]
                    if chunk.kind != "body":
                        window = with_context(chunk, clause) + " " + _line_label(clause, bulletin)
                    elif question.kind == "figure":
                        window = text[window_start:c_end]  # "持证人数达 434 人，同比增长 61.5%": the figure's subject may precede
                    else:
                        window = clause
                    clause_score = max(self.coverage(question, clause), 0.8 * self.coverage(question, window))
                    figures = [figure for figure in parse_figures(clause) if not names_a_year_or_note(clause, figure)]
                    precision = 0.0
                    score = CLAUSE_WEIGHT * clause_score + SENTENCE_WEIGHT * sentence_score
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
                    if question.kind == "when" and chunk.kind in NOT_BODY and ISSUE_SELF_RE.search(question.text) \
                            and DATE_TEXT_RE.search(clause):
                        # "这期简报是什么时候印发的" asks for the issue's own date: its masthead or signature line; the
                        # document the question names best (上街信息, 医疗保险缴费通知) first, else the newest — "这期"
                        # is the one just out.
                        named = self.coverage(question, _home_of(bulletin) + " " + clause)
                        day = chunk.date or (f"{bulletin.year}-00-00" if bulletin.year else "0")
                        newest = int(re.sub(r"\D", "", day) or 0) / 1e9  # 2026-02-12 → 0.0202…
                        score = max(score, ANSWER_THRESHOLD + 0.2 + 0.1 * named + newest)
                        itself = True
                    if question.kind == "when" and chunk.kind in NOT_BODY and not itself:
                        # A title's year (关于做好2026年度…的通知) names the period the document covers, not when what
                        # is asked happens; the issue's own date answers only a question about the issue (above).
                        continue
                    if question.kind == "when" and not TIME_TEXT_RE.search(normalise(clause)):
                        continue  # a time question is answered by a clause that holds a time (2026年2月, 公元前25年)
                    if question.kind == "figure":
                        if not figures and not CN_FIGURE_RE.search(clause):
                            continue
                        # the fact table says which figures are plans (5%左右, 拟按3%, a 主要预期目标 list)
                        planned = "target" in self.index.facts().kinds_between(chunk.file, c_start, c_end)
                        score += self.figure_fit(question, clause, window, figures, planned)
                        labels = [clause[:figures[0][0]] if figures else clause]
                        own = re.sub(r"[^\u4e00-\u9fff]", "", COMPARISON_BASE_RE.sub("", labels[0]))
                        if position > 0 and len(own) <= 2:
                            # "…2929.40亿元，比上年增长5.4%": a label that is only a verb has the sentence's subject
                            head = text[clauses[0][0]:clauses[0][1]]
                            labels.append(head[:(parse_figures(head) or [(len(head),)])[0][0]])
                        precision = PRECISION_WEIGHT * self.label_precision(question, labels)
                        score += precision
                    found.append(Candidate(score, precision, chunk, bulletin, (s_start, s_end), (c_start, c_end),
                                           clauses, position, figures, rank, itself=itself))
        found.sort(key=lambda c: -c.score)
        return found

    def with_dropped_subject(self, question: Question, candidate: Candidate) -> float:
        """The candidate's lexical score with the sentence before it read as part of its sentence. Chinese prose
        names its topic once and drops it after ("…六耳铃…。生长于海拔400米至800米的地区。"), so a sentence that
        gives the figure may lack the subject or the counted thing the question names. The rules that judge the
        figure itself (its unit, its qualifiers, its year, its place) stand as they were."""
        chunk, bulletin = candidate.chunk, candidate.bulletin
        if chunk.kind != "body" or candidate.cell is not None:
            return candidate.lexical
        previous = previous_sentence(bulletin, chunk, candidate.sentence[0])
        if not previous:
            return candidate.lexical
        text = bulletin.clean_text
        sentence = text[candidate.sentence[0]:candidate.sentence[1]]
        topic = self.topic(chunk)
        alone = self.coverage(question, with_context(chunk, sentence, topic))
        restored = self.coverage(question, with_context(chunk, previous + sentence, topic))
        lexical = candidate.lexical + SENTENCE_WEIGHT * max(restored - alone, 0.0)
        if question.kind != "figure" or not candidate.figures:
            return lexical
        clause = text[candidate.clause[0]:candidate.clause[1]]
        window = text[candidate.clauses[max(candidate.position - 1, 0)][0]:candidate.clause[1]]
        planned = "target" in self.index.facts().kinds_between(chunk.file, *candidate.clause)
        named_alone = self.figure_fit(question, clause, window, candidate.figures, planned)
        return lexical - named_alone + self.figure_fit(question, clause, previous + window, candidate.figures, planned)

    def cell_candidates(self, question: Question, chunk: Chunk, bulletin: Bulletin, rank: int) -> list[Candidate]:
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
        return [Candidate(score, precision, chunk, bulletin, span, span, [span], 0, [], rank, cell=best)]

    @staticmethod
    def figure_fit(question: Question, clause: str, window: str, figures: list, planned: bool) -> float:
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
        if contrasting_terms(question.text, window):
            adjustment -= CONTRAST_PENALTY  # "职业高中在校生" is not answered by "普通高中…在校生11822人"
        for word in question.measured:
            if not mostly_named_in(word, window):
                adjustment -= 0.3  # "进出口总额的增长目标" is not answered by "经济增长预期目标为5%左右"
        if DIFFERENCE_CUES.search(question.text) and FROM_TO_RE.search(window):
            return 0.2  # "增加了几家" is answered by "16 家…扩充至 29 家", whatever the measure word
        if question.measure:
            compatible = any(question.measure in unit or unit in question.measure
                             or UNIT_GROUPS.get(unit, unit) == UNIT_GROUPS.get(question.measure) for unit in units)
            generic = question.measure == "个" and units and "%" not in units and named_in(question.counted, clause)
            if units and all(unit == "%" for unit in units) and question.measure in COUNT_UNITS:
                adjustment -= 0.5  # "几个小区" is never answered by "98%"
            elif not compatible and not generic:
                adjustment -= 1.0  # "多少个充电桩" is not answered by "69 条", "多少名成员" not by "80 周年"
        counted = named_in(question.counted, window)
        if counted is False:
            adjustment -= 0.25  # the thing counted (经费, 参赛) must be named where the figure is
        elif counted:
            if not mostly_named_in(question.counted, window):
                adjustment -= 0.1  # '专职网格员' is only half named by '流动网格员'
            nouns = figure_nouns(clause, figures)
            if nouns and not any(named_in(question.counted, noun) for noun in nouns):
                adjustment -= 0.3  # named, but the figure counts something else: "充电桩等建议 69 条"
        predicate = named_in(question.predicate, clause)
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

    def sentences_of(self, bulletin: Bulletin, chunk: Chunk) -> list[tuple[int, int]]:
        """Whole sentences of the chunk's paragraph that overlap the chunk (quotes are whole sentences)."""
        if chunk.kind != "body":
            # Masthead or footer: each line is a quote of its own (第 8 期; 责任编辑：柴亚文).
            return [(p.start, p.end) for p in bulletin.paragraphs
                    if p.kind == chunk.kind and chunk.start <= p.start < chunk.end]
        return [(s, e) for s, e in paragraph_sentences(bulletin, chunk.paragraph) if e > chunk.start and s < chunk.end]

    def by_meaning(self, question: Question, candidates: list[Candidate],
                    query_vector: np.ndarray | None = None) -> list[Candidate]:
        """Reorder the best candidates by their score plus the meaning of their clause (SEMANTIC_WEIGHT)."""
        if self.embedder is None or not getattr(self.embedder, "knows_meaning", True) \
                or question.kind not in ("figure", "what") or len(candidates) < 2:
            return candidates
        # Meaning settles near-ties only: a clear lexical verdict (a rate asked, a rate given) stands.
        # So does the kind of figure the lexical best gives (a rate, or an amount).
        kind = _rate_like(candidates[0])
        top = [c for c in candidates[:SEMANTIC_DEPTH]
               if c.score >= candidates[0].score - SEMANTIC_MARGIN and _rate_like(c) == kind]
        if len(top) < 2:
            return candidates
        texts = []
        for candidate in top:
            text = candidate.bulletin.clean_text
            c_start, c_end = candidate.clause
            if candidate.cell is not None:  # a row means its label under its column: "交通通信 比上年涨跌幅度"
                texts.append(f"{candidate.cell.label} {candidate.cell.column}")
                continue
            if candidate.position > 0:  # a clause inside a sentence is read with what leads up to it
                c_start = candidate.sentence[0]
            texts.append(text[c_start:c_end])
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question.text])[0]
        cosines = self.embedder.embed_documents(texts) @ query_vector
        best = float(np.max(cosines))
        # Meaning reorders; the lexical score still decides whether to answer at all (the threshold).
        order = sorted(range(len(top)), key=lambda i: -(top[i].score + SEMANTIC_WEIGHT * (float(cosines[i]) - best)))
        chosen = {id(c) for c in top}
        return [top[i] for i in order] + [c for c in candidates if id(c) not in chosen]


@lru_cache(maxsize=65536)
def token_set(text: str) -> frozenset[str]:
    """The BM25 tokens of a text, cached: the same sentences are matched against many questions."""
    return frozenset(tokenize(text))


def paragraph_sentences(bulletin: Bulletin, index: int) -> list[Span]:
    """A paragraph's sentences as answers quote them: none ends inside 《》（）or a short quotation."""
    paragraph = bulletin.paragraphs[index]
    return merge_enclosed(bulletin.clean_text, sentence_spans(bulletin.clean_text, paragraph.start, paragraph.end))


def previous_sentence(bulletin: Bulletin, chunk: Chunk, start: int) -> str:
    """The sentence before the one starting at `start` in the chunk's paragraph ('' for the first)."""
    return neighbour_sentences(bulletin, chunk, start)[0]


def neighbour_sentences(bulletin: Bulletin, chunk: Chunk, start: int) -> tuple[str, str]:
    """The sentences before and after the one starting at `start` in the chunk's paragraph ('' at either end)."""
    spans = paragraph_sentences(bulletin, chunk.paragraph)
    before = [(s, e) for s, e in spans if e <= start]
    after = [(s, e) for s, e in spans if s > start]
    text = bulletin.clean_text
    return (text[before[-1][0]:before[-1][1]] if before else "", text[after[0][0]:after[0][1]] if after else "")


def _rate_like(candidate: Candidate) -> bool:
    """Whether a candidate's figure is a rate (%, 百分之…) rather than an amount or count."""
    if candidate.cell is not None:
        return candidate.cell.unit == "%" or "%" in candidate.cell.column
    text = candidate.bulletin.clean_text[candidate.clause[0]:candidate.clause[1]]
    return any(unit == "%" for *_, unit in candidate.figures) or "百分之" in text


def _home_of(bulletin: Bulletin) -> str:
    """The bulletin's own name and publisher: the place it speaks for."""
    return " ".join(filter(None, (bulletin.series, bulletin.publisher, bulletin.title, bulletin.place)))


def _paragraph_of(bulletin: Bulletin, chunk: Chunk) -> str:
    """The chunk's paragraph with its article title and section heading."""
    paragraph = bulletin.paragraphs[chunk.paragraph]
    return " ".join(filter(None, (chunk.title, chunk.section, bulletin.clean_text[paragraph.start:paragraph.end])))


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


def with_context(chunk: Chunk, sentence: str, topic: str = "") -> str:
    """A sentence plus its title's topic (`ClauseScorer.topic`) and its headings: a text names its topic once, in
    its title or heading, and its sentences drop it (an article titled 黄鳍紫鱼 says "体长可达50公分"; under
    一是建强骨干队伍, "持证人数达434人"). A masthead or footer line is matched with the whole masthead or footer
    (上街信息 … 第 8 期 … 2026 年 2 月 12 日)."""
    if chunk.kind != "body":
        return f"{chunk.embed_text} {chunk.series}"
    return " ".join(part for part in (topic, chunk.section, chunk.subsection, chunk.item, sentence) if part)
