"""The corpus folder of an index: its bulletin files, and which folder an index records it was built from.

An index remembers its corpus folder in the manifest (`corpus`: the absolute path and the path relative to the
index folder); `ask`, `eval`, the chat and `bulletin-qa index` update an index only from that folder.
"""

from __future__ import annotations

from pathlib import Path

from qa.errors import CorpusMismatchError, IndexMissingError
from qa.generations import has_index, read_live, read_manifest
from qa.read import SUPPORTED_SUFFIXES


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Bulletin files in a corpus folder (recursively), sorted; hidden files, README files and unsupported
    types are skipped."""
    if not corpus_dir.is_dir():
        raise IndexMissingError(f"corpus folder {corpus_dir} does not exist")
    return sorted(
        path for path in corpus_dir.rglob("*")
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        and not path.name.upper().startswith("README.")
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
    )


def _corpus_places(index_dir: Path) -> list[Path]:
    """Where the corpus folder the index records may be now: at its recorded place relative to the index folder
    (the two were moved or copied together), then at its recorded absolute path. Empty when the manifest
    predates the record (an unknown corpus)."""
    manifest = read_live(index_dir, read_manifest)  # a writer may replace the generation meanwhile
    record = manifest.get("corpus")
    if not record:
        return []
    places = [(index_dir.resolve() / record["relative"]).resolve()] if record.get("relative") else []
    return places + [Path(record["path"])]


def recorded_corpus(index_dir: Path) -> Path | None:
    """The corpus folder the index in index_dir was built from (where it is now, if it moved together with the
    index), or None for an index that predates the record.

    Raises:
        IndexMissingError: no index in index_dir.
    """
    places = _corpus_places(index_dir)
    return next((place for place in places if place.is_dir()), places[-1] if places else None)


def check_corpus(index_dir: Path, corpus_dir: Path) -> None:
    """Raise CorpusMismatchError unless corpus_dir is the corpus folder the index records (or it records none)."""
    places = _corpus_places(index_dir) if has_index(index_dir) else []
    if places and all(corpus_dir.resolve() != place.resolve() for place in places):
        raise CorpusMismatchError(
            f"index {index_dir} was built from the corpus folder {places[-1]}, not {corpus_dir}; to index "
            f"{corpus_dir}, build a new index: bulletin-qa index {corpus_dir} --index NEW_INDEX (or switch this "
            f"index to it: bulletin-qa index {corpus_dir} --index {index_dir} --switch-corpus)")


def corpus_to_update(index_dir: Path, corpus_dir: Path | None, default_corpus: Path,
                     build_missing: bool) -> tuple[Path | None, str | None]:
    """The corpus folder to bring the index in index_dir up to date from before answering (ask, eval, the chat).

    The folder the index records wins; an explicit corpus_dir must be that one. A folder that holds no index is
    built only when build_missing (the default index on first start), from corpus_dir or default_corpus, so a
    mistyped index path never starts a build.

    Args:
        corpus_dir: the corpus folder given explicitly (a flag or its environment twin), else None.
        default_corpus: the corpus folder of a new default index, and of one that predates the record.
        build_missing: index_dir is the default index folder, built on first use.

    Returns:
        (the corpus folder, or None to use the index as it is; a warning to show, or None).

    Raises:
        IndexMissingError: no index in index_dir and not build_missing; the message says how to build one.
        CorpusMismatchError: corpus_dir is not the folder the index was built from.
    """
    if not has_index(index_dir):
        if not build_missing:
            state = "holds no index" if index_dir.exists() else "does not exist"
            raise IndexMissingError(f"index folder {index_dir} {state}; build an index there first with: "
                                    f"bulletin-qa index CORPUS --index {index_dir}")
        return corpus_dir or default_corpus, None
    recorded = recorded_corpus(index_dir)
    if recorded is None:  # built before indexes recorded their corpus
        if corpus_dir is not None:
            return corpus_dir, None
        if build_missing:  # the default index follows the default corpus, as it always did
            return (default_corpus if default_corpus.is_dir() else None), None
        return None, (f"index {index_dir} does not record the corpus folder it was built from (an older index), "
                      f"so it is used as it is; to record it and update from it: "
                      f"bulletin-qa index CORPUS --index {index_dir}")
    if corpus_dir is not None:
        check_corpus(index_dir, corpus_dir)
        recorded = corpus_dir
    if not recorded.is_dir():
        return None, (f"the corpus folder {recorded} that index {index_dir} was built from no longer exists; "
                      f"answering from the index as it is")
    return recorded, None
