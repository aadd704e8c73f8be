"""Progress of an index run: its phases as `BuildProgress` records for a status line, and embedding in timed
blocks so the time left can be estimated as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.embed import Embedder

# The phases of an index run, in order, as `BuildProgress.phase` names them ("waiting": for another writer's lock).
PHASES = ("waiting", "reading", "embedding", "bm25", "facts", "writing")


@dataclass(frozen=True)
class BuildProgress:
    """Where an index run is: its phase, how much of it is done (items: files, chunks, indicators) and an estimate
    of the phase's time left, for a status line. A phase reports done=0 when it starts and done=total when it
    ends; the embedding phases also after every block of texts."""

    phase: str
    done: int = 0
    total: int = 0
    seconds: float = 0.0  # spent in this phase so far
    eta: float | None = None  # seconds this phase still needs (embedding phases, once a block is done)


ProgressCallback = Callable[[BuildProgress], None]


class Phase:
    """Reports the phases of one index run to an optional `ProgressCallback`."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.name = ""
        self.total = 0
        self.started = time.perf_counter()

    def start(self, name: str, total: int = 0) -> None:
        self.name, self.total, self.started = name, total, time.perf_counter()
        self.report(0)

    def report(self, done: int, eta: float | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(BuildProgress(self.name, done, self.total, time.perf_counter() - self.started, eta))

    def end(self, total: int | None = None) -> None:
        self.report(self.total if total is None else total, 0.0)


# When progress is reported, texts are embedded in blocks of a whole number of the embedder's batches (32: torch's
# batch, a multiple of ONNX's 8) sized to
# take about BLOCK_SECONDS each (measured as it goes), so the time left is re-estimated that often.
BATCH = 32
BLOCK_SECONDS = 5.0


def embed_texts(embedder: Embedder, texts: list[str], phase: str,
                on_progress: ProgressCallback | None = None, progress: bool = False) -> np.ndarray:
    """`embedder.embed_documents(texts)`; with on_progress, in blocks, reporting `phase` after each block with an
    estimate of the time left (by characters: a block of long texts takes longer).

    The texts are embedded longest first, which is the order sentence-transformers batches them in anyway, so the
    blocks hold the same batches as one call over all texts would."""
    if on_progress is None or not texts:
        return embedder.embed_documents(texts, progress=progress)
    reporter = Phase(on_progress)
    reporter.start(phase, len(texts))
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors: np.ndarray | None = None
    total_chars, done_chars = sum(len(text) for text in texts) or 1, 0
    begin, block = 0, BATCH
    while begin < len(order):
        rows = order[begin:begin + block]
        block_started = time.perf_counter()
        part = embedder.embed_documents([texts[i] for i in rows])
        if vectors is None:
            vectors = np.zeros((len(texts), part.shape[1]), dtype=np.float32)
        vectors[rows] = part
        begin += len(rows)
        done_chars += sum(len(texts[i]) for i in rows)
        elapsed = time.perf_counter() - reporter.started
        reporter.report(begin, elapsed / done_chars * (total_chars - done_chars))
        took = max(time.perf_counter() - block_started, 1e-3)
        block = max(BATCH, min(32 * BATCH, int(len(rows) * BLOCK_SECONDS / took) // BATCH * BATCH))
    return vectors


def progress_bar(items: list, label: str, enabled: bool, unit: str = "file", minimum: int = 5):
    """Wrap items in a tqdm bar when enabled and there are at least `minimum` of them."""
    if not enabled or len(items) < minimum:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=label, unit=unit)
