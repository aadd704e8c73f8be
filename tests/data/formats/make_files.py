"""Regenerate the bulletin test files in this folder from the seed bulletin (see README.md)."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"

# Traditional-Chinese rendering of the start of the seed (OpenCC s2t, then the four
# variants Big5 lacks swapped for their Big5 forms), kept here so that regenerating
# needs no converter.
TRADITIONAL = "\n\n".join([
    "# 上街信息",
    "第 8 期",
    "中共上街區委辦公室",
    "2026 年 2 月 12 日",
    "## 區委社工部聚焦群眾需求 提升服務效能 推動工作走深走實",
    (
        "去年以來，區委社工部以推進基層治理體系和治理能力現代化為主線，"
        "聚焦黨建引領基層治理和政權建設規範高效、新興領域黨建拓面提質、"
        "凝聚服務群眾精準暖心三大任務，系統謀劃、攻堅突破，著力構建黨建引領有力、"
        "多方協同有序、服務覆蓋有效的新格局，推動全區社會工作持續深化、"
        "整體提升。"
    ),
    (
        "一、強基固本、深耕細作，基層善治邁出新步伐。一是建強骨幹隊伍。"
        "構建“系統培訓+實戰練兵+職業認證”一體化培養體系，舉辦第二屆社區工作者職業技能競賽、"
        "“書記沙龍”等活動，累計培訓社區工作者、網格員 1300 餘人次，"
        "在全市第二屆社會工作者職業技能競賽中榮獲“團體優勝獎”“個人優勝獎”。"
        "積極動員 735 人報考社會工作者職業資格考試，全區持證人數達 434 人，"
        "同比增長 61.5%，專業力量持續壯大。二是健全治理機制。試點形成的“五步議事法”在 13 個社區推廣，"
        "有效解決停車難、綠化改造等民生問題 48 件。全年指導開展鄰里文化節等活動 150 餘場，"
        "孵化社區社會組織 688 支，其中“靈芝雀合唱團”代表我省參加"
        "全國紀念中國人民抗日戰爭暨世界反法西斯戰爭勝利 80 週年合唱展演。"
    ),
]) + "\n"

# A character outside GBK, so the GB18030 file really needs GB18030 (4-byte sequence).
GB18030_EXTRA = "\n\n编者注：“𠮷”为 GB18030 四字节字符。\n"

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def seed_text() -> str:
    """The seed bulletin as text, without its leading blank lines."""
    return SEED.read_text(encoding="utf-8").lstrip("\n")


def blocks(text: str) -> list[str]:
    """The seed's blank-line separated blocks."""
    return [b.strip() for b in text.split("\n\n") if b.strip()]


def write_texts(text: str) -> None:
    """The plain-text variants: encodings, BOM and line endings."""
    (HERE / "utf8.md").write_text(text, encoding="utf-8", newline="\n")
    (HERE / "utf8-bom.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (HERE / "gb18030.txt").write_bytes((text + GB18030_EXTRA).encode("gb18030"))
    (HERE / "gbk.txt").write_bytes(text.encode("gbk"))
    (HERE / "big5.txt").write_bytes(TRADITIONAL.encode("big5"))
    # Mixed line endings: CRLF, then old-Mac CR, then LF, cycling line by line. A CR
    # directly followed by an LF would read as one CRLF, so an empty line after a CR gets a CR.
    endings = ["\r\n", "\r", "\n"]
    parts, previous = [], ""
    for i, line in enumerate(text.split("\n")[:-1]):
        ending = "\r" if previous == "\r" and not line else endings[i % 3]
        parts.append(line + ending)
        previous = ending
    mixed = "".join(parts) + text.split("\n")[-1]
    assert mixed.replace("\r\n", "\n").replace("\r", "\n") == text
    (HERE / "crlf.txt").write_bytes(mixed.encode("utf-8"))


def bold_runs(block: str) -> list[tuple[str, bool]]:
    """Split a block with **bold** markup into (text, is_bold) runs."""
    parts = re.split(r"\*\*(.+?)\*\*", block)
    return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


def set_font(style) -> None:  # noqa: ANN001 - a python-docx style
    """One CJK font for Latin and Chinese alike, so the PDF embeds few font subsets."""
    from docx.oxml.ns import qn

    style.font.name = "Noto Sans CJK SC"
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), "Noto Sans CJK SC")
    for theme_attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme_attr), None)


def write_docx(text: str) -> Path:
    """A real Word file: Title, Heading 1, paragraphs with bold runs and a table."""
    import docx  # python-docx

    document = docx.Document()
    for style_name in ("Normal", "Title", "Heading 1"):
        set_font(document.styles[style_name])
    for block in blocks(text):
        if block == "---":
            continue
        if block.startswith("## "):
            document.add_heading(block[3:], level=1)
        elif block.startswith("# "):
            document.add_heading(block[2:], level=0)  # level 0 is the 'Title' style
        else:
            paragraph = document.add_paragraph()
            for run_text, bold in bold_runs(block):
                paragraph.add_run(run_text).bold = bold
    document.add_paragraph("主要指标一览：")
    table = document.add_table(rows=0, cols=2)
    for label, value in [("指标", "数值"), ("持证人数", "434 人"), ("同比增长", "61.5%"), ("社区社会组织", "688 支")]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    path = HERE / "bulletin.docx"
    document.save(path)
    return path


