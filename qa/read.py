"""Read one bulletin file (.md, .txt, .docx, .pdf, .html) from disk into plain, markdown-ish text: the one place
that touches bulletin files. It refuses missing, special, unsupported, empty and oversized files before reading
them, hands the bytes to the format's module (`qa.formats`) and normalises the text they give."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from qa.errors import InputFileError
from qa.formats import human_size
from qa.formats.html_page import read_html
from qa.formats.pdf import read_pdf
from qa.formats.text import decode_text, normalise
from qa.formats.word import read_docx

SUPPORTED_SUFFIXES: tuple[str, ...] = (".md", ".txt", ".docx", ".pdf", ".html", ".htm")
MAX_FILE_BYTES: int = 20 * 1024 * 1024  # refuse larger files before reading them

_SUPPORTED_LIST = ", ".join(SUPPORTED_SUFFIXES)
_TEXT_SUFFIXES = (".md", ".txt")


def read_bulletin_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read one bulletin file into plain text (markdown-ish: paragraphs separated by blank lines, headings as '# ', '## ' lines where the source has them)."""  # noqa: E501
    path = Path(path)
    name = path.name or str(path)
    suffix = path.suffix.lower()
    data = _read_bytes(path, name, suffix, max_bytes)
    if suffix in _TEXT_SUFFIXES:
        text = decode_text(data, name)
    elif suffix == ".docx":
        text = read_docx(data, name)
    elif suffix == ".pdf":
        text = read_pdf(data, name)
    else:
        text = read_html(data, name)
    text = normalise(text)
    if not text:
        raise InputFileError(name, "the file contains only whitespace, no text — check that you picked the right file.",
                             code="whitespace_only")
    return text


def content_hash(text: str) -> str:
    """SHA-256 hex digest of the text as UTF-8, to recognise the same bulletin under another file name."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_bytes(path: Path, name: str, suffix: str, max_bytes: int) -> bytes:
    """The file's bytes, after refusing missing, special, unsupported, empty and oversized files."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputFileError(
            name, "file not found — check the path and the file name, including its extension.", code="not_found"
        ) from None
    except PermissionError:
        raise InputFileError(name, "permission denied — the file cannot be opened; check its access rights.",
                             code="permission") from None
    except (OSError, ValueError) as exc:
        raise InputFileError(name, f"the file cannot be opened ({_os_reason(exc)}) — check the path.",
                             code="cannot_open") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(
            name, f"this is a folder, not a file — give the path of one bulletin file ({_SUPPORTED_LIST}) inside it.",
            code="folder"
        )
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(
            name, "this is not a regular file (a device, pipe or socket) — give the path of a saved bulletin file.",
            code="not_regular"
        )
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"unsupported file type '{suffix}'" if suffix else "the file name has no extension"
        raise InputFileError(
            name, f"{kind} — supported types are {_SUPPORTED_LIST}; save or export the bulletin as one of these.",
            code="unsupported_type", suffix=suffix
        )
    if info.st_size == 0:
        raise InputFileError(name, "the file is empty (0 bytes) — check that it was saved or uploaded completely.",
                             code="empty")
    if info.st_size > max_bytes:
        raise InputFileError(name, _too_large(info.st_size, max_bytes),
                             code="too_large", size=human_size(info.st_size), limit=human_size(max_bytes))
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # +1: notice a file that grew since stat()
    except PermissionError:
        raise InputFileError(name, "permission denied — the file cannot be opened; check its access rights.",
                             code="permission") from None
    except OSError as exc:
        raise InputFileError(
            name, f"the file cannot be read ({_os_reason(exc)}) — check the file and try again.", code="cannot_read"
        ) from None
    if len(data) > max_bytes:
        raise InputFileError(name, _too_large(len(data), max_bytes),
                             code="too_large", size=human_size(len(data)), limit=human_size(max_bytes))
    if not data:
        raise InputFileError(name, "the file is empty (0 bytes) — check that it was saved or uploaded completely.",
                             code="empty")
    return data


def _os_reason(exc: Exception) -> str:
    """A short description of an OS error, without the path."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _too_large(size: int, limit: int) -> str:
    """The reason for refusing an oversized file."""
    return (
        f"the file is too large ({human_size(size)}; the limit is {human_size(limit)}) — "
        "split the bulletin into smaller files or remove embedded images."
    )
