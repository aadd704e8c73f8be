"""Parse bulletin text into a typed `Bulletin`: masthead, articles, sections, items, paragraphs, footer.

Pure functions: text in, records out. Reading files lives in `qa.read`. Longer than most modules (~770 lines)
because the masthead, article, section, item and footer passes share one line model and one set of repairs;
title blocks, repairs and tables already live apart (`qa.identity`, `qa.repair`, `qa.tables`).

The input is text as extracted from a printed issue, so it has real defects that are repaired here:
paragraphs split across a page break (a paragraph that does not end a sentence continues in the next),
markdown bold markers, markdown headings and rules. The clean text keeps the bulletin's own words,
spaces around figures included ("1300 余人次"), so that every quote is a verbatim substring of it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

import yaml

from qa import identity, tables
from qa.cues import PAST_YEAR_CUES, THIS_YEAR_CUES
from qa.repair import is_numbered_heading, repair_line
from qa.tables import Table

PARSER_VERSION = 10

CN_DIGITS = "一二三四五六七八九十"
FULLWIDTH_TABLE = str.maketrans("０１２３４５６７８９", "0123456789")

# A paragraph that ends with one of these is complete; anything else continues in the next paragraph
# (a page break or a line wrap in the extracted text).
PARAGRAPH_ENDINGS = tuple("。！？!?；;：:…”’」』）)")

SECTION_RE = re.compile(rf"^\s*(?:\*\*)?\s*([{CN_DIGITS}]{{1,3}})、")
SUBSECTION_RE = re.compile(rf"^\s*[（(]([{CN_DIGITS}]{{1,3}})[）)]")
ORDINAL_HEADING_RE = re.compile(rf"^\s*第[{CN_DIGITS}]{{1,3}}[，,、]")
ITEM_RE = re.compile(rf"(?:(?<=^)|(?<=[。；！？]))\s*(?:\*\*)?([{CN_DIGITS}]{{1,2}}是)")
ISSUE_RE = re.compile(r"^[（(]?\s*(?:总\s*)?第\s*([0-9０-９]+)\s*期\s*[)）]?$")
DATE_RE = re.compile(r"([12１２][0-9０-９]{3})\s*年\s*([0-9０-９]{1,2})\s*月\s*([0-9０-９]{1,2})\s*日")
YEAR_RE = re.compile(r"([12１２][0-9０-９]{3})\s*年")
DEPARTMENT_RE = re.compile(r"[（(]([^（）()]{2,20})[）)]\s*$")
FOOTER_RE = re.compile(r"^(本期送|本期发|送[：:]|发[：:]|抄送|抄报|责任编辑|编辑[：:]|签发|审核|校对|印发|联系电话)")
SERIES_HINT_RE = re.compile(r"(信息|简报|快报|动态|通讯|专报|要情|工作报告|通报|周报|月报)$")
PUBLISHER_HINT_RE = re.compile(r"(办公室|办公厅|委员会|人民政府|政府|委|局|部|厅|中心|处|队)$")
RULE_RE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
BOLD_RE = re.compile(r"\*\*")  # markdown bold; "__" is left alone, it may be real text (window.__x)
HEADING_MARK_RE = re.compile(r"^\s*#{1,6}\s*")


KNOWN_FIELDS = ("series", "issue", "date", "publisher", "title", "year")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the clean text, with where it sits in the bulletin."""

    index: int
    start: int
    end: int
    # "masthead" | "title" | "heading" | "body" | "footer"; in tables "caption" | "table_head" | "row";
    # "chrome" for page furniture around a saved page's text (navigation, share buttons), never quoted
    kind: str
    article: int | None
    section: str | None
    subsection: str | None
    period: str | None
    part: int = 0  # which bulletin of the file (a file may hold several, one per title)
    table: int | None = None  # index into Bulletin.tables for caption, table_head and row paragraphs


