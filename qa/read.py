"""Read one bulletin file (.md, .txt, .docx, .pdf, .html) from disk into plain, markdown-ish text."""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
import stat
import unicodedata
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import InputFileError

if TYPE_CHECKING:  # the format libraries are imported only when a file of that format is read
    from bs4 import Tag
    from docx.document import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

SUPPORTED_SUFFIXES: tuple[str, ...] = (".md", ".txt", ".docx", ".pdf", ".html", ".htm")
MAX_FILE_BYTES: int = 20 * 1024 * 1024  # refuse larger files before reading them

MAX_DOCX_UNPACKED_BYTES = 100 * 1024 * 1024  # a real bulletin unpacks to a few MB at most
MAX_DOCX_MEMBERS = 10_000
MAX_DOCX_RATIO = 200  # ordinary Word XML compresses 5-30x; far beyond that is a zip bomb
DOCX_RATIO_MIN_BYTES = 1024 * 1024  # tiny members may compress absurdly well; harmless

_SUPPORTED_LIST = ", ".join(SUPPORTED_SUFFIXES)
_TEXT_SUFFIXES = (".md", ".txt")
_SAMPLE_CHARS = 200_000  # enough text to judge an encoding or a text layer

# pypdf logs its repairs of damaged files; the reader reports problems itself, so keep them
# off stderr unless the application configures logging.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

_FIX_SAVE_UTF8 = "open it in a text editor and save it again as UTF-8 text"
_FIX_RESAVE_DOCX = "open it in Word or WPS and save it again as .docx"


def read_bulletin_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read one bulletin file into plain text (markdown-ish: paragraphs separated by blank lines, headings as '# ', '## ' lines where the source has them)."""  # noqa: E501
    path = Path(path)
    name = path.name or str(path)
    suffix = path.suffix.lower()
    data = _read_bytes(path, name, suffix, max_bytes)
    if suffix in _TEXT_SUFFIXES:
        text = _decode_text(data, name)
    elif suffix == ".docx":
        text = _read_docx(data, name)
    elif suffix == ".pdf":
        text = _read_pdf(data, name)
    else:
        text = _read_html(data, name)
    text = _normalise(text)
    if not text:
        raise InputFileError(name, "the file contains only whitespace, no text — check that you picked the right file.",
                             code="whitespace_only")
    return text


def content_hash(text: str) -> str:
    """SHA-256 hex digest of the text as UTF-8, to recognise the same bulletin under another file name."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- reading the file ------------------------------------------------------------------


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
                             code="too_large", size=_human_size(info.st_size), limit=_human_size(max_bytes))
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
                             code="too_large", size=_human_size(len(data)), limit=_human_size(max_bytes))
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
        f"the file is too large ({_human_size(size)}; the limit is {_human_size(limit)}) — "
        "split the bulletin into smaller files or remove embedded images."
    )


