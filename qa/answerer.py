"""Answers questions from one fixed index: retrieve, score clauses, choose (a reading question by its
sentence evidence), compose, guard. Fixed once built (its one growing part is a cache of sentence vectors, whose
dict updates are atomic), so concurrent asks need no lock."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import date

import numpy as np

from qa.candidates import ANSWER_THRESHOLD, NOT_BODY, Candidate, ClauseScorer, neighbour_sentences, with_context
from qa.compose import Composer
from qa.errors import BulletinQAError
from qa.evidence import SentenceEvidence, features, load_scorer, without_topic
from qa.guard import guard
from qa.question import OUTCOME_CUES, QUESTION_WORDS, READING_KINDS, Question, analyse, effective_question
from qa.records import Answer
from qa.retrieve import Filters, Hit, question_places, retrieve
from qa.synonyms import expand
from qa.trend import asked_indicator, facts_of, is_table_question, mostly_planned

# How many retrieved chunks the extraction reads: fusion can push a lexical rank-3 chunk below rank 8 when
# other chunks sit in both lists, and the clause scoring is the better judge of the two.
EXTRACTION_DEPTH = 12
# Reading questions (who, what, when, why) choose a sentence by its evidence (qa/evidence.py): "lexical" the
# clause score alone, "semantic" plus the embedding cosine, "learned" the trained scorer (the default).
SENTENCE_SCORINGS = ("lexical", "semantic", "learned")
READING_DEPTH = 16  # sentences judged per question, best lexical first
READING_SEMANTIC_WEIGHT = 4.0  # chosen on DRCD by eval/train_sentence_scorer.py (its "semantic_weight")
RESTORED_DEPTH = 40  # candidates a figure question reads again with their dropped subjects restored


class Answerer:
    """Answers questions from one fixed index; concurrent asks need no lock (see the module docstring)."""

    def __init__(self, index, embedder, reranker=None, sentence_scoring: str = "learned") -> None:
        if sentence_scoring not in SENTENCE_SCORINGS:
            raise BulletinQAError(f"unknown sentence scoring {sentence_scoring!r}; choose one of "
                                  f"{', '.join(SENTENCE_SCORINGS)}")
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.sentence_scoring = sentence_scoring
        self._vectors: dict[str, np.ndarray] = {}
        self.scorer = ClauseScorer(index, embedder)
        self.composer = Composer(index, self.scorer)
        # Build the lookups a question needs now, not on the first question.
        index.rows_by_year()
        index.vector_matrix()
        index.facts()

    # ----- the API -----
    def ask(self, question: str, history: list[str] | None = None, filters: Filters | None = None,
            method: str = "hybrid", today: date | None = None) -> Answer:
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
            table = self.composer.table_answer(effective, filters)
            if table is not None:
                table = replace(table, question=question, seconds=time.perf_counter() - started,
                                effective_question=effective if effective != cleaned else None)
                return self._passages_only(guard(table))
        places, unknown = question_places(self.index, effective)
        # Retrieval narrows to the named place; the matching judges what is asked, so the place's names
        # (哈密市, 哈密) are not words to find in the answer ("全市" says it there).
        parsed = analyse(self.without_places(effective))
        parsed.places = unknown if unknown and not places else []
        searched = expand(effective)
        if effective != anchored:
            # A follow-up searches with the previous turn's words too (企事业单位 → 专项关爱行动…).
            searched += " " + QUESTION_WORDS.sub(" ", history[-1])
        # One query embedding serves retrieval and the clause-meaning step (the model is the slow part of an ask).
        query_vector = (self.embedder.embed_queries([searched])[0]
                        if self.embedder is not None and method in ("hybrid", "dense") else None)
        hits = retrieve(self.index, self.embedder, searched, k=EXTRACTION_DEPTH, filters=filters, method=method,
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
        related = tuple(c for c in answer.related if chunks[row_of[c.chunk_id]].kind not in NOT_BODY)
        return answer if len(related) == len(answer.related) else replace(answer, related=related)

    def without_places(self, question: str) -> str:
        """The question without the names of indexed places."""
        for name in sorted(self.index.place_names(), key=len, reverse=True):
            question = question.replace(name, "")
        return question

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
        candidates = self.scorer.candidates(question, hits)
        candidates = self.scorer.by_meaning(question, candidates, query_vector)
        answers = bool(candidates) and candidates[0].lexical >= ANSWER_THRESHOLD
        if question.kind in READING_KINDS and candidates:
            # A reading question (who, what, when, why): the sentence is chosen by its evidence as a whole.
            candidates, evident = self._by_evidence(question, candidates, hits, query_vector)
            answers = answers or evident
        elif question.kind == "figure" and candidates and not answers:
            restored = self._with_dropped_subjects(question, candidates)
            if restored:
                kept = {id(c) for c in restored}
                candidates, answers = restored + [c for c in candidates if id(c) not in kept], True
        if candidates and answers:  # label precision reorders, never decides
            built = self.composer.build(question, candidates[0], candidates)
            if built is not None:
                return built
        passages = [hit for hit in hits if hit.chunk.kind not in NOT_BODY][:3]  # a masthead is no passage
        related = tuple(self.composer.citation(hit.chunk, hit.chunk.start, hit.chunk.end) for hit in passages)
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

    def sentence_evidence(self, question: Question, candidates: list[Candidate], hits: list[Hit],
                          query_vector: np.ndarray | None = None) -> tuple[list[Candidate], list[SentenceEvidence]]:
        """The best candidate of each of the first READING_DEPTH sentences, and what is known about each
        sentence (`qa.evidence`); cosines only when the embedder knows meaning and scoring is not lexical."""
        best_of: dict[tuple[str, int], Candidate] = {}
        for candidate in candidates:
            if candidate.cell is not None:
                continue
            best_of.setdefault((candidate.chunk.file, candidate.sentence[0]), candidate)
            if len(best_of) >= READING_DEPTH:
                break
        chosen = list(best_of.values())
        texts = [c.bulletin.clean_text[c.sentence[0]:c.sentence[1]] for c in chosen]
        cosines: list[float | None] = [None] * len(chosen)
        rest_cosines: list[float | None] = [None] * len(chosen)
        if chosen and self.sentence_scoring != "lexical" and self.embedder is not None \
                and getattr(self.embedder, "knows_meaning", True):
            if query_vector is None:
                query_vector = self.embedder.embed_queries([question.text])[0]
            vectors = self._sentence_vectors(texts)
            cosines = [float(x) for x in vectors @ query_vector]
            # the question without the words each sentence's title already says (one query per title)
            rests = [without_topic(question.text, c.chunk.title or "") for c in chosen]
            asked = [rest for rest in dict.fromkeys(rests) if rest != question.text]
            rest_vectors = dict(zip(asked, self.embedder.embed_queries(asked))) if asked else {}
            rest_cosines = [float(vector @ rest_vectors.get(rest, query_vector))
                            for vector, rest in zip(vectors, rests)]
        top = hits[0].chunk if hits else None
        evidence = []
        for candidate, text, cosine, rest_cosine in zip(chosen, texts, cosines, rest_cosines):
            chunk, bulletin = candidate.chunk, candidate.bulletin
            # zero anaphora: the topic is in the sentence before; a restated question precedes its answer
            previous, following = neighbour_sentences(bulletin, chunk, candidate.sentence[0])
            evidence.append(SentenceEvidence(
                lexical=candidate.lexical, coverage=self.scorer.coverage(question, text),
                cosine=cosine, rank=candidate.rank,
                top_paragraph=top is not None and (chunk.file, chunk.paragraph) == (top.file, top.paragraph),
                opens=candidate.sentence[0] == bulletin.paragraphs[chunk.paragraph].start, text=text,
                previous=previous, previous_coverage=self.scorer.coverage(question, previous) if previous else 0.0,
                joint_coverage=self.scorer.coverage(question, f"{previous}{text}"), next=following,
                next_coverage=self.scorer.coverage(question, following) if following else 0.0,
                titled_coverage=self.scorer.coverage(question, with_context(chunk, text, self.scorer.topic(chunk))),
                rest_cosine=rest_cosine))
        return chosen, evidence

    def _with_dropped_subjects(self, question: Question, candidates: list[Candidate]) -> list[Candidate]:
        """A figure question's candidates that reach the answer threshold once the sentence before each is read as
        part of it (`ClauseScorer.with_dropped_subject`: a subject named once and then dropped), best first;
        [] when none does."""
        restored = [(self.scorer.with_dropped_subject(question, c), c) for c in candidates[:RESTORED_DEPTH]]
        return [c for score, c in sorted(restored, key=lambda pair: -pair[0]) if score >= ANSWER_THRESHOLD]

    def _by_evidence(self, question: Question, candidates: list[Candidate], hits: list[Hit],
                     query_vector: np.ndarray | None = None) -> tuple[list[Candidate], bool]:
        """Reorder a reading question's candidates by the evidence of their sentences, and say whether that
        evidence alone is strong enough to answer (the learned scorer's probability over its threshold)."""
        if self.sentence_scoring == "lexical" or candidates[0].chunk.kind != "body" or candidates[0].itself:
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