@dataclass(frozen=True)
class Item:
    """An enumerated item (一是/二是/…) inside a paragraph: label is its first clause."""

    marker: str
    label: str
    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class Article:
    """One article of an issue: its title and the department tag it ends with, e.g. 区委社工部."""

    index: int
    title: str
    department: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Part:
    """One bulletin of a file, as its title block or masthead names it. Offsets point into `clean_text`."""

    index: int
    series: str
    issue: str | None
    date: str | None  # ISO YYYY-MM-DD, or YYYY-MM when only the month is printed
    period: str | None  # the year a yearly bulletin (统计公报) reports on; None when it does not say
    place: str | None  # the place it speaks for (哈密市), from its title or issuers
    places: tuple[str, ...]  # every name of that place found in the title block (哈密市, 哈密)
    publisher: str | None
    title: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Bulletin:
    """A parsed bulletin issue. All offsets point into `clean_text`."""

    file: str
    series: str
    issue: str | None
    date: str | None  # ISO YYYY-MM-DD
    year: int | None  # the year the issue was published; anchors 今年/去年
    publisher: str | None
    title: str | None
    clean_text: str
    paragraphs: tuple[Paragraph, ...]
    articles: tuple[Article, ...]
    items: tuple[Item, ...]
    sections: tuple[str, ...]
    footer: str | None
    warnings: tuple[str, ...] = field(default=())
    parts: tuple[Part, ...] = field(default=())
    tables: tuple[Table, ...] = field(default=())
    place: str | None = None

    def part_of(self, paragraph: int) -> Part | None:
        """The bulletin (of several in one file) a paragraph belongs to."""
        return self.parts[self.paragraphs[paragraph].part] if self.parts else None