def _human_size(size: int) -> str:
    """A byte count for people: bytes, KB or MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB".replace(".0 ", " ")
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 ", " ")


# --- plain text and encodings ----------------------------------------------------------

_BIG5_CODECS = ("big5", "cp950", "big5hkscs")
_BIG5_LABELS = ("big5", "cp950", "big5-hkscs", "big5hkscs", "x-x-big5")  # as declared in HTML
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \v \f \r


def _decode_text(data: bytes, name: str, declared: str | None = None) -> str:
    """Decode text bytes as UTF-8, GB18030/GBK or Big5 — or refuse rather than return mojibake."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return _checked_text(data[len(codecs.BOM_UTF8) :].decode("utf-8"), name)
        except UnicodeDecodeError:
            raise InputFileError(
                name, f"the file is marked as UTF-8 but contains bytes that are not valid UTF-8 — {_FIX_SAVE_UTF8}.",
                code="bad_utf8"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked_text(data.decode("utf-16"), name)
        except UnicodeDecodeError:
            raise InputFileError(
                name, f"the file is marked as UTF-16 but is not valid UTF-16 — {_FIX_SAVE_UTF8}.", code="bad_utf16"
            ) from None
    if b"\x00" in data:
        raise _binary_error(name)
    try:
        return _checked_text(data.decode("utf-8"), name)
    except UnicodeDecodeError:
        pass
    if declared is not None and declared.lower().replace("_", "-") in _BIG5_LABELS:
        text = _strict_decode(data, "cp950")
        if text is not None and _plausible_big5(text):
            return _checked_text(text, name)
    text = _strict_decode(data, "gb18030")  # superset of GBK and GB2312
    if text is not None and _plausible_gb(text):
        return _checked_text(text, name)
    text = _guess_big5(data)
    if text is not None:
        return _checked_text(text, name)
    if len(_CONTROL_BYTES.findall(data)) > 0.05 * len(data):
        raise _binary_error(name)
    almost = _almost_utf8(data)
    if almost is not None:
        raise InputFileError(
            name,
            f"the file is almost valid UTF-8 but has damaged bytes (the first at byte {almost}) — fix or delete the "
            f"garbled character there, or get an intact copy, and save it as UTF-8.", code="damaged_utf8", byte=almost
        )
    raise InputFileError(
        name,
        "the text encoding could not be recognised (it is not UTF-8, GB18030/GBK or Big5) — "
        f"{_FIX_SAVE_UTF8}.", code="unknown_encoding"
    )


def _almost_utf8(data: bytes) -> int | None:
    """Offset of the first bad byte of UTF-8 text with just a few damaged bytes, else None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    else:
        return None
    damaged = data.decode("utf-8", errors="replace").count("\ufffd")
    return first_bad if damaged <= max(1, len(data) // 1000) else None


def _binary_error(name: str) -> InputFileError:
    """The error for a supposed text file that holds binary data."""
    return InputFileError(
        name,
        "the file does not look like text (it contains binary data such as NUL bytes) — if it is a Word or PDF "
        f"file, give it the right extension (.docx or .pdf); otherwise {_FIX_SAVE_UTF8}.", code="binary"
    )


def _strict_decode(data: bytes, encoding: str) -> str | None:
    """The bytes decoded strictly, or None if they are not valid in that encoding."""
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _checked_text(text: str, name: str) -> str:
    """Refuse decoded text that is mostly control or unassigned characters; drop stray control characters."""
    sample = text[:_SAMPLE_CHARS]
    visible = [ch for ch in sample if not ch.isspace()]
    bad = sum(1 for ch in visible if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs"))
    if visible and bad > 0.05 * len(visible):
        raise _binary_error(name)
    return _CONTROL_CHARS.sub("", text)


def _scored_chars(text: str) -> list[str]:
    """The non-ASCII, non-space characters of a sample: the ones that tell encodings apart."""
    return [ch for ch in text[:_SAMPLE_CHARS] if ord(ch) > 0x7F and not ch.isspace()]


def _plausible_gb(text: str) -> bool:
    """True if GB18030-decoded text reads like Chinese rather than mojibake (e.g. Big5 bytes)."""
    scored = _scored_chars(text)
    return sum(map(_common_gb, scored)) >= 0.9 * len(scored)


@lru_cache(maxsize=65536)
def _common_gb(ch: str) -> bool:
    """True for GB2312 hanzi and the GB symbol rows real Chinese text uses (not kana, Cyrillic, box drawing)."""
    try:
        lead, trail = ch.encode("gbk")[:2]
    except (UnicodeEncodeError, ValueError):
        return False
    if lead >= 0xB0 and trail >= 0xA1:  # GB2312 levels 1 and 2
        return True
    if trail >= 0xA1 and lead in (0xA1, 0xA2, 0xA3, 0xA6, 0xA8):  # punctuation, numerals, full-width, Greek, pinyin
        return True
    return lead in (0xA8, 0xA9) and trail < 0xA1  # GBK's extra punctuation


def _guess_big5(data: bytes) -> str | None:
    """Big5 text, only when charset-normalizer is confident and the result is mostly common CJK."""
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data).best()
    except Exception:  # noqa: BLE001 - a failed guess just means "not Big5"
        return None
    if best is None or best.encoding not in _BIG5_CODECS or best.chaos > 0.1:
        return None
    text = _strict_decode(data, best.encoding)
    return text if text is not None and _plausible_big5(text) else None


def _plausible_big5(text: str) -> bool:
    """True if Big5-decoded text is mostly common traditional hanzi and Big5 punctuation."""
    scored = _scored_chars(text)
    if not scored:
        return False
    han = sum(1 for ch in scored if _is_han(ch))
    return han >= 0.5 * len(scored) and sum(map(_common_big5, scored)) >= 0.9 * len(scored)


@lru_cache(maxsize=65536)
def _common_big5(ch: str) -> bool:
    """True for Big5 symbols (lead 0xA1-0xA3) and frequently used hanzi (lead 0xA4-0xC6)."""
    try:
        return 0xA1 <= ch.encode("cp950")[0] <= 0xC6
    except (UnicodeEncodeError, IndexError):
        return False


def _is_han(ch: str) -> bool:
    """True for a CJK ideograph."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


# --- normalising -----------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Unify line endings, drop a BOM and control characters, trim lines and collapse blank-line runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\v", "\n")
    text = text.replace("\u2029", "\n\n").replace("\f", "\n\n")
    text = _CONTROL_CHARS.sub("", text.lstrip("\ufeff"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- Word ------------------------------------------------------------------------------


def _read_docx(data: bytes, name: str) -> str:
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
        f"the .docx file would unpack to more than {_human_size(MAX_DOCX_UNPACKED_BYTES)} or is compressed "
        "suspiciously tightly (a 'zip bomb'), so it was not opened — it may be damaged or malicious; "
        f"{_FIX_RESAVE_DOCX}."
    )
    if len(infos) > MAX_DOCX_MEMBERS:
        raise InputFileError(name, bomb, code="zip_bomb", limit=_human_size(MAX_DOCX_UNPACKED_BYTES))
    if sum(info.file_size for info in infos) > MAX_DOCX_UNPACKED_BYTES:
        raise InputFileError(name, bomb, code="zip_bomb", limit=_human_size(MAX_DOCX_UNPACKED_BYTES))
    for info in infos:
        if info.file_size > DOCX_RATIO_MIN_BYTES and info.file_size > MAX_DOCX_RATIO * max(info.compress_size, 1):
            raise InputFileError(name, bomb, code="zip_bomb", limit=_human_size(MAX_DOCX_UNPACKED_BYTES))


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


# --- PDF -------------------------------------------------------------------------------


def _read_pdf(data: bytes, name: str) -> str:
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
    sample = [ch for ch in text[:_SAMPLE_CHARS] if not ch.isspace()]
    if sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs")) > 0.05 * len(sample):
        raise InputFileError(
            name,
            "the PDF's text layer cannot be decoded (its fonts lack a Unicode mapping) — it needs OCR first: run it "
            "through an OCR tool (e.g. ocrmypdf) and use the result.", code="pdf_no_unicode"
        )
    return text


_CJK = (
    "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3200-\u9fff\uf900-\ufaff"
    "\ufe30-\ufe4f\uff00-\uffef\u2018\u2019\u201c\u201d\U00020000-\U0003ffff"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")


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
    if _CJK_CHAR.match(current[-1]) or _CJK_CHAR.match(line[0]):
        return current + line
    return current + " " + line


def _visual_width(line: str) -> float:
    """Approximate printed width in ems: CJK characters are full width, the rest about half."""
    return sum(1.0 if _CJK_CHAR.match(ch) else 0.5 for ch in line)


# --- HTML ------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "title", "svg", "math", "iframe", "object", "embed", "canvas", "select"}
)
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h3", "h4", "h5", "h6", "header", "hr",
        "html", "li", "main", "nav", "ol", "p", "section", "summary", "ul", "table", "thead", "tbody", "tfoot",
        "tr", "td", "th",
    }
)
_LAYOUT_MARKERS = ("p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
_BREAK = "\u2028"  # stands for <br> while source whitespace is being collapsed
_SOURCE_WRAP = re.compile(f"(?<=[{_CJK}])[ \\t\\r\\n\\f]*\\n[ \\t\\r\\n\\f]*(?=[{_CJK}])")


def _read_html(data: bytes, name: str) -> str:
    """Visible text of an HTML page: headings, paragraphs, list items and table cells in order."""
    from bs4 import BeautifulSoup

    match = _META_CHARSET.search(data[:4096])
    declared = match.group(1).decode("ascii", "replace") if match else None
    markup = _decode_text(data, name, declared)
    try:
        soup = BeautifulSoup(markup, "lxml")
        blocks = _html_blocks(soup)
    except Exception:  # noqa: BLE001 - the parsers raise many types on hostile markup
        raise InputFileError(
            name, "the HTML page could not be parsed — save the page again, or save its text as .txt.",
            code="html_unparseable"
        ) from None
    text = "\n\n".join(blocks)
    if not text.strip():
        raise InputFileError(
            name,
            "the HTML page has no visible text (it may be filled in by JavaScript) — open it in a browser and save "
            "the text as .txt instead.", code="html_no_text"
        )
    return text


def _html_blocks(root: Tag) -> list[str]:
    """Walk the tree without recursion (deep pages must not crash us), one block per block element."""
    from bs4 import NavigableString, Tag

    blocks: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        text = _collapse(inline)
        inline.clear()
        if text:
            blocks.append(text)

    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            flush()
            continue
        if type(node) is NavigableString:  # subclasses are comments, CDATA, doctypes, script text
            inline.append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        tag = (node.name or "").lower()
        if tag in _SKIP_TAGS:
            continue
        if tag == "br":
            inline.append(_BREAK)
            continue
        if tag in ("h1", "h2"):
            flush()
            heading = " ".join(_collapse(_html_strings(node)).split())
            if heading:
                blocks.append(("# " if tag == "h1" else "## ") + heading)
            continue
        if tag == "table" and not _is_layout_table(node):
            flush()
            table = _html_table(node)
            if table:
                blocks.append(table)
            continue
        if tag == "pre":
            flush()
            pre = "".join(_html_strings(node)).replace(_BREAK, "\n").strip("\n")
            if pre.strip():
                blocks.append(pre)
            continue
        if tag in _BLOCK_TAGS:
            flush()
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return blocks


def _html_strings(node: Tag) -> list[str]:
    """The visible text pieces under a node, in order, with block boundaries as breaks."""
    from bs4 import NavigableString, Tag

    pieces: list[str] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if type(item) is NavigableString:
            pieces.append(str(item))
        elif isinstance(item, Tag):
            tag = (item.name or "").lower()
            if tag in _SKIP_TAGS:
                continue
            if tag == "br" or (tag in _BLOCK_TAGS and item is not node):
                pieces.append(_BREAK)
            stack.extend(reversed(item.contents))
    return pieces


def _collapse(pieces: list[str]) -> str:
    """Collapse source whitespace like a browser; a source line break between Chinese characters vanishes."""
    text = _SOURCE_WRAP.sub("", "".join(pieces))
    lines = (" ".join(part.split()) for part in text.split(_BREAK))
    return "\n".join(line for line in lines if line)


def _is_layout_table(table: Tag) -> bool:
    """True for a table used for page layout (cells holding articles or other tables), not for data."""
    if table.find("table") is not None:
        return True
    cells = table.find_all(("td", "th"))
    if any(len(cell.get_text()) > 300 for cell in cells):
        return True
    # Word's HTML wraps each data cell in one <p>, and a header cell may wrap over a few; cells holding
    # several blocks in a table without a single figure hold page text, not data.
    blocky = any(len(cell.find_all(_LAYOUT_MARKERS)) > 1 for cell in cells)
    return blocky and not any(_FIGURE_CELL.match(cell_text(cell.get_text())) for cell in cells)


def _html_table(table: Tag) -> str:
    """A data table as markdown rows, caption first; row and column spans are repeated in the cells they
    cover (a header spanning two columns names both)."""
    lines = []
    caption = table.find("caption")
    if caption is not None:
        lines.append(" ".join(_collapse(_html_strings(caption)).split()))
    grid: list[list[str]] = []
    pending: dict[int, tuple[int, str]] = {}  # column → (rows still covered, text) from a rowspan above
    for row in table.find_all("tr"):
        cells: list[str] = []
        column = 0

        def fill_pending() -> None:
            nonlocal column
            while column in pending:
                left, text = pending[column]
                cells.append(text)
                if left <= 1:
                    del pending[column]
                else:
                    pending[column] = (left - 1, text)
                column += 1

        for cell in row.find_all(("td", "th"), recursive=False):
            fill_pending()
            text = _collapse(_html_strings(cell)).replace("\n", " ")
            span = _span(cell.get("colspan"))
            down = _span(cell.get("rowspan"))
            for _ in range(span):
                cells.append(text)
                if down > 1:
                    pending[column] = (down - 1, text)
                column += 1
        fill_pending()
        grid.append(cells)
    body = table_markdown(grid)
    return "\n".join(line for line in [*lines, body] if line)


def _span(value: object) -> int:
    """A colspan/rowspan attribute as a small positive int (hostile or broken values count as 1)."""
    try:
        return max(1, min(int(str(value).strip()), 50))
    except (TypeError, ValueError):
        return 1


# --- tables, whatever the format ---------------------------------------------------------

_FIGURE_CELL = re.compile(r"^[-+－—]?\s*[0-9０-９][0-9０-９,，.．]*\s*(?:[%％‰]|[\u4e00-\u9fff]{1,4})?$")
_LAYOUT_SPACE = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])|(?<=[（(])\\s+|\\s+(?=[)）])")


def cell_text(text: str) -> str:
    """A table cell on one line, as printed: layout spaces between Chinese characters dropped (地区生 产总值 →
    地区生产总值, &ensp; padding), other spaces kept ('434 人'); a '|' inside becomes '｜' so rows stay rows."""
    return _LAYOUT_SPACE.sub("", " ".join(text.split())).replace("|", "｜")


def table_markdown(grid: list[list[str]]) -> str:
    """Rows of cells as markdown rows `| a | b |`, padded to the widest row, empty rows dropped.

    A grid with no figure in any cell (a menu, a list of links laid out as a table) is not data: its
    cells come back as plain lines, one per non-empty cell."""
    rows = [[cell_text(cell) for cell in row] for row in grid]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    has_figure = any(_FIGURE_CELL.match(cell) for row in rows for cell in row[1:])
    if width < 2 or len(rows) < 2 or not has_figure:
        return "\n".join(dict.fromkeys(cell for row in rows for cell in row if cell))
    return "\n".join("| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows)
