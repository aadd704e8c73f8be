"""Cut a parsed `Bulletin` into `Chunk`s with full provenance. Pure functions, no I/O.

A chunk is a span of the clean bulletin text (`clean_text[start:end] == chunk.text`), so a citation is a
lookup, not a guess. Body paragraphs are cut at item boundaries (一是/二是/…), then at sentence ends
(。！？；), then at clause marks (，、：) to stay under `max_chars`; a figure such as `61.5%` or
`1300 余人次` is never cut because cuts only fall right after punctuation. Headings are not chunks of their
own (a bare heading out-ranks the paragraph it introduces): they travel as context in `embed_text`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from qa.parse import Bulletin, Item, Paragraph

CHUNKER_VERSION = 4
DEFAULT_MAX_CHARS = 300
MIN_BODY_CHARS = 8  # shorter body paragraphs ("各位代表！") carry no content worth a chunk

FIELD_LABELS = {
    "masthead": "报头：刊名 期号 第几期 主办单位 编印单位 出版日期 印发时间",
    "footer": "报尾：本期送 报送 发送范围 分发单位 责任编辑 编辑",
}

SENTENCE_END_RE = re.compile(r"[。！？!?；;]”?")
CLAUSE_END_RE = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Chunk:
    """A quotable span of a bulletin and everything needed to cite it."""

    chunk_id: str
    file: str
    series: str
    issue: str | None
    date: str | None
    title: str | None  # the article title
    department: str | None
    section: str | None
    subsection: str | None
    item: str | None
    paragraph: int
    start: int
    end: int
    period: str | None  # the year the text speaks about, when the text makes it clear
    kind: str  # "body" | "masthead" | "footer" | "row" (one data row of a table, as printed)
    text: str
    embed_text: str  # text plus title/section context; what is embedded and BM25-indexed
    place: str | None = None  # the place the bulletin speaks for (哈密市), from its title block or masthead
    table: str | None = None  # for a row: its table's number or caption (表1 …)

    def citation(self) -> str:
        """A human citation: —《上街信息》第 8 期（2026-02-12）·区委社工部·一、…·一是…"""
        parts = [f"《{self.series}》{format_issue(self.issue)}" + (f"（{self.date}）" if self.date else "")]
        if self.department:
            parts.append(self.department)
        elif self.title and self.title != self.series and not self.title.endswith(self.series[-4:]):
            parts.append(shorten(self.title, 20))
        for part in (self.section, self.subsection, self.item, self.table):
            if part:
                parts.append(shorten(part.rstrip("。"), 14))
        if self.kind not in ("body", "row"):
            parts.append({"masthead": "报头", "footer": "报尾"}.get(self.kind, self.kind))
        parts.append(f"第 {self.paragraph + 1} 段")
        return "—" + "·".join(parts)


def format_issue(issue: str | None) -> str:
    """'8' → '第 8 期'; a year-numbered issue such as '2025' → '2025 年'."""
    if not issue:
        return ""
    if issue.isdigit():
        return f"{issue} 年" if len(issue) == 4 else f"第 {issue} 期"
    return issue


def shorten(text: str, limit: int) -> str:
    """Cut a heading to its first clause (or limit characters) with an ellipsis: '一、强基固本…'."""
    if len(text) <= limit:
        return text
    clause = re.split(r"[，,]", text, maxsplit=1)[0]
    return (clause if len(clause) <= limit else text[:limit]) + "…"


def split_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Split text into consecutive spans of at most max_chars, cutting after 。！？； first, then ，、：.

    Returns:
        (start, end) pairs covering the text exactly, with no gaps.
    """
    if len(text) <= max_chars:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > max_chars:
        remaining = len(text) - start
        # Aim for pieces of equal size so the last one is not a scrap.
        target = -(-remaining // -(-remaining // max_chars))
        window = text[start:start + max_chars]
        cut = _best_cut(SENTENCE_END_RE, window, target) or _best_cut(CLAUSE_END_RE, window, target)
        if not cut:
            # No punctuation to cut at: cut at a position that does not fall inside a figure.
            cut = max_chars
            while cut > 1 and _inside_figure(text, start + cut):
                cut -= 1
        spans.append((start, start + cut))
        start += cut
    spans.append((start, len(text)))
    return spans


def _best_cut(pattern: re.Pattern, window: str, target: int) -> int | None:
    """Position just after the match of pattern closest to target (and not too near the start), or None."""
    cuts = [match.end() for match in pattern.finditer(window) if match.end() >= len(window) // 4]
    return min(cuts, key=lambda cut: abs(cut - target)) if cuts else None


def _inside_figure(text: str, position: int) -> bool:
    """True when cutting at position would split a run of digits, a decimal point or a percent sign."""
    if position <= 0 or position >= len(text):
        return False
    figure = re.compile(r"[0-9０-９.．%％]")
    return bool(figure.match(text[position - 1]) and figure.match(text[position]))


def make_chunk_id(bulletin_hash: str, start: int, end: int, text: str) -> str:
    """Deterministic id from the bulletin's content hash, the span and its text."""
    return hashlib.sha256(f"{bulletin_hash}|{start}|{end}|{text}".encode()).hexdigest()[:16]


def _context(title: str | None, section: str | None, subsection: str | None, item: str | None) -> str:
    """Heading context embedded with a chunk (never quoted). Series and issue are left out on purpose so a
    paragraph repeated across issues has the same embedded text and is embedded once."""
    return " ".join(part for part in (title, section, subsection, item) if part)


def row_context(bulletin: Bulletin, paragraph: Paragraph) -> str:
    """What a table row means, for embedding and BM25: the caption, then each column's name with the row's
    cell ('表1 2025年分区县地区生产总值 伊州区 地区生产总值（亿元） 664.08 …'). Never quoted."""
    from qa.tables import column_of, row_cells

    table = next((t for t in bulletin.tables if t.index == paragraph.table), None)
    cells = row_cells(bulletin.clean_text[paragraph.start:paragraph.end])
    if table is None:
        return " ".join(cells)
    names = [column_of(position, cells, table.columns) for position in range(1, len(cells))]
    pairs = [cells[0]] + [f"{name} {cell}" if name else cell for name, cell in zip(names, cells[1:]) if cell]
    unit = f"单位：{table.unit}" if table.unit else ""
    return " ".join(part for part in (table.caption or "", unit, "；".join(pairs)) if part)


def chunk_bulletin(bulletin: Bulletin, bulletin_hash: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """Cut a bulletin into chunks.

    Args:
        bulletin: the parsed bulletin.
        bulletin_hash: content hash of the bulletin's text, for deterministic chunk ids.
        max_chars: the longest chunk, in characters (about 400 fit the model's 512-token window).

    Returns:
        Chunks in document order; `clean_text[chunk.start:chunk.end] == chunk.text` for each.
    """
    text = bulletin.clean_text
    chunks: list[Chunk] = []
    titled_articles = {p.article for p in bulletin.paragraphs if p.kind == "title"}

    def add(paragraph: Paragraph, start: int, end: int, kind: str, item: str | None, label: str = "",
            table: str | None = None) -> None:
        span = text[start:end]
        stripped = span.strip()
        if not stripped:
            return
        start += len(span) - len(span.lstrip())
        end = start + len(stripped)
        article = bulletin.articles[paragraph.article] if paragraph.article is not None else None
        title = article.title if article else bulletin.title
        department = article.department if article else None
        own_title = title if paragraph.article in titled_articles else None
        context = label or _context(own_title, paragraph.section, paragraph.subsection, item)
        part = bulletin.part_of(paragraph.index)
        chunks.append(Chunk(
            chunk_id=make_chunk_id(bulletin_hash, start, end, stripped),
            file=bulletin.file,
            series=part.series if part else bulletin.series,
            issue=part.issue if part else bulletin.issue,
            date=part.date if part else bulletin.date,
            title=title,
            department=department,
            section=paragraph.section,
            subsection=paragraph.subsection,
            item=item,
            paragraph=paragraph.index,
            start=start,
            end=end,
            period=paragraph.period,
            kind=kind,
            text=stripped,
            embed_text=f"{context}\n{stripped}" if context else stripped,
            place=part.place if part else bulletin.place,
            table=table,
        ))

    # Masthead and footer each become one chunk: "which issue / when / who is the editor" are real questions.
    # Their lines carry no field names, so the embedded text adds them (刊名, 期号, 主办单位…).
    for kind in ("masthead", "footer"):
        for part in sorted({p.part for p in bulletin.paragraphs}):
            group = [p for p in bulletin.paragraphs if p.kind == kind and p.part == part]
            if group:
                add(group[0], group[0].start, group[-1].end, kind, None, FIELD_LABELS[kind])

    # A table row is a unit of its own, quoted as printed; its caption and column names travel as context.
    numbers = {table.index: table.number or (shorten(table.caption, 14) if table.caption else None)
               for table in bulletin.tables}
    for paragraph in bulletin.paragraphs:
        if paragraph.kind == "row":
            add(paragraph, paragraph.start, paragraph.end, "row", None, row_context(bulletin, paragraph),
                numbers.get(paragraph.table))

    current_item: Item | None = None
    current_section: str | None = None
    for paragraph in bulletin.paragraphs:
        if paragraph.kind != "body" or paragraph.end - paragraph.start < MIN_BODY_CHARS:
            continue
        if paragraph.section != current_section:
            current_section, current_item = paragraph.section, None
        starts = [item for item in bulletin.items if item.paragraph == paragraph.index]
        # Pieces: the text before the first item (section heading, or the previous item continuing),
        # then one piece per item.
        bounds = [paragraph.start] + [item.start for item in starts] + [paragraph.end]
        owners: list[Item | None] = [current_item] + starts
        lead = text[paragraph.start:starts[0].start] if starts else ""
        if starts and paragraph.section and lead.strip() == paragraph.section:
            # The section heading opens the paragraph: it belongs to the first item, not to a chunk of its own.
            bounds, owners = bounds[:1] + bounds[2:], owners[1:]
        for (piece_start, piece_end), owner in zip(zip(bounds, bounds[1:]), owners):
            if piece_end <= piece_start:
                continue
            label = owner.label if owner else None
            for start, end in split_spans(text[piece_start:piece_end], max_chars):
                add(paragraph, piece_start + start, piece_start + end, "body", label)
        if starts:
            current_item = starts[-1]

    chunks.sort(key=lambda chunk: chunk.start)
    return chunks