@dataclass
class _Block:
    """A paragraph under construction (mutable while parsing, never leaves this module)."""

    text: str
    kind: str = "body"
    heading_level: int = 0
    part: int = 0
    table: int | None = None
    member: bool = False  # a numbered line that heads nothing: a list's member (`_mark_list_items`)
    lead: str | None = None  # a member's list is announced by this sentence (…如下：), its heading


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split a leading YAML front-matter block off the text.

    Returns:
        The metadata (only known keys, values as strings) and the remaining text.
    """
    stripped = text.lstrip("\ufeff")
    match = re.match(r"^---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", stripped, re.S)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    meta = {key: str(data[key]).strip() for key in KNOWN_FIELDS if data.get(key) not in (None, "")}
    return meta, stripped[match.end():]


def to_int(digits: str) -> int:
    """Read ASCII or full-width digits as an int."""
    return int(digits.translate(FULLWIDTH_TABLE))


def find_date(text: str) -> str | None:
    """Return the first 'YYYY 年 M 月 D 日' date in text as ISO, or None."""
    match = DATE_RE.search(text)
    if not match:
        return None
    try:
        return dt.date(*(to_int(g) for g in match.groups())).isoformat()
    except ValueError:
        return None


def normalise_iso_date(value: str) -> str | None:
    """Accept 2026-02-12, 2026/2/12 or 2026年2月12日 and return ISO, or None."""
    value = value.strip()
    match = re.match(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$", value)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            return None
    return find_date(value)


def clean_line(line: str) -> str:
    """Remove markdown emphasis and heading marks; keep every other character as written."""
    line = HEADING_MARK_RE.sub("", line)
    line = BOLD_RE.sub("", line)
    return line.strip().strip("\u3000").strip()


def _raw_blocks(text: str) -> list[_Block]:
    """Split text into non-empty lines-as-paragraphs, remembering markdown heading levels."""
    blocks: list[_Block] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip() or RULE_RE.match(raw) or tables.is_separator_row(raw):
            continue
        heading = re.match(r"^\s*(#{1,6})\s", raw)
        cleaned = clean_line(raw)
        cleaned = repair_line(cleaned) if cleaned and not tables.is_pipe_row(cleaned) else cleaned
        if not cleaned:
            continue
        blocks.append(_Block(cleaned, heading_level=len(heading.group(1)) if heading else 0))
    return blocks


def is_complete(text: str) -> bool:
    """True when a paragraph ends a sentence (so it does not continue on the next page)."""
    return text.endswith(PARAGRAPH_ENDINGS)


def is_standalone_heading(text: str) -> bool:
    """Section-like lines that stand alone: '一、2024年工作回顾', '（一）…', '第一，…' (short, no full stop inside)."""
    if len(text) > 60 or "。" in text[:-1]:
        return False
    return bool(SECTION_RE.match(text) or SUBSECTION_RE.match(text) or ORDINAL_HEADING_RE.match(text)
                or is_numbered_heading(text))


def _join_page_breaks(blocks: list[_Block]) -> list[_Block]:
    """Rejoin body paragraphs split by a page break: one that does not end a sentence continues."""
    joined: list[_Block] = []
    for block in blocks:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.kind == "body"
            and block.kind == "body"
            and not is_complete(previous.text)
            and not is_standalone_heading(previous.text)
            and not is_standalone_heading(block.text)
        ):
            previous.text += block.text
        else:
            joined.append(block)
    return joined


def _is_sentence(text: str) -> bool:
    """A line of running text (not a title, menu entry or stamp): long enough and ending a sentence inside."""
    return len(text) >= 30 and bool(re.search(r"[。！？；]", text))


def _mark_tables(blocks: list[_Block]) -> list[dict]:
    """Mark table captions, header rows and data rows in place (kinds caption, table_head, row).

    Returns one dict per table: its caption text and unit, in document order (the block's `table` index)."""
    found: list[dict] = []
    index = 0
    while index < len(blocks):
        text = blocks[index].text
        if tables.is_pipe_row(text):
            end = index
            while end < len(blocks) and tables.is_pipe_row(blocks[end].text):
                end += 1
            rows = [tables.pipe_cells(block.text) for block in blocks[index:end]]
            if end - index >= 2 and any(tables.is_data_row(row) for row in rows):
                _mark_table(blocks, index, end, rows, found)
            index = end
            continue
        if tables.TABLE_CAPTION_RE.match(text) and len(text) <= 60 and not re.search(r"[。；]", text):
            # A table as PDF text: its caption, a few header lines without figures, then label + figures rows.
            end, data = index + 1, 0
            while end < len(blocks):
                line = blocks[end].text
                if tables.text_row_cells(line) and not _is_sentence(line):
                    data += 1
                elif data or end - index > 4 or len(line) > 40 or re.search(r"[。；]", line) \
                        or tables.is_pipe_row(line):
                    break
                end += 1
            if data >= 2:
                rows = [tables.row_cells(block.text) for block in blocks[index + 1:end]]
                _mark_table(blocks, index + 1, end, rows, found, caption_block=index)
                index = end
                continue
        if tables.FIGURE_CAPTION_RE.match(text) and len(text) <= 60 and not re.search(r"[。；]", text):
            blocks[index].kind = "caption"  # a chart's caption: the chart is a picture, its caption no answer
        index += 1
    return found


def _mark_table(blocks: list[_Block], start: int, end: int, rows: list[list[str]], found: list[dict],
                caption_block: int | None = None) -> None:
    """Mark blocks[start:end] as one table's rows; its caption is the line before it when it reads like one."""
    number = len(found)
    unit_line = None
    if caption_block is None:
        before = start - 1
        if before >= 0 and tables.UNIT_LINE_RE.match(blocks[before].text):
            unit_line, before = before, before - 1
        if before >= 0 and blocks[before].kind == "body" and _reads_like_caption(blocks[before].text):
            caption_block = before
    caption = None
    if caption_block is not None:
        blocks[caption_block].kind, blocks[caption_block].table = "caption", number
        caption = blocks[caption_block].text
    if unit_line is not None:
        blocks[unit_line].kind, blocks[unit_line].table = "caption", number
    in_header = True
    for offset, cells in enumerate(rows):
        block = blocks[start + offset]
        block.table = number
        if offset == 0 and tables.is_caption_row(cells):
            block.kind = "caption"
            caption = caption or cells[0]
            continue
        in_header = in_header and not tables.is_data_row(cells)
        block.kind = "table_head" if in_header else "row"
    unit = tables.caption_unit(caption) or (tables.caption_unit(blocks[unit_line].text) if unit_line is not None
                                            else None)
    found.append({"caption": caption, "unit": unit})


def _reads_like_caption(text: str) -> bool:
    """'表1 2025年…', or a short title line without a sentence, just before a table."""
    if tables.TABLE_CAPTION_RE.match(text):
        return True
    return len(text) <= 50 and not re.search(r"[。；！？，,]", text) and not is_standalone_heading(text)


def _mark_parts(blocks: list[_Block]) -> list[dict]:
    """Find every bulletin's title block and mark it in place (kind masthead), with the page furniture around
    a saved page's text (kind chrome). Returns one dict per bulletin: title, date, offices, first block."""
    texts = [block.text for block in blocks]
    first = identity.find_title(texts)
    if first is None:
        return []
    titles = [first]
    position = first.line + first.lines
    while position < len(blocks):
        found = identity.find_title(texts[position:position + 2], limit=1)
        if found and found.period and blocks[position].kind == "body" and _body_follows(blocks, position + found.lines) \
                and (found.title, found.place) != (titles[-1].title, titles[-1].place):
            titles.append(identity.TitleBlock(position, found.lines, found.title, found.series, found.period,
                                              found.place))
            position += found.lines
            continue
        position += 1

    before = blocks[:first.line]
    furniture = sum(1 for block in before if _is_sentence(block.text)) < 3
    if furniture:
        for block in before:
            block.kind = "chrome"
    parts = []
    for number, title in enumerate(titles):
        end = titles[number + 1].line if number + 1 < len(titles) else len(blocks)
        for block in blocks[title.line:end]:
            block.part = number
        for block in blocks[title.line:title.line + title.lines]:
            block.kind = "masthead"
        body_date = stamp_date = None
        offices: list[str] = []
        sources: list[str] = []
        for block in blocks[title.line + title.lines:min(end, title.line + title.lines + 14)]:
            text = block.text
            if block.kind != "body" or _is_sentence(text) or is_standalone_heading(text) or len(text) > 60:
                break
            date = identity.read_date(text)
            if not date and not identity.read_offices(text) and (len(text) > 24 or re.search(r"[，,]", text)):
                break  # running text, hard-wrapped before its sentence ends
            named = identity.read_offices(text)
            if identity.LINE_DATE_RE.match(text) and date:
                body_date, block.kind = body_date or date, "masthead"
            elif named and not identity.SOURCE_LINE_RE.search(text):
                offices += [office for office in named if office not in offices]
                block.kind = "masthead"
            else:
                # Page stamps (发布时间：…, 来源：…) count when the text prints no date or issuer of its own.
                stamp_date = stamp_date or date
                sources += [office for office in named if office not in sources]
                block.kind = "chrome"
            if identity.read_title(text) == identity.read_title(title.title):
                block.kind = "chrome"  # the title printed twice (a page heading and the document's own)
        if not offices and sources:
            # A portal names the site's owner too (发布机构：X省统计局): the issuer of this place comes first.
            own = [office for office in sources if title.place and (identity.place_of_office(office) or "")[:1]
                   == title.place[:1]]
            offices = own or sources[:1]
        parts.append({"title": title, "date": body_date or stamp_date, "offices": offices})
    if furniture and before:
        _mark_trailing_chrome(blocks)
    return parts


def _body_follows(blocks: list[_Block], start: int) -> bool:
    """Running text within the next lines: a title that opens a bulletin, not one listed in a menu."""
    return any(_is_sentence(block.text) for block in blocks[start:start + 15])


def _mark_trailing_chrome(blocks: list[_Block]) -> None:
    """A saved page's footer after the text (links, copyright, site codes): short lines without a sentence."""
    for block in reversed(blocks):
        if block.kind == "chrome":
            continue
        if block.kind != "body" or re.search(r"[。！？]", block.text) or is_standalone_heading(block.text):
            break
        block.kind = "chrome"


def _classify(blocks: list[_Block], meta: dict) -> tuple[dict, list[str]]:
    """Mark masthead, title, heading and footer blocks in place; infer masthead fields.

    Returns:
        The inferred fields and the list of fields that could not be inferred.
    """
    inferred: dict = {}
    # The masthead is the run of short lines before the first article title or body paragraph.
    for block in blocks[:8]:
        if block.kind != "body":
            break
        text = block.text
        if block.heading_level >= 2 or len(text) > 40 or is_standalone_heading(text):
            break
        if is_complete(text) and not ISSUE_RE.match(text):
            break
        issue = ISSUE_RE.match(text)
        # A date line, or a report's dateline "——2024年3月5日在第十四届全国人民代表大会第二次会议上".
        dated = DATE_RE.fullmatch(text.strip()) or (text.startswith("——") and DATE_RE.search(text))
        date = find_date(text) if dated else None
        if issue and "issue" not in inferred:
            inferred["issue"] = str(to_int(issue.group(1)))
        elif date and "date" not in inferred:
            inferred["date"] = date
        elif block.heading_level == 1 and "series" not in inferred:
            inferred["series"] = text
        elif SERIES_HINT_RE.search(text) and "series" not in inferred:
            inferred["series"] = text
        elif PUBLISHER_HINT_RE.search(text) and len(text) <= 30:
            # Joint issuers may stand on lines of their own (X市统计局 / 国家统计局X调查队).
            inferred["publisher"] = f"{inferred['publisher']} {text}" if "publisher" in inferred else text
        elif identity.read_date(text) and "date" not in inferred:
            inferred["date"] = identity.read_date(text)  # '2026 年 5 月': the month only
        else:
            break
        block.kind = "masthead"

    # Footer: the run of distribution/editor lines at the very end (本期送、发、责任编辑…).
    for block in reversed(blocks):
        if block.kind != "body" or len(block.text) > 120 or not FOOTER_RE.match(block.text):
            break
        block.kind = "footer"
    _mark_signature(blocks, inferred, meta)

    for block in blocks:
        if block.kind != "body":
            continue
        if block.heading_level >= 1:
            block.kind = "heading" if is_standalone_heading(block.text) else "title"
        elif is_standalone_heading(block.text):
            block.kind = "heading"
    _mark_list_items(blocks)

    missing = [name for name in ("series", "issue", "date", "publisher") if name not in inferred and name not in meta]
    return inferred, missing


def _mark_signature(blocks: list[_Block], inferred: dict, meta: dict) -> None:
    """A document with no date at its head is signed at its foot (落款): the issuer's line and the date line that
    end it (青山县医疗保障局 / 2025年8月20日), before any distribution lines, give its publisher and date, and are
    its footer — the lines a question about the document itself is answered from, never its body."""
    if "date" in inferred or meta.get("date"):
        return
    body = [at for at, block in enumerate(blocks) if block.kind != "footer"]
    if not body or blocks[body[-1]].kind != "body":
        return
    last = blocks[body[-1]]
    if len(last.text) > 20 or not DATE_RE.fullmatch(last.text.strip()):
        return
    inferred["date"] = find_date(last.text)
    last.kind = "footer"
    issuer = blocks[body[-2]] if len(body) > 1 else None
    if issuer is not None and issuer.kind == "body" and len(issuer.text) <= 30 \
            and PUBLISHER_HINT_RE.search(issuer.text.strip()):
        issuer.kind = "footer"
        if "publisher" not in inferred and not meta.get("publisher"):
            inferred["publisher"] = issuer.text.strip()


def _numbered_level(text: str) -> int | None:
    """How high a numbered line stands: 一、 (1) above （一） and 第一， (2) above 01 / 综合 (3); None if unnumbered."""
    if SECTION_RE.match(text):
        return 1
    if SUBSECTION_RE.match(text) or ORDINAL_HEADING_RE.match(text):
        return 2
    return 3 if is_numbered_heading(text) else None


def _mark_list_items(blocks: list[_Block]) -> None:
    """Numbered lines that head nothing are the members of a list, and their text is content: a heading has
    something under it before the next line of its rank or above. 一、个人缴费标准为每人每年400元。 followed at once by
    二、集中缴费时间为…, or 二、衣着 103.5 by 三、居住 99.8, lose their figures as headings (headings are context,
    never quoted). The list's last member, followed by the text after the list, is a member like the others.
    A markdown heading (#) is the author's word and stays one. A sentence ending in a colon just before the list
    announces it (各类价格指数（以上年为100）如下：) and heads its members as a heading would: 二、衣着 103.5 is a price
    index."""
    previous_member: int | None = None  # the level of the list member just before, if the line before was one
    lead: str | None = None
    for at, block in enumerate(blocks):
        level = _numbered_level(block.text) if block.kind == "heading" and not block.heading_level else None
        if level is None:
            previous_member = None
            continue
        if previous_member is None:
            before = blocks[at - 1] if at else None
            announces = before is not None and before.kind == "body" and before.text.rstrip().endswith(("：", ":"))
            lead = re.split(r"(?<=[。！？；])", before.text.rstrip())[-1] if announces else None
        following = blocks[at + 1] if at + 1 < len(blocks) else None
        heads_nothing = following is None or following.kind == "footer" or (
            following.kind == "heading" and not following.heading_level
            and (_numbered_level(following.text) or 99) <= level)
        if heads_nothing or previous_member == level:
            block.kind, block.member, block.lead = "body", True, lead
            previous_member = level
        else:
            previous_member = None


def _period_cue(text: str, year: int | None) -> str | None:
    """The year a heading or paragraph opening speaks about, if it says so plainly."""
    explicit = YEAR_RE.search(text)
    if explicit and "年工作" in text or explicit and SECTION_RE.match(text):
        return str(to_int(explicit.group(1)))
    if year is None:
        return None
    opening = text[:12]
    if any(cue in opening for cue in PAST_YEAR_CUES):
        return str(year - 1)
    first_sentence = re.split(r"[。！？]", text, maxsplit=1)[0]
    if any(cue in opening or cue in first_sentence for cue in THIS_YEAR_CUES):
        return str(year)
    return None


def _section_period(heading: str, year: int | None) -> str | None:
    """Period of a section heading: '一、2024年工作回顾' → 2024; '过去一年的工作' → year-1; '今年…' → year."""
    explicit = YEAR_RE.search(heading)
    if explicit:
        return str(to_int(explicit.group(1)))
    if year is None:
        return None
    if any(cue in heading for cue in PAST_YEAR_CUES):
        return str(year - 1)
    if any(cue in heading for cue in THIS_YEAR_CUES):
        return str(year)
    if re.search(r"回顾|过去|以来|几年|五年|三年", heading):
        return ""  # a review of several years: no single period, and not the issue's own year either
    return None


def _department(article_text: str) -> str | None:
    """The department tag an article ends with: '…（区委社工部）' → '区委社工部'."""
    match = DEPARTMENT_RE.search(article_text.rstrip())
    return match.group(1) if match else None


def _inline_section(text: str) -> str | None:
    """A section heading at the start of a body paragraph: '一、强基固本…新步伐。一是…' → the first sentence."""
    if not SECTION_RE.match(text):
        return None
    end = text.find("。")
    if end == -1 or end > 80:
        return None
    return text[: end + 1]


def find_items(text: str) -> list[tuple[int, str, str]]:
    """Positions of 一是/二是/… items in a paragraph, with their marker and label (first clause)."""
    found = []
    for match in ITEM_RE.finditer(text):
        start = match.start(1)
        rest = text[start:]
        label_end = re.search(r"[。；！？]", rest)
        label = rest[: label_end.start()] if label_end and label_end.start() <= 40 else rest[:20]
        found.append((start, match.group(1), label))
    return found


def parse_bulletin(text: str, file: str) -> Bulletin:
    """Parse bulletin text into a `Bulletin` record.

    Args:
        text: the file's text (front matter allowed), as returned by `qa.read.read_bulletin_file`.
        file: the file name, used in citations and as the series when no masthead or title names one.

    Returns:
        The parsed bulletin; `warnings` lists the identity fields that could not be inferred. A file that
        holds several bulletins (one title each) has one `Part` per bulletin.
    """
    meta, body = split_front_matter(text)
    blocks = _raw_blocks(body)
    table_info = _mark_tables(blocks)
    title_parts = _mark_parts(blocks)
    inferred, missing = _classify(blocks, meta)
    blocks = _join_page_breaks(blocks)
    blocks = [block for block in blocks if block.kind != "chrome"]

    first = title_parts[0] if title_parts else None
    series = meta.get("series") or (first["title"].series if first else None) or inferred.get("series")
    issue = meta.get("issue") or inferred.get("issue")
    issue = str(to_int(issue)) if issue and re.fullmatch(r"[0-9０-９]+", issue) else issue
    date = normalise_iso_date(meta["date"]) if "date" in meta else (first and first["date"]) or inferred.get("date")
    publisher = meta.get("publisher") or (" ".join(first["offices"]) if first and first["offices"] else None) \
        or inferred.get("publisher")
    year = int(meta["year"]) if re.fullmatch(r"\d{4}", meta.get("year", "")) else None
    if year is None and date:
        year = int(date[:4])
    if year is None and not first:
        heads = " ".join(block.text for block in blocks[:6])
        found = DATE_RE.search(heads) or YEAR_RE.search(meta.get("title", ""))
        year = to_int(found.group(1)) if found else None

    warnings = []
    if first:
        missing = [name for name, value in (("date", date), ("publisher", publisher)) if not value]
        if not _place_of(first, meta):
            missing.append("place")
        if missing:
            warnings.append(f"{file}: could not infer {', '.join(missing)} from the title block")
    elif missing:
        warnings.append(f"{file}: could not infer {', '.join(missing)} from the masthead")
    if not series:
        series = re.sub(r"\.[A-Za-z0-9]+$", "", file.rsplit("/", 1)[-1])

    parts_text: list[str] = []
    paragraphs: list[Paragraph] = []
    items: list[Item] = []
    articles: list[Article] = []
    sections: list[str] = []
    offset = 0
    section: str | None = None
    subsection: str | None = None
    section_period: str | None = None
    plan_started = False
    article_period: str | None = None
    title = meta.get("title") or (first["title"].title if first else None)
    current_part = 0
    part_period = _yearly_period(first, meta)

    for block in blocks:
        start = offset + (2 if parts_text else 0)
        end = start + len(block.text)
        kind = block.kind
        if block.part != current_part:
            # A new bulletin in the same file: its own articles, sections and period.
            current_part = block.part
            part_period = _yearly_period(title_parts[current_part], {})
            section = subsection = section_period = article_period = None
            plan_started = False
            articles.append(Article(len(articles), title_parts[current_part]["title"].title, None, start, end))
        content = kind in ("heading", "body", "row", "table_head", "caption")
        if kind == "title" or (content and not articles):
            # A body paragraph before any title opens an implicit article named after the issue.
            article_title = block.text if kind == "title" else (title or series)
            articles.append(Article(len(articles), article_title, None, start, end))
            section = subsection = section_period = article_period = None
            title = title or article_title
        if kind in ("heading", "body"):
            heading = block.text if kind == "heading" else None if block.member else _inline_section(block.text)
            if heading and (SUBSECTION_RE.match(heading) or ORDINAL_HEADING_RE.match(heading)):
                subsection = heading
            elif heading:
                section, subsection = heading, None
                own_period = _section_period(heading, year)
                # Sections after "二、2007年工作总体部署" go on about that year's work unless they say otherwise.
                plan_started = plan_started or (year is not None and own_period == str(year))
                section_period = str(year) if own_period is None and plan_started else own_period
                sections.append(heading)
            if kind == "body" and article_period is None and section is None and part_period is None:
                article_period = _period_cue(block.text, year)
        if content:
            # The article runs to its last body paragraph; the department tag closes it.
            articles[-1] = replace(articles[-1], end=end)
        in_article = kind in ("title", "heading", "body", "row", "table_head", "caption")
        if part_period is not None:
            # A yearly bulletin (统计公报) reports on its title's year throughout, whatever years it mentions.
            period = part_period if in_article else None
        else:
            period = (section_period if section_period is not None else article_period) if in_article else None
            period = period or None
            if kind == "body" and not section_period and _period_cue(block.text, year):
                period = _period_cue(block.text, year)
        paragraph = Paragraph(
            len(paragraphs), start, end, kind,
            len(articles) - 1 if in_article else None,
            section if in_article else None,
            (block.lead or subsection) if in_article else None,
            period,
            block.part,
            block.table,
        )
        paragraphs.append(paragraph)
        if kind == "body":
            for position, marker, label in find_items(block.text):
                items.append(Item(marker, label, paragraph.index, start + position, end))
        parts_text.append(block.text)
        offset = end

    clean_text = "\n\n".join(parts_text)
    articles = [
        replace(article, department=_department(clean_text[article.start:article.end])) for article in articles
    ]
    # Items end where the next item of the same paragraph starts.
    items = [
        replace(item, end=next((later.start for later in items[i + 1:] if later.paragraph == item.paragraph), item.end))
        for i, item in enumerate(items)
    ]
    footer_text = "\n".join(clean_text[p.start:p.end] for p in paragraphs if p.kind == "footer") or None
    bulletin_parts = _parts(title_parts, meta, paragraphs, series, issue, date, publisher, title, len(clean_text))
    table_records = _tables(table_info, paragraphs, clean_text)

    return Bulletin(
        file=file,
        series=series,
        issue=issue,
        date=date,
        year=year,
        publisher=publisher,
        title=title or (articles[0].title if articles else None),
        clean_text=clean_text,
        paragraphs=tuple(paragraphs),
        articles=tuple(articles),
        items=tuple(items),
        sections=tuple(sections),
        footer=footer_text,
        warnings=tuple(warnings),
        parts=bulletin_parts,
        tables=table_records,
        place=bulletin_parts[0].place if bulletin_parts else None,
    )


YEARLY_KINDS = ("统计公报", "公报", "年报")


def _yearly_period(title_part: dict | None, meta: dict) -> str | None:
    """The year a yearly bulletin reports on (2025年X市…统计公报 → 2025); None for other documents, whose
    years are read section by section (a 政府工作报告 reviews one year and plans the next)."""
    if not title_part or meta.get("series"):
        return None
    title = title_part["title"]
    return title.period if title.period and title.title.endswith(YEARLY_KINDS) else None


def _place_of(title_part: dict, meta: dict) -> str | None:
    """A bulletin's place: front matter's, else its title's, else its first issuer's."""
    if meta.get("place"):
        return meta["place"]
    if title_part["title"].place:
        return title_part["title"].place
    return next(filter(None, (identity.place_of_office(office) for office in title_part["offices"])), None)


def _place_names(place: str | None, offices: list[str]) -> tuple[str, ...]:
    """Every name of the place: its short form, and issuers' forms of it (博州 for 博尔塔拉蒙古自治州,
    哈密 from 国家统计局哈密调查队) — an issuer's place that shares no first character is another place."""
    if not place:
        return ()
    names = identity.short_forms(place)
    for office in offices:
        named = identity.place_of_office(office)
        if named and named[0] == place[0]:
            for form in identity.short_forms(named):
                if form not in names:
                    names.append(form)
    return tuple(names)


def _parts(title_parts: list[dict], meta: dict, paragraphs: list[Paragraph], series: str, issue: str | None,
           date: str | None, publisher: str | None, title: str | None, length: int) -> tuple[Part, ...]:
    """One `Part` per bulletin of the file; a file without a title block is one part named by its masthead."""
    if not title_parts:
        place = meta.get("place") or (identity.place_of_office(publisher) if publisher else None)
        period = None
        return (Part(0, series, issue, date, period, place, _place_names(place, [publisher] if publisher else []),
                     publisher, title, 0, length),)
    found = []
    for number, info in enumerate(title_parts):
        own = [p for p in paragraphs if p.part == number]
        start = own[0].start if own else length
        end = own[-1].end if own else length
        heading = info["title"]
        place = _place_of(info, meta if number == 0 else {})
        period = _yearly_period(info, meta if number == 0 else {}) or heading.period
        if number == 0:
            found.append(Part(0, series, issue or _yearly_period(info, meta), date, period, place,
                              _place_names(place, info["offices"]), publisher, title, start, end))
        else:
            found.append(Part(number, heading.series, _yearly_period(info, {}), info["date"], period, place,
                              _place_names(place, info["offices"]), " ".join(info["offices"]) or None,
                              heading.title, start, end))
    return tuple(found)


def _tables(info: list[dict], paragraphs: list[Paragraph], clean_text: str) -> tuple[Table, ...]:
    """The tables' records, now that their rows have paragraph indexes."""
    found = []
    for number, table in enumerate(info):
        own = [p for p in paragraphs if p.table == number]
        heads = [p for p in own if p.kind == "table_head"]
        rows = [p for p in own if p.kind == "row"]
        if not rows:
            continue
        header_cells = [tables.row_cells(clean_text[p.start:p.end]) for p in heads]
        width = max([len(tables.row_cells(clean_text[p.start:p.end])) for p in rows]
                    + [len(cells) for cells in header_cells])
        columns = tables.column_names(header_cells, width)
        captions = [p for p in own if p.kind == "caption"]
        caption = table["caption"]
        found.append(Table(
            index=number,
            number=tables.caption_number(caption),
            caption=caption,
            caption_paragraph=captions[0].index if captions else None,
            columns=columns,
            header_paragraphs=tuple(p.index for p in heads),
            row_paragraphs=tuple(p.index for p in rows),
            unit=table["unit"],
        ))
    return tuple(found)
