"""The Python API: open an index once, `ask` questions, `add_files` as new issues arrive."""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

from qa.errors import BulletinQAError
from qa.answerer import Answerer
from qa.records import Answer
from qa.retrieve import Filters, Hit


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
        self._answerer = Answerer(index, embedder, self._reranker, sentence_scoring)
        self._update_lock = threading.Lock()
        self.last_update: str | None = None

    def score_sentences_by(self, scoring: str) -> None:
        """Choose reading questions' sentences by `scoring` from now on (one of SENTENCE_SCORINGS)."""
        self._answerer = Answerer(self._answerer.index, self.embedder, self._reranker, scoring)
        self.sentence_scoring = scoring

    @property
    def update_lock(self) -> threading.Lock:
        """Held while the index is written (`add_files`, a background build): one writer of this assistant at a time."""
        return self._update_lock

    def use(self, index, embedder) -> None:
        """Answer from now on from this index with this embedder (e.g. a built index replacing a keyword-only one)."""
        self.embedder = embedder
        self._answerer = Answerer(index, embedder, self._reranker, self.sentence_scoring)
        self.last_update = index.updated

    @property
    def index(self):
        """The live index."""
        return self._answerer.index

    @property
    def answerer(self) -> Answerer:
        """The answerer over the live index (the eval and benchmarks reach its stages through it)."""
        return self._answerer

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
        from qa.store import BulletinIndex
        from qa.update import update_index

        from qa.store import recorded_backend

        recorded = recorded_backend(index_dir) if milvus is None else None  # an int8 index keeps its backend
        embedder = load_embedder(model, progress=progress, backend=backend, recorded=recorded)
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
            method: str = "hybrid", today: date | None = None) -> Answer:
        """Answer one question (optionally a follow-up to `history`, earlier user turns; 今年/去年 counted
        from `today`, else the assistant's date, else the system date). An index without vectors (or no
        embedder yet) answers by BM25 alone."""
        reader = self._answerer
        if reader.embedder is None or not getattr(reader.index, "has_vectors", True):
            method = "bm25"
        return reader.ask(question, history=history, filters=filters, method=method, today=today or self.today)

    def add_files(self, paths: list[Path], progress: bool = True):
        """Add bulletin files (e.g. uploads) to the corpus folder and update the index incrementally.

        Each file is read and checked before it is copied; a bad file is refused with its reason and
        nothing of it reaches the corpus or the index. Names are sanitised; the same text under
        another name is recognised and not added twice.

        Returns:
            The `UpdateReport`, with refused uploads in `files_refused` under their original names.
        """
        from qa.update import UpdateReport, update_index
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
                self._answerer = Answerer(index, self.embedder, self._reranker, self.sentence_scoring)
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
            "retrieval": "hybrid" if self._answerer.embedder is not None and index.has_vectors else "bm25",
            "last_update": self.last_update,
        }


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
