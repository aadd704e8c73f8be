"""Parse bulletin text into a typed `Bulletin`: masthead, articles, sections, items, paragraphs, footer.

Pure functions: text in, records out. Reading files lives in `qa.read`.

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

PARSER_VERSION = 5

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
PUBLISHER_HINT_RE = re.compile(r"(办公室|办公厅|委员会|人民政府|政府|委|局|部|厅|中心|处)$")
RULE_RE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
BOLD_RE = re.compile(r"\*\*")  # markdown bold; "__" is left alone, it may be real text (window.__x)
HEADING_MARK_RE = re.compile(r"^\s*#{1,6}\s*")

PAST_YEAR_CUES = ("过去一年", "一年来", "去年", "上年", "上一年")
THIS_YEAR_CUES = ("今年", "本年")

KNOWN_FIELDS = ("series", "issue", "date", "publisher", "title", "year")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the clean text, with where it sits in the bulletin."""

    index: int
    start: int
    end: int
    kind: str  # "masthead" | "title" | "heading" | "body" | "footer"
    article: int | None
    section: str | None
    subsection: str | None
    period: str | None


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


@dataclass
class _Block:
    """A paragraph under construction (mutable while parsing, never leaves this module)."""

    text: str
    kind: str = "body"
    heading_level: int = 0


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
        if not raw.strip() or RULE_RE.match(raw):
            continue
        heading = re.match(r"^\s*(#{1,6})\s", raw)
        cleaned = clean_line(raw)
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
    return bool(SECTION_RE.match(text) or SUBSECTION_RE.match(text) or ORDINAL_HEADING_RE.match(text))


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


def _classify(blocks: list[_Block], meta: dict) -> tuple[dict, list[str]]:
    """Mark masthead, title, heading and footer blocks in place; infer masthead fields.

    Returns:
        The inferred fields and the list of fields that could not be inferred.
    """
    inferred: dict = {}
    # The masthead is the run of short lines before the first article title or body paragraph.
    for block in blocks[:8]:
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
        elif PUBLISHER_HINT_RE.search(text) and "publisher" not in inferred:
            inferred["publisher"] = text
        else:
            break
        block.kind = "masthead"

    # Footer: the run of distribution/editor lines at the very end (本期送、发、责任编辑…).
    for block in reversed(blocks):
        if block.kind != "body" or len(block.text) > 120 or not FOOTER_RE.match(block.text):
            break
        block.kind = "footer"

    for block in blocks:
        if block.kind != "body":
            continue
        if block.heading_level >= 1:
            block.kind = "heading" if is_standalone_heading(block.text) else "title"
        elif is_standalone_heading(block.text):
            block.kind = "heading"

    missing = [name for name in ("series", "issue", "date", "publisher") if name not in inferred and name not in meta]
    return inferred, missing


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
        file: the file name, used in citations and as the series when no masthead names one.

    Returns:
        The parsed bulletin; `warnings` lists the masthead fields that could not be inferred.
    """
    meta, body = split_front_matter(text)
    blocks = _raw_blocks(body)
    inferred, missing = _classify(blocks, meta)
    blocks = _join_page_breaks(blocks)

    series = meta.get("series") or inferred.get("series")
    issue = meta.get("issue") or inferred.get("issue")
    issue = str(to_int(issue)) if issue and re.fullmatch(r"[0-9０-９]+", issue) else issue
    date = normalise_iso_date(meta["date"]) if "date" in meta else inferred.get("date")
    publisher = meta.get("publisher") or inferred.get("publisher")
    year = int(meta["year"]) if re.fullmatch(r"\d{4}", meta.get("year", "")) else None
    if year is None and date:
        year = int(date[:4])
    if year is None:
        heads = " ".join(block.text for block in blocks[:6])
        found = DATE_RE.search(heads) or YEAR_RE.search(meta.get("title", ""))
        year = to_int(found.group(1)) if found else None

    warnings = []
    if missing:
        warnings.append(f"{file}: could not infer {', '.join(missing)} from the masthead")
    if not series:
        series = re.sub(r"\.[A-Za-z0-9]+$", "", file.rsplit("/", 1)[-1])

    parts: list[str] = []
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
    title = meta.get("title")

    for block in blocks:
        start = offset + (2 if parts else 0)
        end = start + len(block.text)
        kind = block.kind
        if kind == "title" or (kind in ("heading", "body") and not articles):
            # A body paragraph before any title opens an implicit article named after the issue.
            article_title = block.text if kind == "title" else (title or series)
            articles.append(Article(len(articles), article_title, None, start, end))
            section = subsection = section_period = article_period = None
            title = title or article_title
        if kind in ("heading", "body"):
            heading = block.text if kind == "heading" else _inline_section(block.text)
            if heading and (SUBSECTION_RE.match(heading) or ORDINAL_HEADING_RE.match(heading)):
                subsection = heading
            elif heading:
                section, subsection = heading, None
                own_period = _section_period(heading, year)
                # Sections after "二、2007年工作总体部署" go on about that year's work unless they say otherwise.
                plan_started = plan_started or (year is not None and own_period == str(year))
                section_period = str(year) if own_period is None and plan_started else own_period
                sections.append(heading)
            if kind == "body" and article_period is None and section is None:
                article_period = _period_cue(block.text, year)
            # The article runs to its last body paragraph; the department tag closes it.
            articles[-1] = replace(articles[-1], end=end)
        in_article = kind in ("title", "heading", "body")
        period = (section_period if section_period is not None else article_period) if in_article else None
        period = period or None
        if kind == "body" and not section_period and _period_cue(block.text, year):
            period = _period_cue(block.text, year)
        paragraph = Paragraph(
            len(paragraphs), start, end, kind,
            len(articles) - 1 if in_article else None,
            section if in_article else None,
            subsection if in_article else None,
            period,
        )
        paragraphs.append(paragraph)
        if kind == "body":
            for position, marker, label in find_items(block.text):
                items.append(Item(marker, label, paragraph.index, start + position, end))
        parts.append(block.text)
        offset = end

    clean_text = "\n\n".join(parts)
    articles = [
        replace(article, department=_department(clean_text[article.start:article.end])) for article in articles
    ]
    # Items end where the next item of the same paragraph starts.
    items = [
        replace(item, end=next((later.start for later in items[i + 1:] if later.paragraph == item.paragraph), item.end))
        for i, item in enumerate(items)
    ]
    footer_text = "\n".join(clean_text[p.start:p.end] for p in paragraphs if p.kind == "footer") or None

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
    )

