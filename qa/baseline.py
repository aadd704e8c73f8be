"""The naive baseline the eval compares against: BM25 over sentences, the best sentence verbatim as the answer.

No question analysis, no clause scoring, no dense vectors, no fact table: every bulletin's clean text is cut
into sentences (after 。！？!? and at line breaks, so a heading is not glued to the sentence after it), each
sentence is scored with Okapi BM25 over the project's own tokens (`qa.tokens.tokenize`), and the best one is
the answer and its single citation. It abstains only when no sentence shares a token with the question.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.guard import guard
from qa.records import Answer, Citation
from qa.tokens import tokenize

SENTENCE_RE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”’」』）)]*)?")
K1, B = 1.5, 0.75  # the usual Okapi defaults; nothing here is tuned


@dataclass(frozen=True)
class Sentence:
    """One sentence of a bulletin: `text == bulletins[file].clean_text[start:end]`."""

    file: str
    start: int
    end: int
    text: str


class SentenceBM25:
    """BM25 over every sentence of an index's bulletins."""

    def __init__(self, index) -> None:
        self.index = index
        self.sentences: list[Sentence] = []
        for name, bulletin in sorted(index.bulletins.items()):
            for match in SENTENCE_RE.finditer(bulletin.clean_text):
                text = match.group().strip()
                if text:
                    start = match.start() + match.group().index(text)
                    self.sentences.append(Sentence(name, start, start + len(text), text))
        self.postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for row, sentence in enumerate(self.sentences):
            counts = Counter(tokenize(sentence.text))
            lengths.append(sum(counts.values()))
            for token, count in counts.items():
                self.postings.setdefault(token, []).append((row, count))
        self.lengths = np.array(lengths, dtype=np.float32)
        self.average = float(self.lengths.mean()) if lengths else 0.0
        self._chunks: dict[str, list] = {}
        for chunk in index.chunks:
            self._chunks.setdefault(chunk.file, []).append(chunk)
        for chunks in self._chunks.values():
            chunks.sort(key=lambda chunk: chunk.start)
        self._starts = {name: [chunk.start for chunk in chunks] for name, chunks in self._chunks.items()}

    def search(self, question: str, k: int = 10) -> list[tuple[Sentence, float]]:
        """The k best sentences with a score > 0, best first (ties: corpus order)."""
        scores = np.zeros(len(self.sentences), dtype=np.float32)
        total = len(self.sentences)
        for token in set(tokenize(question)):
            posting = self.postings.get(token)
            if not posting:
                continue
            idf = math.log(1 + (total - len(posting) + 0.5) / (len(posting) + 0.5))
            rows = np.fromiter((row for row, _ in posting), dtype=np.int64, count=len(posting))
            counts = np.fromiter((count for _, count in posting), dtype=np.float32, count=len(posting))
            norm = K1 * (1 - B + B * self.lengths[rows] / self.average)
            scores[rows] += idf * counts * (K1 + 1) / (counts + norm)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.sentences[row], float(scores[row])) for row in order if scores[row] > 0]

    def answer(self, question: str, ranked: list[tuple[Sentence, float]]) -> Answer:
        """The best of `ranked` verbatim, cited; an abstention when nothing scored."""
        if not ranked:
            return Answer(question, "没有与问题相关的句子。", True)
        sentence = ranked[0][0]
        return guard(Answer(question, sentence.text, False, citations=(self.citation(sentence),)))

    def ask(self, question: str) -> Answer:
        """Answer with the single best sentence."""
        return self.answer(question, self.search(question, k=1))

    def citation(self, sentence: Sentence) -> Citation:
        """Cite the chunk that holds the sentence's start (a heading, never chunked, cites the chunk after it)."""
        chunks = self._chunks[sentence.file]
        position = bisect.bisect_right(self._starts[sentence.file], sentence.start) - 1
        if position < 0 or chunks[position].end <= sentence.start:
            position = min(position + 1, len(chunks) - 1)
        chunk = chunks[position]
        return Citation(chunk.chunk_id, chunk.file, chunk.series, chunk.issue, chunk.date, chunk.title,
                        chunk.section, chunk.paragraph, sentence.text, sentence.start, sentence.end, chunk.citation())


@lru_cache(maxsize=2)
def baseline_for(index) -> SentenceBM25:
    """The sentence index of a loaded index, built once per index object."""
    return SentenceBM25(index)
