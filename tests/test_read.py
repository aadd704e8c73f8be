"""qa.read on real files of every format, on every kind of bad file, and on random bytes."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.errors import InputFileError
from qa.read import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, content_hash, read_bulletin_file

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "tests" / "data" / "formats"
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


def _load_make_files():
    """The generator script, for the constants the files were made from."""
    spec = importlib.util.spec_from_file_location("make_files", FORMATS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _load_make_files()

FACTS = ["全区持证人数达 434 人", "61.5%", "灵芝雀合唱团", "孵化社区社会组织 688 支", "责任编辑：柴亚文"]
TRADITIONAL_FACTS = ["全區持證人數達 434 人", "61.5%", "靈芝雀合唱團", "孵化社區社會組織 688 支"]
SIMPLIFIED_FILES = [
    "utf8.md", "utf8-bom.txt", "gb18030.txt", "gbk.txt", "crlf.txt",
    "bulletin.docx", "bulletin.pdf", "bulletin.html", "gbk.htm",
]
LEAKS = ["alert", "SCRIPT", "STYLE", "COMMENT", "NOSCRIPT", "注释", "color:", "<", ">", "&lt;", "&amp;"]
LEAKS += ["\r", "\ufeff", "\ufffd"]
# Characters the test files add to the seed: the docx/html table and list, the GB18030 note.
EXTRA_CHARS = set("主要指标一览：数值 | 编者注“𠮷”为 GB18030 四字节字符。\n")


def read(name: str) -> str:
    """Read one committed test file."""
    return read_bulletin_file(FORMATS / name)


def refusal(path: Path, **kwargs: int) -> InputFileError:
    """The InputFileError raised for a file, checked to name the file."""
    with pytest.raises(InputFileError) as caught:
        read_bulletin_file(path, **kwargs)
    error = caught.value
    assert error.file == path.name
    assert str(error).startswith(f"{path.name}: ")
    assert error.reason and error.reason[0].islower() and "—" in error.reason  # says what is wrong, then how to fix it
    return error


def assert_clean(text: str, allowed: set[str]) -> None:
    """No markup, script, control characters or mojibake: every character comes from the source text."""
    for leak in LEAKS:
        assert leak not in text, leak
    assert not any(unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch != "\n" for ch in text)
    assert set(text) <= allowed, sorted(set(text) - allowed)
    assert "\n\n\n" not in text and text == text.strip()


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8").strip()


# --- good files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIMPLIFIED_FILES)
def test_good_file_keeps_the_seed_facts_exactly(name: str, seed_text: str) -> None:
    text = read(name)
    for fact in FACTS:
        assert fact in text, fact
    assert_clean(text, set(seed_text) | EXTRA_CHARS)


def test_big5_file_gives_the_traditional_text() -> None:
    text = read("big5.txt")
    for fact in TRADITIONAL_FACTS:
        assert fact in text
    assert text == MAKE.TRADITIONAL.strip()
    assert_clean(text, set(MAKE.TRADITIONAL))


def test_big5_bytes_would_decode_as_gb18030_mojibake_but_are_not_returned_so() -> None:
    data = (FORMATS / "big5.txt").read_bytes()
    mojibake = data.decode("gb18030")  # strictly valid GB18030 — only the plausibility check tells
    assert "全區持證人數達" not in mojibake
    assert read("big5.txt") != mojibake.strip()


def test_encodings_bom_and_line_endings_give_the_same_text(seed_text: str) -> None:
    utf8 = read("utf8.md")
    assert utf8 == seed_text
    assert read("utf8-bom.txt") == utf8
    assert read("gbk.txt") == utf8
    assert read("crlf.txt") == utf8
    assert read("gb18030.txt") == utf8 + MAKE.GB18030_EXTRA.rstrip("\n")
    assert read("gbk.htm") == read("bulletin.html")


def test_text_files_keep_markdown_headings() -> None:
    text = read("utf8.md")
    assert text.startswith("# 上街信息\n\n第 8 期")
    assert "\n## 区委社工部聚焦群众需求 提升服务效能 推动工作走深走实\n" in text


def test_docx_headings_bold_runs_and_table() -> None:
    text = read("bulletin.docx")
    assert text.startswith("# 上街信息\n\n第 8 期\n\n中共上街区委办公室")  # Title style
    assert "\n\n## 区委社工部聚焦群众需求 提升服务效能 推动工作走深走实\n\n" in text  # Heading 1 under a Title
    assert "\n\n一、强基固本、深耕细作，基层善治迈出新步伐。一是建强骨干队伍。" in text  # bold run kept as text
    assert "**" not in text
    assert "| 指标 | 数值 |\n| 持证人数 | 434 人 |\n| 同比增长 | 61.5% |\n| 社区社会组织 | 688 支 |" in text


def test_html_keeps_structure_and_drops_script_style_comments(seed_text: str) -> None:
    text = read("bulletin.html")
    assert text.startswith("# 上街信息\n\n第 8 期")
    assert "\n\n## 区委社工部聚焦群众需求 提升服务效能 推动工作走深走实\n\n" in text
    # Source lines wrapped between Chinese characters are rejoined without spaces.
    assert paragraph(text, "去年以来") == paragraph(seed_text, "去年以来")
    assert paragraph(text, "累计培训") == paragraph(seed_text, "累计培训")
    assert "\n\n持证人数：434 人\n\n同比增长：61.5%\n\n" in text  # list items
    assert "| 指标 | 数值 |\n| 社区社会组织 | 688 支 |" in text  # table rows
    assert "第8期" not in text  # <title> is not body text


def paragraph(text: str, start: str) -> str:
    """The blank-line separated paragraph of text that begins with start."""
    return next(block for block in text.split("\n\n") if block.startswith(start))


def test_pdf_pages_and_wrapped_lines(seed_text: str) -> None:
    text = read("bulletin.pdf")
    # The four lines the PDF layout wrapped this paragraph into are rejoined, without spaces.
    assert paragraph(text, "去年以来") == paragraph(seed_text, "去年以来")
    assert "\n\n第 8 期\n\n中共上街区委办公室\n\n2026 年 2 月 12 日\n\n" in text  # short lines stay paragraphs
    assert text.count("\n\n") >= 10


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=FORMATS / "bulletin.pdf")
    writer.encrypt(user_password="", owner_password="owner-only", algorithm="RC4-128")
    path = tmp_path / "restricted.pdf"
    with open(path, "wb") as out:
        writer.write(out)
    assert read_bulletin_file(path) == read("bulletin.pdf")


def test_utf16_with_bom_and_uppercase_suffix(tmp_path: Path, seed_text: str) -> None:
    path = tmp_path / "BULLETIN.TXT"
    path.write_bytes(seed_text.encode("utf-16"))
    assert read_bulletin_file(path) == seed_text


def test_short_gbk_and_big5_texts(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk-short.txt"
    gbk.write_bytes("持证人数达 434 人".encode("gbk"))
    assert read_bulletin_file(gbk) == "持证人数达 434 人"
    big5 = tmp_path / "big5-short.txt"
    big5.write_bytes("全區持證人數達 434 人".encode("big5"))
    assert read_bulletin_file(big5) == "全區持證人數達 434 人"


def test_html_layout_table_keeps_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "layout.htm"
    path.write_text(
        "<html><body><table><tr><td><h1>上街信息</h1><p>第一段。</p><p>第二段。</p></td></tr></table></body></html>",
        encoding="utf-8",
    )
    assert read_bulletin_file(path) == "# 上街信息\n\n第一段。\n\n第二段。"


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 50_000 + "正文" + "</div>" * 50_000, encoding="utf-8")
    with contextlib.suppress(InputFileError):
        assert "正文" in read_bulletin_file(path)


def test_content_hash() -> None:
    assert content_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert content_hash(read("gbk.txt")) == content_hash(read("utf8-bom.txt"))
    assert content_hash(read("utf8.md")) != content_hash(read("big5.txt"))


# --- bad files -------------------------------------------------------------------------

BAD_FILES = [
    ("empty.txt", ["empty", "0 bytes"]),
    ("whitespace.txt", ["only whitespace"]),
    ("binary.txt", ["does not look like text", "binary"]),
    ("not-a-zip.docx", ["not a valid .docx", "not a zip"]),
    ("not-word.docx", ["not a Word document"]),
    ("zip-bomb.docx", ["zip bomb", "100 MB", "not opened"]),
    ("truncated.pdf", ["incomplete"]),
    ("encrypted.pdf", ["password-protected"]),
    ("scanned.pdf", ["no text layer", "scanned", "OCR"]),
]


@pytest.mark.parametrize(("name", "words"), BAD_FILES)
def test_bad_file_is_refused_with_its_reason(name: str, words: list[str]) -> None:
    reason = refusal(FORMATS / name).reason
    for word in words:
        assert word in reason


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in refusal(tmp_path / "nowhere.md").reason


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "bulletins.md"
    folder.mkdir()
    assert "folder" in refusal(folder).reason


def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert "not a regular file" in refusal(fifo).reason


@pytest.mark.parametrize("name", ["report.doc", "scan.jpg", "bulletin.tar.gz"])
def test_unsupported_suffix_lists_the_supported_ones(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    reason = refusal(path).reason
    assert f"unsupported file type '{path.suffix}'" in reason
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in reason


def test_no_suffix(tmp_path: Path) -> None:
    path = tmp_path / "README"
    path.write_bytes(b"text")
    assert "no extension" in refusal(path).reason


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text("全区持证人数达 434 人" * 10, encoding="utf-8")
    reason = refusal(path, max_bytes=100).reason
    assert "too large" in reason and "limit is 100 bytes" in reason
    assert read_bulletin_file(path, max_bytes=1000).startswith("全区持证人数达 434 人")


def test_sparse_file_over_the_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.pdf"
    with open(path, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: takes no disk space
    reason = refusal(path).reason
    assert "too large" in reason and "limit is 20 MB" in reason


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("これは日本語のテキストです。シフトJISで保存しました。", "shift_jis"),
        ("café résumé naïve déjà vu", "latin-1"),
        ("Привет, это текст в кодировке KOI8-R.", "koi8-r"),
    ],
)
def test_unknown_encodings_are_refused_not_garbled(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "other.txt"
    path.write_bytes(text.encode(encoding))
    reason = refusal(path).reason
    assert "encoding could not be recognised" in reason and "UTF-8" in reason


def test_broken_utf8_after_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "broken.md"
    path.write_bytes(b"\xef\xbb\xbf" + "上街信息".encode()[:-1] + b"\n")
    assert "not valid UTF-8" in refusal(path).reason


def test_utf8_with_one_damaged_byte(tmp_path: Path, seed_text: str) -> None:
    data = bytearray(seed_text.encode("utf-8"))
    at = data.index(b"434")
    data[at] = 0xFF
    path = tmp_path / "damaged.md"
    path.write_bytes(bytes(data))
    reason = refusal(path).reason
    assert "almost valid UTF-8" in reason and f"byte {at}" in reason


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = tmp_path / "app.html"
    path.write_text("<html><head><script>render()</script></head><body><!-- 空 --></body></html>", encoding="utf-8")
    assert "no visible text" in refusal(path).reason


def test_old_word_doc_renamed_docx(tmp_path: Path) -> None:
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert "old Word .doc" in refusal(path).reason


def test_docx_with_absurd_compression_ratio(tmp_path: Path) -> None:
    path = tmp_path / "ratio.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (8 * 1024 * 1024))  # under 100 MB, but ~1000:1
    assert path.stat().st_size < 64 * 1024
    assert "zip bomb" in refusal(path).reason


def test_docx_with_only_pictures(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "blank.docx"
    docx.Document().save(path)
    assert "contains no text" in refusal(path).reason


def test_pdf_that_is_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("上街信息", encoding="utf-8")
    assert "not a PDF" in refusal(path).reason


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage\n%%EOF\n")
    assert "damaged" in refusal(path).reason


# --- random input ----------------------------------------------------------------------

PREFIXES = [b"", b"%PDF-1.4\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"<html><body><p>", b"\xd0\xcf\x11\xe0"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=2048),
    suffix=st.sampled_from(SUPPORTED_SUFFIXES),
    eof=st.booleans(),
)
def test_random_bytes_raise_only_input_file_error(prefix: bytes, body: bytes, suffix: str, eof: bool) -> None:
    data = prefix + body + (b"\n%%EOF\n" if eof else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"random{suffix}"
        path.write_bytes(data)
        try:
            text = read_bulletin_file(path)
        except InputFileError as error:
            assert error.file == path.name and error.reason
        else:
            assert isinstance(text, str) and text.strip() == text and text
            assert "\r" not in text and "\x00" not in text


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=300), encoding=st.sampled_from(["utf-8", "gb18030", "utf-16"]))
def test_random_text_is_read_back_or_refused(text: str, encoding: str) -> None:
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.txt"
        path.write_bytes(data)
        try:
            result = read_bulletin_file(path)
        except InputFileError:
            return
        if encoding != "gb18030":  # UTF-8 and UTF-16 are never guessed: every word comes back unchanged
            words = [w for w in text.split() if not any(unicodedata.category(c).startswith("C") for c in w)]
            assert all(word in result for word in words)


def test_every_refusal_the_library_raises_has_a_chinese_sentence():
    """Each InputFileError and Refusal in qa/ names a code that qa.messages.REFUSALS words in Chinese, so the chat
    never shows the English reason (nor a generic sentence for a reason it could have named)."""
    import ast

    from qa.messages import REFUSALS

    found = {}
    for path in (Path(__file__).resolve().parents[1] / "qa").rglob("*.py"):  # qa/formats/ too
        if path.name == "errors.py":  # where the types are defined, not raised
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("InputFileError", "Refusal"):
                code = next((k.value for k in node.keywords if k.arg == "code"), None)
                if node.func.id == "Refusal" and node.args:
                    code = node.args[0]
                assert isinstance(code, ast.Constant), f"{path.name}:{node.lineno}: refusal without a literal code"
                found[f"{path.name}:{node.lineno}"] = code.value
    assert len(found) >= 40
    assert not {where: code for where, code in found.items() if code not in REFUSALS}
    assert all(not re.search(r"[A-Za-z]{3,}", re.sub(r"\.[a-z]{2,4}\b|\{\w+\}|UTF-8|UTF-16|GB18030|GBK|Big5|Word|PDF|"
                                                     r"JavaScript|OCR|ocrmypdf|CSV|WPS|PowerPoint|Excel|AES|Unicode",
                                                     "", sentence)) for sentence in REFUSALS.values())
