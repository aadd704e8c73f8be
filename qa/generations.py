"""Generations of an index folder: the CURRENT pointer, the writers' lock, publishing a generation durably and
removing stale ones.

    index/CURRENT        name of the live generation, switched with one atomic rename
    index/LOCK           writers hold an flock on it (`index_lock`)
    index/gen-<time>-<id>/   one complete generation (what its files hold: `qa.store`)
    index/.tmp-…         a generation or pointer being written; left behind only by a crashed run

A new generation is written completely into a temp folder, flushed with fsync, renamed to gen-…, and only then
does CURRENT switch to it, so a crash at any moment leaves the previous generation loadable. Stale generations
and temp folders are removed afterwards; anything else in the folder (index/README.md) is never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from qa.errors import IndexMissingError

CURRENT_FILE = "CURRENT"
LOCK_FILE = "LOCK"  # writers hold an flock on it (see index_lock)
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = ".tmp-"

T = TypeVar("T")


def live_name(index_dir: Path) -> str | None:
    """What CURRENT names right now (None when there is no index)."""
    try:
        return (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def current_generation(index_dir: Path) -> Path:
    """The folder CURRENT points at.

    Raises:
        IndexMissingError: no CURRENT, or it names a generation that is not there.
    """
    pointer = index_dir / CURRENT_FILE
    if not pointer.exists():
        raise IndexMissingError(f"no index in {index_dir}; build one with: bulletin-qa index CORPUS_DIR --index {index_dir}")
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    if not (folder / "manifest.json").exists():
        raise IndexMissingError(f"index in {index_dir} points at a missing generation {folder.name}; "
                                f"rebuild it with: bulletin-qa index CORPUS_DIR --index {index_dir} --rebuild")
    return folder


def has_index(index_dir: Path) -> bool:
    """True when index_dir holds an index (a CURRENT pointer), however old."""
    return (index_dir / CURRENT_FILE).is_file()


def read_live(index_dir: Path, read: Callable[[Path], T],
              errors: tuple[type[BaseException], ...] = (OSError, IndexMissingError)) -> T:
    """`read(the live generation's folder)`; when it fails with one of `errors` because a writer switched CURRENT
    meanwhile (and removed the generation being read), the new generation is read instead (three attempts)."""
    for attempt in range(3):
        live = live_name(index_dir)
        try:
            return read(current_generation(index_dir))
        except errors:
            if attempt == 2 or live_name(index_dir) == live:
                raise
    raise AssertionError("unreachable")


def read_manifest(folder: Path) -> dict:
    """The manifest.json of a generation folder."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@contextmanager
def index_lock(index_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index folder's writer lock: one writer at a time, across threads and processes.

    Without it a second writer (another `bulletin-qa index`, an `ask` that updates, an upload in the chat)
    would remove the first one's temp folder as a crash leftover, or its fresh generation as stale. The lock
    is an flock on `LOCK`, released by the kernel when its holder exits or is killed. `on_wait` is called
    once when another writer holds it, before waiting for it.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(index_dir / LOCK_FILE, "a+b")  # noqa: SIM115 - held for the body of the with
    except OSError:  # a read-only index folder: nothing can be written there, so there is nothing to guard
        yield
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def publish(index_dir: Path, write: Callable[[Path], None]) -> Path:
    """Write a new generation with `write(folder)` into a temp folder, flush it, rename it to gen-…, switch
    CURRENT to it atomically and remove stale generations. Returns the generation folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"{GENERATION_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    temp = index_dir / f"{TEMP_PREFIX}{name}"
    temp.mkdir()
    write(temp)
    _fsync_tree(temp)
    os.replace(temp, index_dir / name)
    pointer = index_dir / f"{TEMP_PREFIX}{CURRENT_FILE}-{uuid.uuid4().hex[:8]}"
    pointer.write_text(name + "\n", encoding="utf-8")
    _fsync_file(pointer)
    os.replace(pointer, index_dir / CURRENT_FILE)
    _fsync_dir(index_dir)
    clean_stale(index_dir)
    return index_dir / name


def clean_stale(index_dir: Path) -> list[str]:
    """Remove temp folders left by crashed runs and generations that CURRENT no longer points at; nothing else."""
    live = None
    if (index_dir / CURRENT_FILE).exists():
        live = (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    removed = []
    for path in index_dir.iterdir() if index_dir.exists() else []:
        stale_gen = path.name.startswith(GENERATION_PREFIX) and path.name != live
        if path.name.startswith(TEMP_PREFIX) or stale_gen:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder below folder, so the rename that publishes it never exposes a partial file.
    A file with another link is a segment shared with an earlier generation (`qa.segments`), flushed when that
    generation was written: only its new folder entry needs flushing, which the folder's fsync does."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.stat().st_nlink == 1:
            _fsync_file(path)
    for path in [*sorted(p for p in folder.rglob("*") if p.is_dir()), folder]:
        _fsync_dir(path)
