"""The first build in the background: answer by BM25 over the parsed corpus at once, while the embedding model
loads and the full index (vectors, BM25, facts) is built and written; then switch to hybrid retrieval.

The build is an ordinary `qa.update.update_index` run: it holds the index folder's writer lock and publishes a
complete generation or nothing, so a crash leaves no half index and the next start builds again. It also holds
the assistant's `update_lock`, so an upload waits for it (and can say so: `BackgroundBuild.running`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from qa.assistant import Assistant
from qa.progress import BuildProgress
from qa.update import keyword_index, update_index

BUILD_THREADS = 1  # embedding threads of a background build (see `qa.embed.limit_threads`)
PHASE_WORDS = {  # what the terminal says each phase of the build is doing
    "model": "loading the embedding model",
    "waiting": "waiting for another writer of the index folder (its lock)",
    "reading": "reading and parsing files",
    "embedding": "embedding chunks",
    "bm25": "building the BM25 index",
    "facts": "extracting facts (figures and their indicators)",
    "writing": "writing the index generation",
}


def format_seconds(seconds: float) -> str:
    """'4 min 05 s', '12 s': a duration for the terminal."""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def describe(progress: BuildProgress) -> str:
    """One terminal line for a progress report, e.g. 'index: embedding chunks 512 / 6,931 (7 %), about 14 min left'."""
    words = PHASE_WORDS.get(progress.phase, progress.phase)
    if progress.phase in ("model", "waiting"):
        return f"index: {words}…"
    if progress.done == 0:
        return f"index: {words} ({progress.total:,})…"
    if progress.done >= progress.total and progress.eta in (None, 0.0):
        return f"index: {words}: done in {format_seconds(progress.seconds)}"
    share = progress.done * 100 // max(progress.total, 1)
    left = f", about {format_seconds(progress.eta)} left" if progress.eta is not None else ""
    return f"index: {words} {progress.done:,} / {progress.total:,} ({share} %){left}"


class ProgressPrinter:
    """Prints a build's progress to stderr: every phase's start and end, and within a phase a line at most every
    `every` seconds (the terminal never stays silent for long, nor scrolls a line per block)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = 0.0

    def __call__(self, progress: BuildProgress) -> None:
        now = time.monotonic()
        boundary = progress.done == 0 or progress.done >= progress.total
        if boundary or now - self.last >= self.every:
            print(describe(progress), file=sys.stderr, flush=True)
            self.last = now


class BackgroundBuild:
    """Builds the index of `corpus_dir` into `index_dir` in a thread and hands it to `assistant` when written.

    Until then the assistant answers from a keyword-only index (see `open_at_once`). `progress` is the latest
    report; `running`, `error` and `seconds` say how the build went.
    """

    def __init__(self, assistant: Assistant, corpus_dir: Path, index_dir: Path, load_embedder: Callable,
                 on_progress: Callable[[BuildProgress], None] | None = None) -> None:
        self.assistant = assistant
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        self.load_embedder = load_embedder
        self.on_progress = on_progress
        self.progress: BuildProgress | None = None
        self.error: Exception | None = None
        self.seconds: float | None = None  # how long the build took, once it is done
        self.report = None  # the build's `UpdateReport`, once it is done
        self._done = threading.Event()
        self._go = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True from `start` until the built index answers (or the build failed)."""
        return self._thread is not None and not self._done.is_set()

    def start(self, paused: bool = False) -> "BackgroundBuild":
        """Start the build; returns once it holds the assistant's update lock (so no upload goes first).

        Args:
            paused: hold the lock but do no work until `resume` (e.g. until the chat is served: on 2 cores, the
                model's import and the embedding would otherwise slow the server's start down).
        """
        if not paused:
            self._go.set()
        holding = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(holding,), name="index-build", daemon=True)
        self._thread.start()
        holding.wait()
        return self

    def resume(self) -> None:
        """Let a build started paused do its work."""
        self._go.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the build to finish; True when it has."""
        return self._done.wait(timeout)

    def _note(self, progress: BuildProgress) -> None:
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)

    def _run(self, holding: threading.Event) -> None:
        try:
            with self.assistant.update_lock:
                holding.set()
                self._go.wait()
                started = time.perf_counter()
                self._note(BuildProgress("model"))
                embedder = self.load_embedder()
                index, self.report = update_index(self.corpus_dir, self.index_dir, embedder, progress=False,
                                                  on_progress=self._note)
                self.assistant.use(index, embedder)
                self.seconds = time.perf_counter() - started
                print(f"index: built in {format_seconds(self.seconds)} ({self.report.chunks_total:,} chunks); "
                      f"answering with hybrid retrieval (BM25 + vectors) now", file=sys.stderr, flush=True)
        except Exception as error:  # noqa: BLE001 - reported on the terminal and in the status; BM25 answers go on
            self.error = error
            print(f"error: building the index failed, answering by BM25 only: {error}", file=sys.stderr, flush=True)
        finally:
            holding.set()
            self._done.set()


def open_at_once(index_dir: Path, corpus_dir: Path, model: str | None = None, reranker: str | None = None,
                 today: date | None = None, on_progress: Callable[[BuildProgress], None] | None = None,
                 paused: bool = False, backend: str | None = None) -> tuple[Assistant, BackgroundBuild]:
    """An assistant that answers now, by BM25 over the parsed corpus, and the started build that gives it the
    full index (hybrid retrieval) when done. For a first start, when index_dir holds no index yet.

    Args:
        paused: the build holds the update lock but waits for `BackgroundBuild.resume` before it starts.

    Returns:
        (the assistant, the running build).
    """
    from qa.embed import DEFAULT_MODEL, load_embedder

    name = model or DEFAULT_MODEL
    index, report = keyword_index(corpus_dir, name)
    for refused, reason in report.files_refused.items():
        print(f"warning: {refused} was not indexed: {reason}", file=sys.stderr)
    assistant = Assistant(index, None, reranker, index_dir=index_dir, corpus_dir=corpus_dir, today=today)
    def load() -> object:
        # One thread builds, the other core serves the chat.
        return load_embedder(model, progress=False, backend=backend, threads=BUILD_THREADS)

    build = BackgroundBuild(assistant, corpus_dir, index_dir, load, on_progress or ProgressPrinter())
    return assistant, build.start(paused=paused)
