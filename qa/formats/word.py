"""Word files (.docx): paragraphs, headings and tables in document order, after checking the zip for damage and
for sizes that would unpack to a bomb. An old .doc or a password-protected .docx is refused with how to fix it."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

from qa.errors import InputFileError
from qa.formats import human_size
from qa.formats.grid import table_markdown

if TYPE_CHECKING:  # python-docx is imported only when a .docx is read
    from docx.document import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

MAX_DOCX_UNPACKED_BYTES = 100 * 1024 * 1024  # a real bulletin unpacks to a few MB at most
MAX_DOCX_MEMBERS = 10_000
MAX_DOCX_RATIO = 200  # ordinary Word XML compresses 5-30x; far beyond that is a zip bomb
DOCX_RATIO_MIN_BYTES = 1024 * 1024  # tiny members may compress absurdly well; harmless

_FIX_RESAVE_DOCX = "open it in Word or WPS and save it again as .docx"


def read_docx(data: bytes, name: str) -> str:
    """Paragraphs, headings and tables of a .docx, in document order."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: Word 97-2003 .doc, or a password-protected .docx
        raise InputFileError(
            name,
            "this is an old Word .doc file or a password-protected .docx, not a plain .docx — "
            f"{_FIX_RESAVE_DOCX}, without a password.", code="old_doc"
        )
    if not data.startswith(b"PK"):
        raise InputFileError(
            name,
            "this is not a valid .docx file (it is not a zip archive; perhaps another file renamed) — "
            f"{_FIX_RESAVE_DOCX}.", code="not_zip"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_zip_sizes(archive.infolist(), name)
    except InputFileError:
        raise
    except Exception:  # noqa: BLE001 - zipfile raises many types on damaged archives
        raise InputFileError(
            name, f"the .docx file is damaged (its zip structure is broken) — {_FIX_RESAVE_DOCX}.", code="docx_damaged"
        ) from None
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except ValueError as exc:
        if "not a Word file" in str(exc):
            raise InputFileError(
                name, "this zip file is not a Word document (perhaps an Excel or PowerPoint file renamed) — "
                f"{_FIX_RESAVE_DOCX}.", code="not_word"
            ) from None
        raise InputFileError(name, f"the .docx file is damaged and cannot be read — {_FIX_RESAVE_DOCX}.",
                             code="docx_damaged") from None
    except Exception:  # noqa: BLE001 - python-docx and lxml raise many types on damaged files
        raise InputFileError(
            name, f"the .docx file is damaged or is not a Word document — {_FIX_RESAVE_DOCX}.", code="docx_unreadable"
        ) from None
    try:
        blocks = _docx_blocks(document)
    except Exception:  # noqa: BLE001 - malformed XML surfaces while walking the body
        raise InputFileError(name, f"the .docx file is damaged and cannot be read — {_FIX_RESAVE_DOCX}.",
                             code="docx_damaged") from None
    text = "\n\n".join(blocks)
    if not text.strip():
        raise InputFileError(
            name,
            "the Word file contains no text (perhaps only pictures of a scanned page) — "
            "run OCR on the scan first, or give the bulletin as text.", code="docx_no_text"
        )
    return text


def _check_zip_sizes(infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse zip bombs from the declared sizes, before anything is unpacked."""
    # zipfile never inflates a member beyond its declared file_size, so these numbers bound the work.
    bomb = (
        f"the .docx file would unpack to more than {human_size(MAX_DOCX_UNPACKED_BYTES)} or is compressed "
        "suspiciously tightly (a 'zip bomb'), so it was not opened — it may be damaged or malicious; "
        f"{_FIX_RESAVE_DOCX}."
    )
    if len(infos) > MAX_DOCX_MEMBERS:
        raise InputFileError(name, bomb, code="zip_bomb", limit=human_size(MAX_DOCX_UNPACKED_BYTES))
    if sum(info.file_size for info in infos) > MAX_DOCX_UNPACKED_BYTES:
        raise InputFileError(name, bomb, code="zip_bomb", limit=human_size(MAX_DOCX_UNPACKED_BYTES))
    for info in infos:
        if info.file_size > DOCX_RATIO_MIN_BYTES and info.file_size > MAX_DOCX_RATIO * max(info.compress_size, 1):
            raise InputFileError(name, bomb, code="zip_bomb", limit=human_size(MAX_DOCX_UNPACKED_BYTES))


def _docx_blocks(document: Document) -> list[str]:
    """One text block per paragraph or table of a python-docx Document."""
    from docx.table import Table

    # With a Title present it is '# ' and 'Heading 1' is '## '; without one 'Heading 1/2' are '# '/'## '.
    # Deeper headings stay plain paragraphs: the parser knows only two levels.
    has_title = any(_heading_level(p) == 0 for p in document.paragraphs)
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            table_text = _docx_table(item)
            if table_text:
                blocks.append(table_text)
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item)
        if level is not None:
            depth = level + 1 if has_title else level
            if depth <= 2:
                text = "#" * depth + " " + " ".join(text.split())
        blocks.append(text)
    return blocks


_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$")


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for a Title paragraph, n for 'Heading n', None for body text."""
    try:
        style_name = (paragraph.style.name or "").strip().lower()
    except Exception:  # noqa: BLE001 - a missing or broken style is body text
        return None
    if style_name in ("title", "标题"):
        return 0
    match = _HEADING_STYLE.match(style_name)
    return int(match.group(1)) if match else None


def _docx_table(table: Table) -> str:
    """A Word table as markdown rows (`| a | b |`), merged cells repeated in every grid cell they cover,
    so each column keeps its header; a table without a figure in any cell is returned as plain lines."""
    grid = [[cell.text for cell in row.cells] for row in table.rows]
    return table_markdown(grid)
