"""What a question gets back: the answer, its citations (verbatim quotes with where they stand), its
figures and, for a trend question, its table rows. Plain records; `to_json` is what `bulletin-qa ask --json` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from; `quote` is a verbatim substring of the bulletin's clean text."""

    chunk_id: str
    file: str
    series: str
    issue: str | None
    date: str | None
    title: str | None
    section: str | None
    paragraph: int  # 1-based, the N of the label's 第 N 段 (Chunk.paragraph is the 0-based index)
    quote: str
    start: int
    end: int
    label: str  # human-readable citation line

    def to_json(self) -> dict:
        return {"chunk_id": self.chunk_id, "file": self.file, "series": self.series, "issue": self.issue,
                "date": self.date, "title": self.title, "section": self.section, "paragraph": self.paragraph,
                "quote": self.quote, "start": self.start, "end": self.end, "label": self.label}


@dataclass(frozen=True)
class Figure:
    """A number shown in an answer: its text as written, value (万/亿 applied), unit, and which citation."""

    text: str
    value: float | None
    unit: str | None
    citation: int

    def to_json(self) -> dict:
        value = self.value
        if value is not None and float(value).is_integer():
            value = int(value)
        return {"text": self.text, "value": value, "unit": self.unit, "citation": self.citation}


@dataclass(frozen=True)
class TableRow:
    """One row of a trend or target-vs-outcome answer: one figure of the asked indicator for one period, or a
    period the bulletins do not give (status "missing": no text, value or citation)."""

    period: str  # "2023"
    role: str  # "outcome" | "target"
    status: str  # "ok" | "conflict" (two bulletins give different figures) | "missing"
    text: str | None = None  # the figure as printed ("1244万人")
    value: float | int | None = None  # 万/亿 applied
    unit: str | None = None
    indicator: str | None = None  # the fact table's indicator name for it
    citation: int | None = None  # index into Answer.citations
    bound: str = ""  # 左右/以上/以内 right after a target figure, as written

    def to_json(self) -> dict:
        return {"period": self.period, "role": self.role, "status": self.status, "text": self.text,
                "value": self.value, "unit": self.unit, "indicator": self.indicator, "citation": self.citation,
                "bound": self.bound}


@dataclass(frozen=True)
class Answer:
    """The result of a question: the answer text, its citations (best first) and figures, or an abstention."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    figures: tuple[Figure, ...] = ()
    related: tuple[Citation, ...] = ()  # nearest passages shown with an abstention, not as an answer
    table: tuple[TableRow, ...] = ()  # a trend or comparison answer's rows
    summary: str = ""  # a table answer's one-line summary, computed from its rows
    effective_question: str | None = None  # the question after resolving a follow-up
    seconds: float = 0.0
    guard_caught: tuple[str, ...] = ()  # numbers the guard found in no quote before it made this an abstention

    def to_json(self) -> dict:
        """The object `bulletin-qa ask --json` prints."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "figures": [f.to_json() for f in self.figures],
            "related": [c.to_json() for c in self.related],
            "table": [row.to_json() for row in self.table],
            "summary": self.summary,
            "effective_question": self.effective_question,
            "guard_caught": list(self.guard_caught),
        }

    def to_text(self) -> str:
        """A terminal rendering: answer, quotes, citations."""
        lines = [self.answer]
        for citation in self.citations:
            lines.append(f"  “{citation.quote}”")
            lines.append(f"  {citation.label}")
        if self.abstained and self.related:
            lines.append("  相关内容（不是答案）：")
            for citation in self.related:
                lines.append(f"  · “{shorten_quote(citation.quote)}” {citation.label}")
        return "\n".join(lines)


def shorten_quote(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
