"""Plain text files (.md, .txt) and text encodings: strict UTF-8 (with or without BOM) and UTF-16 with a BOM, then
GB18030/GBK, Big5 only when confident — or a refusal rather than mojibake. HTML pages are decoded here too."""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from qa.errors import InputFileError
from qa.formats import SAMPLE_CHARS

_FIX_SAVE_UTF8 = "open it in a text editor and save it again as UTF-8 text"

_BIG5_CODECS = ("big5", "cp950", "big5hkscs")
_BIG5_LABELS = ("big5", "cp950", "big5-hkscs", "big5hkscs", "x-x-big5")  # as declared in HTML
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \v \f \r


def decode_text(data: bytes, name: str, declared: str | None = None) -> str:
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
    sample = text[:SAMPLE_CHARS]
    visible = [ch for ch in sample if not ch.isspace()]
    bad = sum(1 for ch in visible if unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs"))
    if visible and bad > 0.05 * len(visible):
        raise _binary_error(name)
    return _CONTROL_CHARS.sub("", text)


def _scored_chars(text: str) -> list[str]:
    """The non-ASCII, non-space characters of a sample: the ones that tell encodings apart."""
    return [ch for ch in text[:SAMPLE_CHARS] if ord(ch) > 0x7F and not ch.isspace()]


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


def normalise(text: str) -> str:
    """Unify line endings, drop a BOM and control characters, trim lines and collapse blank-line runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\v", "\n")
    text = text.replace("\u2029", "\n\n").replace("\f", "\n\n")
    text = _CONTROL_CHARS.sub("", text.lstrip("\ufeff"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