def write_pdfs(docx_path: Path) -> None:
    """A text PDF via LibreOffice, plus encrypted and truncated copies of it."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        sys.exit("LibreOffice is needed for bulletin.pdf: apt-get install libreoffice-writer-nogui fonts-noto-cjk")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{tmp}/profile", "--headless",
             "--convert-to", "pdf", "--outdir", tmp, str(docx_path)],
            check=True, capture_output=True, timeout=300,
        )
        pdf = (Path(tmp) / "bulletin.pdf").read_bytes()
    (HERE / "bulletin.pdf").write_bytes(pdf)
    (HERE / "truncated.pdf").write_bytes(pdf[: len(pdf) // 2])

    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password="secret", owner_password="owner-secret", algorithm="RC4-128")
    with open(HERE / "encrypted.pdf", "wb") as out:
        writer.write(out)


def write_scanned_pdf() -> None:
    """An image-only PDF page (like a scan): text drawn as pixels, no text layer."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("1", (900, 260), 1)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 28) if CJK_FONT.exists() else ImageFont.load_default()
    lines = ["上街信息  第 8 期", "全区持证人数达 434 人，同比增长 61.5%。", "（扫描件，无文字层）"]
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 60), line, font=font, fill=0)
    image.save(HERE / "scanned.pdf", "PDF", resolution=100.0)


def wrap(text: str, width: int = 40) -> str:
    """Break source lines like real pages do, only between two Chinese characters."""
    out, since_break = [], 0
    for i, ch in enumerate(text):
        out.append(ch)
        since_break += 1
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if since_break >= width and "\u4e00" <= ch <= "\u9fff" and "\u4e00" <= nxt <= "\u9fff":
            out.append("\n  ")
            since_break = 0
    return "".join(out)


def write_html(text: str) -> None:
    """HTML with script, style, a comment, headings, a list and a table; UTF-8 and GBK copies."""
    body: list[str] = []
    for block in blocks(text):
        if block == "---":
            body.append("<hr>")
        elif block.startswith("## "):
            body.append(f"<h2>{escape(block[3:])}</h2>")
        elif block.startswith("# "):
            body.append(f"<h1>{escape(block[2:])}</h1>")
        else:
            inner = "".join(
                f"<strong>{escape(wrap(t))}</strong>" if bold else escape(wrap(t)) for t, bold in bold_runs(block)
            )
            body.append(f"<p>\n  {inner}\n</p>")
    body.insert(-3, "<ul><li>持证人数：434 人</li><li>同比增长：61.5%</li></ul>")
    body.insert(-3, "<table><tr><th>指标</th><th>数值</th></tr><tr><td>社区社会组织</td><td>688 支</td></tr></table>")

    def page(charset_meta: str) -> str:
        return "\n".join([
            "<!DOCTYPE html>",
            "<html lang=\"zh-CN\"><head>",
            charset_meta,
            "<title>上街信息 第8期</title>",
            "<style>p { color: red; } .secret::after { content: 'STYLE-CONTENT'; }</style>",
            "<script>alert(1); var leaked = 'SCRIPT-CONTENT';</script>",
            "</head><body>",
            "<!-- 注释内容 COMMENT-CONTENT 不应出现 -->",
            *body,
            "<script type=\"text/javascript\">document.write('SCRIPT-CONTENT');</script>",
            "<noscript>NOSCRIPT-CONTENT</noscript>",
            "</body></html>",
            "",
        ])

    (HERE / "bulletin.html").write_bytes(page('<meta charset="utf-8">').encode("utf-8"))
    gbk_meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    (HERE / "gbk.htm").write_bytes(page(gbk_meta).encode("gbk"))


def write_bad_files() -> None:
    """Files the reader must refuse, each with its own reason."""
    (HERE / "empty.txt").write_bytes(b"")
    (HERE / "whitespace.txt").write_bytes(" \t\r\n\n\u3000\u3000 \n".encode())
    rng = random.Random(8)
    (HERE / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(2000))
    (HERE / "not-a-zip.docx").write_bytes("这不是 Word 文件，只是改了扩展名的文本。\n".encode())
    with zipfile.ZipFile(HERE / "not-word.docx", "w") as archive:
        archive.writestr("hello.txt", "a zip archive, but not a Word document")
    # Zip bomb: 150 MB of zeros that bzip2 squeezes into a few hundred bytes.
    with zipfile.ZipFile(HERE / "zip-bomb.docx", "w", compression=zipfile.ZIP_BZIP2, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(150):
                member.write(chunk)


def main() -> None:
    """Write every test file."""
    text = seed_text()
    write_texts(text)
    write_html(text)
    write_bad_files()
    write_scanned_pdf()
    write_pdfs(write_docx(text))
    for path in sorted(HERE.iterdir()):
        if path.name not in {"README.md", "make_files.py"}:
            print(f"{path.stat().st_size:>8}  {path.name}")


if __name__ == "__main__":
    main()
