"""From the chosen clause to the answer: lead with the asked figure, quote the whole sentence, cite it; a
table cell with its header row and caption; a trend question as one cited row per period from the fact table."""

from __future__ import annotations

import re
from dataclasses import replace

from qa.candidates import ANSWER_THRESHOLD, Candidate, ClauseScorer
from qa.cells import cell_answer
from qa.chunk import Chunk
from qa.cues import bound_after
from qa.figures import LEAD_DASH, parse_figures
from qa.lead import FROM_TO_RE, asked_figure, resolve_list_member
from qa.question import DIFFERENCE_CUES, SOURCE_CUES, Question
from qa.records import Answer, Citation, Figure, TableRow
from qa.retrieve import Filters
from qa.tokens import normalise
from qa.trend import build_table, summarise

NAME_RE = re.compile(r"[“\"《]([^”\"》]{1,30})[”\"》]")


class Composer:
    """Builds answers from candidates of one fixed index."""

    def __init__(self, index, scorer: ClauseScorer) -> None:
        self.index = index
        self.scorer = scorer

    # ----- tables -----
    def table_answer(self, question: str, filters: Filters | None) -> Answer | None:
        """A trend, comparison or target-vs-outcome answer from the fact table, one cited row per period."""
        facts = self.index.facts()
        if filters is not None and not filters.is_empty():
            admitted = {c.chunk_id for c in self.index.chunks if filters.admits(c)}
            facts = [f for f in facts if f.chunk_id in admitted]
        built = build_table(facts, question)
        if built is None:
            return None
        indicator, rows = built
        citations: list[Citation] = []
        table: list[TableRow] = []
        lines: list[str] = []

        def qualifier(fact) -> str:
            """左右/以上/以内 right after a target figure, as written."""
            return bound_after(self.index.bulletins[fact.file].clean_text[fact.end:fact.end + 6])

        for row in rows:
            label = f"{row.period} 年" + ("目标" if row.role == "target" else "")
            if not row.facts:
                table.append(TableRow(row.period, row.role, "missing"))
                lines.append(f"{label}：缺（公报中没有这一年的数据）")
                continue
            shown = []
            for fact in row.facts:
                chunk = self.index.chunks[self.index.row_of[fact.chunk_id]]
                citations.append(self.citation(chunk, fact.sentence_start, fact.sentence_end))
                value = int(fact.value) if float(fact.value).is_integer() else fact.value
                table.append(TableRow(row.period, row.role, row.status, fact.text, value, fact.unit, fact.indicator,
                                      len(citations) - 1, qualifier(fact)))
                shown.append(f"{fact.text}{qualifier(fact)}（{fact.indicator}）")
            conflict = "；两期公报说法不同：" if row.status == "conflict" else ""
            lines.append(f"{label}：{conflict}{' / '.join(shown)}")

        stated = re.search(r"\d", re.sub(r"[12][0-9]{3}\s*年", "", question))  # a figure, not a year
        asks_outcome = (re.search(r"实际|最后|结果|最终", question) or stated) and not re.search(r"目标(是|为|定为)?(多少|几)|分别", question)
        if {row.role for row in rows} == {"target", "outcome"} and asks_outcome:
            # "目标是 1200 万以上，实际完成了多少" asks for the outcome: its quote is cited first, the target's after.
            role_of = {entry.citation: entry.role for entry in table if entry.citation is not None}
            order = sorted(range(len(citations)), key=lambda i: role_of.get(i) != "outcome")
            renumber = {old: new for new, old in enumerate(order)}
            citations = [citations[i] for i in order]
            table = [replace(entry, citation=renumber[entry.citation]) if entry.citation is not None else entry
                     for entry in table]
        summary = summarise(indicator, rows, qualifier)
        text = "\n".join(lines) + (f"\n{summary}" if summary else "")
        figures = tuple(Figure(row.text, row.value, row.unit, row.citation) for row in table if row.status != "missing")
        return Answer(question, text, False, tuple(citations), figures, table=tuple(table), summary=summary)

    def build_cell(self, best: Candidate) -> Answer:
        """A table-cell answer: the row as the quote, the header row and the caption cited after it."""
        bulletin, chunk, cell = best.bulletin, best.chunk, best.cell
        citations = [self.citation(chunk, chunk.start, chunk.end)]
        for paragraph in (cell.table.header_paragraphs[-1:] + ((cell.table.caption_paragraph,)
                                                               if cell.table.caption_paragraph is not None else ())):
            spot = bulletin.paragraphs[paragraph]
            citations.append(self.citation(chunk, spot.start, spot.end, paragraph=paragraph))
        figures = tuple(Figure(text, value, unit, 0) for *_, text, value, unit in parse_figures(cell.cell))
        return Answer(chunk.text, cell_answer(cell), False, tuple(citations), figures)

    def build(self, question: Question, best: Candidate, candidates: list[Candidate]) -> Answer | None:
        if best.cell is not None:
            return replace(self.build_cell(best), question=question.text)
        text = best.bulletin.clean_text
        chunk = best.chunk
        s_start, s_end = best.sentence
        c_start, c_end = best.clause
        clause = text[c_start:c_end].rstrip("，；：,;:。！？")
        if len(clause) < 8:
            clause = text[s_start:s_end].rstrip("。！？")
        citation = self.citation(chunk, s_start, s_end)
        figures: list[Figure] = []
        if question.kind == "figure":
            lead = self.figure_lead(question, best, text)
            if lead is None:
                return None
            asked, context, shown = lead
            for figure_text, value, unit in shown:
                figures.append(Figure(figure_text, value, unit, 0))
            computed = self.difference(question, candidates, text)
            if computed:
                asked = computed[0]  # "增加了几家" leads with the difference, then says how it was got
            answer_text = (f"{asked}{LEAD_DASH}" if asked else "") + f"{context}。" + (computed[1] if computed else "")
        elif question.kind == "what" or question.kind == "who":
            entity = self.entity(question, text[c_start:c_end], text[s_start:s_end], chunk)
            context = clause.strip("（）()")  # the tag （区委社工部） is its own clause: no （（…））
            answer_text = (f"{entity}。" if context in entity else f"{entity}。（{context}）") if entity else f"{clause}。"
        else:  # when: the date as the bulletin prints it (an ISO form would show digits the quote lacks)
            answer_text = f"{clause}。"
        others = [self.citation(c.chunk, *c.sentence) for c in candidates[1:6]
                  if c.sentence != best.sentence and c.lexical >= ANSWER_THRESHOLD]
        unique = [citation]
        for other in others:
            if all(other.quote != seen.quote for seen in unique):
                unique.append(other)
        return Answer(question.text, answer_text, False, tuple(unique[:3]), tuple(figures))

    def figure_lead(self, question: Question, best: Candidate, text: str) -> tuple[str | None, str, list] | None:
        """The figure asked (None if none stands out), the words that say it, and every figure shown: the
        clause, resolving lists ('A、B、C…提升至 x、y、z') to one member."""
        c_start, c_end = best.clause
        clause = text[c_start:c_end].rstrip("，；：,;:。")
        member = resolve_list_member(question, clause, lambda text: self.scorer.coverage(question, text))
        if member is not None:
            label, figure = member
            parsed = parse_figures(figure)
            shown = [(p[2], p[3], p[4]) for p in parsed]
            return figure, label, shown
        pieces = [clause]
        # A following clause that qualifies the figure (同比增长 61.5%) belongs to the answer.
        clauses = best.clauses
        position = best.position
        if position + 1 < len(clauses):
            following = text[clauses[position + 1][0]:clauses[position + 1][1]].rstrip("，；：,;:。")
            # only a change of the same figure (同比增长 61.5%), not the next fact (其中…, 年内新增…)
            if re.match(r"^(同比|比上年|较上年|增长|下降|提高|增幅|较|比)", following) and parse_figures(following):
                pieces.append(following)
        context = "，".join(pieces)
        lead = asked_figure(question, context, lambda words: self.scorer.coverage(question, words))
        shown = [(p[2], p[3], p[4]) for piece in pieces for p in parse_figures(piece)]
        return lead, context, shown

    def difference(self, question: Question, candidates: list[Candidate], text: str) -> tuple[str, str] | None:
        """'16 家…扩充至 29 家' asked as 增加了多少: show the subtraction with both quoted figures."""
        if not DIFFERENCE_CUES.search(question.text):
            return None
        best = candidates[0]
        window = normalise(text[best.clauses[max(best.position - 1, 0)][0]:best.clause[1]])
        pair = FROM_TO_RE.search(window)
        if not pair or pair.group(2) != pair.group(4):
            return None
        first, unit, second = float(pair.group(1)), pair.group(2), float(pair.group(3))
        difference = round(abs(second - first), 6)
        shown = _number_text(difference)
        unit = "个百分点" if unit == "%" else unit
        return f"{shown} {unit}", f"（计算：{_number_text(max(first, second))} − {_number_text(min(first, second))} = {shown} {unit}）"

    def entity(self, question: Question, clause: str, sentence: str, chunk: Chunk) -> str | None:
        """For 'which/what/who' questions: a quoted name or tag in the answering clause (else its sentence),
        preferring one that ends like the noun asked about (合唱团, 工作法, 品牌, 部门)."""
        asked = re.search(r"(?:哪个|哪些|哪家|什么|哪一个|哪一)([\u4e00-\u9fff]{1,6})", normalise(question.text))
        noun = asked.group(1) if asked else ""
        if question.kind == "who":
            for key in re.findall(r"[\u4e00-\u9fff]{2,8}", question.content):
                for size in range(len(key), 1, -1):
                    match = re.search(re.escape(key[:size]) + r"\s*[：:是为]\s*([\u4e00-\u9fff]{2,4})", sentence)
                    if match:
                        return match.group(1)
        if re.match(r"部门|单位|机关", noun) and chunk.department and chunk.department in sentence:
            return chunk.department  # "哪个部门供稿" → the department tag （区委社工部）
        bulletin = self.index.bulletin_of(chunk)
        if chunk.kind == "masthead" and bulletin.publisher and bulletin.publisher in sentence:
            return bulletin.publisher
        part = bulletin.part_of(chunk.paragraph)
        if chunk.kind == "masthead" and part and part.publisher and SOURCE_CUES.search(question.text) \
                and any(office in part.publisher for office in sentence.split()):
            return part.publisher  # "由哪些单位发布": every issuer, though each stands on a line of its own
        tail = noun[-2:] if len(noun) >= 2 else noun

        def fits(name: str, text: str) -> bool:
            # “周联系、月走访、季汇报”机制 fits 工作机制; “灵芝雀合唱团” fits 合唱团
            follows = re.search(re.escape(name) + r"[”\"》]" + re.escape(tail), text) if tail else None
            return bool(tail) and (name.endswith(tail) or bool(follows) or any(noun[:n] in name for n in (3, 2)))

        candidates = [(text, [n for n in NAME_RE.findall(text) if n not in question.text]) for text in (clause, sentence)]
        for text, names in candidates:
            fitting = [name for name in names if fits(name, text)]
            if fitting:
                return f"“{fitting[0]}”"
        for _, names in candidates:
            if names and not noun:
                return f"“{names[0]}”"
        return None

    def citation(self, chunk: Chunk, start: int, end: int, paragraph: int | None = None) -> Citation:
        """A quote of [start, end) cited by the chunk it belongs to (or another paragraph of its bulletin:
        a table's header row and caption)."""
        bulletin = self.index.bulletin_of(chunk)
        quote = bulletin.clean_text[start:end]
        label = chunk.citation()
        if paragraph is not None and paragraph != chunk.paragraph:
            label = re.sub(r"第 \d+ 段$", f"第 {paragraph + 1} 段", label)
        return Citation(chunk.chunk_id, chunk.file, chunk.series, chunk.issue, chunk.date, chunk.title,
                        chunk.section, (chunk.paragraph if paragraph is None else paragraph) + 1, quote, start, end,
                        label)


def _number_text(value: float) -> str:
    """A computed number as the answer writes it: 13, not 13.0."""
    return str(int(value)) if float(value).is_integer() else str(value)
