"""PDF files: the text layer, page by page, with visually wrapped lines joined back into paragraphs. A scanned
PDF (no text layer), an encrypted or damaged one, or one whose fonts lack a Unicode mapping is refused."""

from __future__ import annotations

import io
import logging
import unicodedata

from qa.errors import InputFileError
from qa.formats import CJK_CHAR, SAMPLE_CHARS

# pypdf logs its repairs of damaged files; the reader reports problems itself, so keep them
# off stderr unless the application configures logging.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


def read_pdf(data: bytes, name: str) -> str:
    """The text layer of a PDF, page by page, pages separated by a blank line."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    if b"%PDF-" not in data[:1024]:
        raise InputFileError(name, "this is not a PDF file (it has no PDF header) — export or download the PDF again.",
                             code="not_pdf")
    damaged = "the PDF file is damaged and cannot be read — export or download it again."
    if b"%%EOF" not in data:  # pypdf can half-repair a cut-off file; we'd silently lose pages
        raise InputFileError(
            name,
            "the PDF file is incomplete (its end is missing, e.g. an interrupted download) — "
            "download or export it again.", code="pdf_incomplete"
        )
    encrypted = (
        "the PDF is password-protected (encrypted) — open it with its password and save or print an unprotected "
        "copy, then try again."
    )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # an empty user password opens owner-only locks
            raise InputFileError(name, encrypted, code="pdf_encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputFileError:
        raise
    except FileNotDecryptedError:
        raise InputFileError(name, encrypted, code="pdf_encrypted") from None
    except DependencyError:  # AES needs pypdf's optional crypto package
        raise InputFileError(
            name,
            "the PDF is encrypted with AES, which this installation cannot open (pip install 'pypdf[crypto]') — "
            "or save or print an unprotected copy of it and try again.", code="pdf_aes"
        ) from None
    except Exception:  # noqa: BLE001 - pypdf raises many types on damaged files
        raise InputFileError(name, damaged, code="pdf_damaged") from None
    if not pages:
        raise InputFileError(name, "the PDF has no pages — export or download it again.", code="pdf_no_pages")
    letters = sum(1 for page in pages for ch in page if ch.isalpha())
    if letters < 3 * len(pages):
        raise InputFileError(
            name,
            "the PDF has no text layer (it looks like a scanned image) — it needs OCR first: run it through an OCR "
            "tool (e.g. ocrmypdf) and use the result.", code="pdf_scanned"
        )
    text = "\n\n".join(_unwrap_lines(pages))
    sample = [ch for ch in text[:SAMPLE_CHARS] if not ch.isspace()]
    if sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs")) > 0.05 * len(sample):
        raise InputFileError(
            name,
            "the PDF's text layer cannot be decoded (its fonts lack a Unicode mapping) — it needs OCR first: run it "
            "through an OCR tool (e.g. ocrmypdf) and use the result.", code="pdf_no_unicode"
        )
    return text


def _unwrap_lines(pages: list[str]) -> list[str]:
    """Rejoin visually wrapped lines into paragraphs; a line clearly shorter than the column ends one."""
    page_lines = [page.replace("\r\n", "\n").replace("\r", "\n").split("\n") for page in pages]
    widths = sorted(w for lines in page_lines for line in lines if (w := _visual_width(line.strip())) >= 10)
    # Column width: most body lines are full, so a high percentile finds it, ignoring a few long outliers.
    column = widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 3 else None
    out = []
    for lines in page_lines:
        paragraphs: list[str] = []
        current, previous_raw = "", ""
        for raw in lines:
            line = raw.strip()
            if not line:
                if current:
                    paragraphs.append(current)
                current = ""
                continue
            current = _join_wrapped(current, previous_raw, raw) if current else line
            previous_raw = raw
            if column is None or _visual_width(line) < column - max(2.5, 0.1 * column):
                paragraphs.append(current)
                current = ""
        if current:
            paragraphs.append(current)
        out.append("\n\n".join(paragraphs))
    return out


def _join_wrapped(current: str, previous_raw: str, raw: str) -> str:
    """Append a wrapped line: a space where the PDF had one or between words, none between Chinese characters."""
    line = raw.strip()
    if previous_raw[-1:].isspace() or raw[:1].isspace():
        return current + " " + line
    if CJK_CHAR.match(current[-1]) or CJK_CHAR.match(line[0]):
        return current + line
    return current + " " + line


def _visual_width(line: str) -> float:
    """Approximate printed width in ems: CJK characters are full width, the rest about half."""
    return sum(1.0 if CJK_CHAR.match(ch) else 0.5 for ch in line)
