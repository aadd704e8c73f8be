"""Bring uploaded files into the corpus folder safely: checked first, sanitised names, no duplicates."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path

from qa.errors import InputFileError, Refusal
from qa.read import SUPPORTED_SUFFIXES, content_hash, read_bulletin_file

MAX_UPLOAD_FILES = 20  # per call; a bulletin office adds a handful of issues at a time


def sanitise_name(name: str) -> str:
    """A safe file name: no folders, no '..', no leading '-' or '.', only letters, digits, CJK, '-', '_' and '.'.

    >>> sanitise_name("../../etc/passwd 第 9 期.md")
    'passwd-第-9-期.md'
    """
    base = unicodedata.normalize("NFKC", os.path.basename(name.replace("\\", "/")))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w\u4e00-\u9fff-]+", "-", stem, flags=re.UNICODE).strip("-._")
    stem = re.sub(r"-{2,}", "-", stem)[:80] or "bulletin"
    suffix = re.sub(r"[^a-z0-9]", "", suffix.lower())
    return f"{stem}.{suffix}" if suffix else stem


def stage_uploads(paths: list[Path], corpus_dir: Path, index) -> tuple[dict[str, Refusal], dict[str, str]]:
    """Check each uploaded file and copy the good ones into corpus_dir.

    A file is refused (with a reason) when its type is not supported, it cannot be read or decoded,
    it is empty or too large, or its text is already in the index or in this upload under another name.

    Returns:
        Refused files (original name → `Refusal`: code, English reason, params) and saved files (original
        name → name in corpus_dir).
    """
    refused: dict[str, Refusal] = {}
    staged: dict[str, str] = {}
    if len(paths) > MAX_UPLOAD_FILES:
        for path in paths:
            refused[Path(path).name] = Refusal(
                "too_many", f"too many files in one upload ({len(paths)}); add at most {MAX_UPLOAD_FILES} at a time",
                {"count": len(paths), "limit": MAX_UPLOAD_FILES})
        return refused, staged
    known = {entry["text_sha256"]: name for name, entry in index.file_hashes.items()}
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        path = Path(path)
        original = path.name
        safe = sanitise_name(original)
        if Path(safe).suffix.lower() not in SUPPORTED_SUFFIXES:
            refused[original] = Refusal("unsupported_type", f"unsupported file type; supported: "
                                                            f"{', '.join(SUPPORTED_SUFFIXES)}",
                                        {"suffix": Path(safe).suffix.lower()})
            continue
        try:
            text = read_bulletin_file(path)
        except InputFileError as error:
            refused[original] = error.refusal
            continue
        digest = content_hash(text)
        if digest in known:
            refused[original] = Refusal("duplicate", f"same text as {known[digest]}, which is already indexed; "
                                                     "not added twice", {"of": known[digest]})
            continue
        target = _free_name(corpus_dir, safe)
        temp = corpus_dir / f".upload-{uuid.uuid4().hex[:8]}{target.suffix}"
        shutil.copyfile(path, temp)
        os.replace(temp, target)  # a crash never leaves half a file under a real name
        known[digest] = target.name
        staged[original] = target.name
    return refused, staged


def _free_name(folder: Path, name: str) -> Path:
    """folder/name, or folder/stem-2.suffix … when that name is taken (never overwrite an indexed file)."""
    target = folder / name
    stem, suffix = target.stem, target.suffix
    counter = 2
    while target.exists():
        target = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return target
