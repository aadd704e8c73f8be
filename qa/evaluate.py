"""The eval suite: run a Q&A set through the assistant and score retrieval and answers, per method.

A Q&A set is JSON lines: {"id", "question", "expected": [...], "source", "answerable", "computed"?,
"tags"?, "history"?, "asked_on"?, "file"?}. Matching is whitespace-insensitive after NFKC (full-width ％ and
digits fold).

Methods: `hybrid` (the product), `bm25` and `dense` (the product's answer module over one retriever only),
and `baseline` (`qa.baseline`: BM25 over sentences, the best sentence verbatim; no answer module).
(~460 lines: the metrics of one set, the CMRC check, the report with its charts and the pins share the
per-question records.)
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from qa.assistant import Assistant
from qa.guard import numbers_in, unsupported_figures
from qa.question import effective_question
from qa.records import Answer
from qa.errors import BulletinQAError
from qa.retrieve import retrieve
from qa.settings import parse_day
from qa.tokens import normalise

REQUIRED_KEYS = ("id", "question", "expected", "source", "answerable")
METHODS = ("hybrid", "bm25", "dense", "baseline")  # the first is the product's


@dataclass(frozen=True)
class QAItem:
    """One question of a Q&A set."""

    id: str
    question: str
    expected: tuple[str, ...]
    source: str
    answerable: bool
    computed: bool = False
    tags: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    asked_on: date | None = None  # the day 今年/去年 in the question count from (default: the run's date)
    file: str | None = None  # the corpus file the answer comes from, when the set names it


@dataclass
class ItemResult:
    """What happened to one question under one method."""

    item: QAItem
    answer: dict
    source_rank: int | None  # 1-based rank of the first retrieved chunk containing the source
    answer_ok: bool
    citation_ok: bool
    unsupported: list[str]  # numbers in the delivered answer (after the guard) that no quote holds
    seconds: float
    first_file: str | None = None  # file of the first retrieved chunk (or sentence, for the baseline)

    @property
    def guard_caught(self) -> tuple[str, ...]:
        """Numbers the guard found unsupported before it turned the answer into an abstention."""
        return tuple(self.answer.get("guard_caught") or ())

    @property
    def passed(self) -> bool:
        """Answered right and cited right (answerable), or abstained (unanswerable); nothing unsupported."""
        if self.unsupported:
            return False
        if not self.item.answerable:
            return bool(self.answer["abstained"])
        return self.answer_ok and (self.citation_ok or not self.item.source)

    @property
    def doc_first(self) -> bool | None:
        """Whether the first citation is from the item's file (None: the item names no file or cannot be answered)."""
        if not (self.item.answerable and self.item.file):
            return None
        citations = self.answer["citations"]
        return not self.answer["abstained"] and bool(citations) and citations[0]["file"] == self.item.file

    @property
    def retrieval_doc_first(self) -> bool | None:
        """Whether the first retrieved chunk is from the item's file (None as for `doc_first`)."""
        if not (self.item.answerable and self.item.file):
            return None
        return self.first_file == self.item.file

    @property
    def leads_with_figure(self) -> bool | None:
        """Whether the answer's first number is an expected one.

        Defined for answerable items with a digit in some expected entry (else None). True when the answer
        was given (not abstained) and the first number written in digits in its text (`numbers_in`, after
        NFKC) equals, as a decimal value, a number of some '|'-alternative of any expected entry: '434' leads
        '全区持证人数达 434 人' for expected '434人'; '2025 年同比增长 61.5%' does not lead with '61.5%' (its first number is 2025).
        An abstention, or an answer with no number, counts as False.
        """
        wanted = {float(number) for entry in self.item.expected for alternative in entry.split("|")
                  for number in numbers_in(alternative)}
        if not (self.item.answerable and wanted):
            return None
        if self.answer["abstained"]:
            return False
        found = numbers_in(self.answer["answer"])
        return bool(found) and float(found[0]) in wanted


@dataclass
class SetResult:
    """Metrics for one Q&A set under one retrieval method."""

    name: str
    method: str
    results: list[ItemResult] = field(default_factory=list)

    def metrics(self) -> dict:
        """Retrieval and answer metrics as a flat dict of numbers."""
        answerable = [r for r in self.results if r.item.answerable]
        unanswerable = [r for r in self.results if not r.item.answerable]
        with_source = [r for r in answerable if r.item.source]
        abstained = [r for r in self.results if r.answer["abstained"]]
        latencies = sorted(r.seconds for r in self.results)

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        def rate(flags: list[bool | None]) -> float | None:
            defined = [flag for flag in flags if flag is not None]
            return share(sum(defined), len(defined))

        return {
            "questions": len(self.results),
            "recall@1": share(sum(1 for r in with_source if r.source_rank == 1), len(with_source)),
            "recall@5": share(sum(1 for r in with_source if r.source_rank and r.source_rank <= 5), len(with_source)),
            "mrr@10": share(sum(1 / r.source_rank for r in with_source if r.source_rank and r.source_rank <= 10) * 1,
                            len(with_source)),
            "answer_accuracy": share(sum(r.answer_ok for r in answerable), len(answerable)),
            "citation_accuracy": share(sum(r.citation_ok for r in with_source), len(with_source)),
            "abstention_precision": share(sum(1 for r in abstained if not r.item.answerable), len(abstained)),
            "abstention_recall": share(sum(1 for r in unanswerable if r.answer["abstained"]), len(unanswerable)),
            "doc_first": rate([r.doc_first for r in self.results]),
            "retrieval_doc_first": rate([r.retrieval_doc_first for r in self.results]),
            "leads_with_figure": rate([r.leads_with_figure for r in self.results]),
            "guard_caught": sum(1 for r in self.results if r.guard_caught),
            "unsupported_figures": sum(len(r.unsupported) for r in self.results),
            "latency_p50_ms": round(_percentile(latencies, 50) * 1000, 1) if latencies else None,
            "latency_p95_ms": round(_percentile(latencies, 95) * 1000, 1) if latencies else None,
        }

    def failures(self) -> list[ItemResult]:
        """Questions answered wrongly, cited wrongly, or wrongly (not) abstained."""
        return [r for r in self.results if not r.passed]


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * percent / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def squash(text: str) -> str:
    """Text for comparison: NFKC, lower case, no whitespace at all."""
    return re.sub(r"\s+", "", normalise(text or ""))


def expected_found(expected: str, answer_text: str) -> bool:
    """True when one of the '|' alternatives of an expected entry appears in the answer."""
    squashed = squash(answer_text)
    return any(squash(alternative) in squashed for alternative in expected.split("|") if alternative)


def load_qa_set(path: Path) -> list[QAItem]:
    """Read and validate a Q&A set.

    Raises:
        BulletinQAError: a line is not JSON or lacks a required key; the message names file and line.
    """
    items = []
    seen: set[str] = set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise BulletinQAError(f"{path}:{number}: not JSON ({error.msg})") from None
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise BulletinQAError(f"{path}:{number}: missing {', '.join(missing)}")
        if data["id"] in seen:
            raise BulletinQAError(f"{path}:{number}: duplicate id {data['id']!r}")
        seen.add(data["id"])
        items.append(QAItem(str(data["id"]), data["question"], tuple(data["expected"]), data["source"] or "",
                            bool(data["answerable"]), bool(data.get("computed", False)),
                            tuple(data.get("tags", ())), tuple(data.get("history", ())),
                            _asked_on(data.get("asked_on"), f"{path}:{number}"), data.get("file") or None))
    return items


def _asked_on(value, where: str) -> date | None:
    try:
        return parse_day(value)
    except BulletinQAError as error:
        raise BulletinQAError(f"{where}: asked_on: {error}") from None


def ask_and_retrieve(assistant: Assistant, question: str, method: str, history: tuple[str, ...] = (),
                     asked_on: date | None = None, depth: int = 10) -> tuple[Answer, float, list[tuple[str, str]]]:
    """Answer a question with one method, timed, and list what that method retrieves for it.

    Returns:
        The answer, its seconds, and the top `depth` retrieved (file, text) pairs: chunks for the product's
        methods, sentences for `baseline` (which answers the effective question: follow-up resolved,
        今年/去年 named, as the product's retrieval sees it).
    """
    _, _, effective = effective_question(question, list(history), asked_on or assistant.today or date.today())
    if method == "baseline":
        from qa.baseline import baseline_for

        sentences = baseline_for(assistant.index)
        started = time.perf_counter()
        answer = sentences.ask(effective)
        seconds = time.perf_counter() - started
        answer = replace(answer, question=question, seconds=seconds,
                         effective_question=effective if effective != question.strip() else None)
        return answer, seconds, [(s.file, s.text) for s, _ in sentences.search(effective, k=depth)]
    started = time.perf_counter()
    answer = assistant.ask(question, history=list(history), method=method, today=asked_on)
    seconds = time.perf_counter() - started
    hits = retrieve(assistant.index, assistant.embedder, effective, k=depth, method=method)
    return answer, seconds, [(hit.chunk.file, hit.chunk.text) for hit in hits]


def score_item(item: QAItem, answer: Answer, retrieved: list[tuple[str, str]], seconds: float = 0.0) -> ItemResult:
    """Score one answer (as delivered, after the guard) and the retrieved (file, text) list for one question."""
    source_rank = None
    if item.source:
        target = squash(item.source)
        source_rank = next((rank for rank, (_, text) in enumerate(retrieved, start=1) if target in squash(text)),
                           None)
    answer_ok = (not answer.abstained) and all(expected_found(e, answer.answer) for e in item.expected)
    citation_ok = bool(item.source) and bool(answer.citations) and squash(item.source) in squash(answer.citations[0].quote)
    return ItemResult(item, answer.to_json(), source_rank, answer_ok, citation_ok, unsupported_figures(answer),
                      seconds, retrieved[0][0] if retrieved else None)


def evaluate_item(assistant: Assistant, item: QAItem, method: str, depth: int = 10) -> ItemResult:
    """Ask one question with one method and score it."""
    answer, seconds, retrieved = ask_and_retrieve(assistant, item.question, method, item.history, item.asked_on,
                                                  depth)
    return score_item(item, answer, retrieved, seconds)


def evaluate_set(assistant: Assistant, path: Path, methods: tuple[str, ...] = METHODS,
                 progress: bool = True) -> list[SetResult]:
    """Run every question of a set under each method; the first method is the product's, the rest baselines."""
    items = load_qa_set(path)
    results = []
    for method in methods:
        outcome = SetResult(Path(path).stem, method)
        iterator = items
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(items, desc=f"{Path(path).stem} · {method}", unit="q")
        for item in iterator:
            outcome.results.append(evaluate_item(assistant, item, method))
        results.append(outcome)
    return results


METRIC_ORDER = ("questions", "recall@1", "recall@5", "mrr@10", "answer_accuracy", "citation_accuracy",
                "abstention_precision", "abstention_recall", "doc_first", "retrieval_doc_first", "leads_with_figure",
                "guard_caught", "unsupported_figures", "latency_p50_ms", "latency_p95_ms")


def metrics_table(results: list[SetResult]) -> str:
    """A Markdown table: one row per set and method, one column per metric."""
    header = "| set | method | " + " | ".join(METRIC_ORDER) + " |"
    rule = "|" + "---|" * (len(METRIC_ORDER) + 2)
    rows = [header, rule]
    for result in results:
        metrics = result.metrics()
        cells = ["–" if metrics[key] is None else str(metrics[key]) for key in METRIC_ORDER]
        rows.append(f"| {result.name} | {result.method} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def pins_path(set_path: Path, folder: Path | None = None) -> Path:
    """Where a set's per-question pins live: eval/pins/<set>.json beside eval/<set>.jsonl."""
    return (folder or Path(set_path).parent / "pins") / f"{Path(set_path).stem}.json"


def write_pins(result: SetResult, path: Path) -> dict:
    """(Re)write a set's pins from a run: the ids that pass, and its abstention precision.

    Reasons already in the file are kept for ids that still fail (a reason explains why a once passing
    question no longer passes); an id that passes again loses its reason.

    Returns:
        The pins written: {"set", "method", "passing", "reasons", "abstention_precision"}.
    """
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    passing = [r.item.id for r in result.results if r.passed]
    reasons = {id_: why for id_, why in (old.get("reasons") or {}).items() if id_ not in passing}
    pins = {"set": result.name, "method": result.method, "passing": passing, "reasons": reasons,
            "abstention_precision": result.metrics()["abstention_precision"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pins, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return pins


def write_report(results: list[SetResult], folder: Path, cmrc: dict | None = None) -> Path:
    """Write report.md (tables, every failure with expected vs returned) and PNG charts into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(results, folder) if results else []
    lines = ["# Bulletin QA evaluation", "", time.strftime("Run at %Y-%m-%d %H:%M:%S"), "", "## Metrics", "",
             metrics_table(results), ""]
    if cmrc:
        keys = list(next(iter(cmrc.values())))
        lines += ["## CMRC 2018 (external check)", "", "| method | " + " | ".join(keys) + " |",
                  "|" + "---|" * (len(keys) + 1)]
        lines += [f"| {method} | " + " | ".join(str(v[key]) for key in keys) + " |" for method, v in cmrc.items()]
        lines.append("")
    for chart in charts:
        lines += [f"![{chart.stem}]({chart.name})", ""]
    for result in results:
        failures = result.failures()
        lines += [f"## Failures · {result.name} · {result.method} ({len(failures)})", ""]
        for failure in failures:
            item = failure.item
            got = failure.answer
            quote = got["citations"][0]["quote"] if got["citations"] else "—"
            lines += [
                f"- **{item.id}** {item.question}" + (f" (after: {' / '.join(item.history)})" if item.history else ""),
                f"  - expected: {'; '.join(item.expected) or '(abstain)'} · source: {item.source or '—'}",
                f"  - got: {'(abstained) ' if got['abstained'] else ''}{got['answer']}",
                f"  - first quote: {quote[:160]}",
                f"  - source rank: {failure.source_rank or 'not in top 10'}"
                + (f" · unsupported numbers: {', '.join(failure.unsupported)}" if failure.unsupported else "")
                + (f" · guard caught: {', '.join(failure.guard_caught)}" if failure.guard_caught else ""),
            ]
        lines.append("")
    report = folder / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


METRIC_KEYS = ("recall@1", "recall@5", "mrr@10", "answer_accuracy", "citation_accuracy", "abstention_recall",
               "leads_with_figure")


def _charts(results: list[SetResult], folder: Path) -> list[Path]:
    """Bar charts of the main metrics by method, one PNG per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name in dict.fromkeys(result.name for result in results):
        figure = metrics_figure(name, [result for result in results if result.name == name])
        path = folder / f"metrics-{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def metrics_figure(name: str, subset: list[SetResult]):
    """One set's bar chart: METRIC_KEYS by method, the legend to the right of the axes, never over a bar."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4), layout="constrained")
    width = 0.8 / len(subset)
    for offset, result in enumerate(subset):
        metrics = result.metrics()
        values = [metrics[key] or 0 for key in METRIC_KEYS]
        positions = [i + offset * width for i in range(len(METRIC_KEYS))]
        axes.bar(positions, values, width, label=result.method)
    axes.set_xticks([i + width * (len(subset) - 1) / 2 for i in range(len(METRIC_KEYS))], METRIC_KEYS, rotation=15)
    axes.set_ylim(0, 1.05)
    axes.set_title(f"{name}: metrics by retrieval method")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False, title="method")
    return figure


def cmrc_corpus(json_path: Path, corpus_dir: Path) -> dict[str, list[dict]]:
    """Write each CMRC 2018 paragraph as a bulletin file (series CMRC2018, issue = paragraph id).

    Returns:
        Questions by file name: [{"question", "answers": [str, ...]}].
    """
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    corpus_dir.mkdir(parents=True, exist_ok=True)
    questions: dict[str, list[dict]] = {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            name = f"{paragraph['id']}.md"
            front = f"---\nseries: CMRC2018\nissue: {paragraph['id']}\ntitle: {article.get('title') or paragraph['id']}\n---\n"
            path = corpus_dir / name
            text = front + "\n" + paragraph["context"].strip() + "\n"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            questions[name] = [{"question": qa["question"], "answers": [a["text"] for a in qa["answers"]]}
                               for qa in paragraph["qas"]]
    return questions


def evaluate_cmrc(json_path: Path, index_dir: Path, model: str | None = None,
                  methods: tuple[str, ...] = METHODS, progress: bool = True,
                  backend: str | None = None, sentence_scoring: str | None = None) -> dict[str, dict]:
    """The external check: index CMRC 2018's Wikipedia paragraphs, ask its questions, and report paragraph
    recall@1/@5, MRR@10 and how often a gold answer lies inside the first quote, per retrieval method."""
    corpus_dir = index_dir.parent / (index_dir.name + "-corpus")
    questions = cmrc_corpus(json_path, corpus_dir)
    assistant = Assistant.open(index_dir, model=model, corpus_dir=corpus_dir, progress=progress, backend=backend)
    if sentence_scoring is not None:
        assistant.score_sentences_by(sentence_scoring)
    flat = [(name, q) for name, qs in sorted(questions.items()) for q in qs]
    results = {}
    for method in methods:
        top1 = top5 = reciprocal = quoted = answered = guard_caught = 0
        latencies = []
        iterator = flat
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(flat, desc=f"cmrc2018 · {method}", unit="q")
        for name, question in iterator:
            answer, seconds, retrieved = ask_and_retrieve(assistant, question["question"], method)
            files = list(dict.fromkeys(file for file, _ in retrieved))
            rank = files.index(name) + 1 if name in files else None
            top1 += rank == 1
            top5 += bool(rank and rank <= 5)
            reciprocal += 1 / rank if rank else 0
            latencies.append(seconds)
            guard_caught += bool(answer.guard_caught)
            if not answer.abstained:
                answered += 1
                quote = squash(answer.citations[0].quote)
                quoted += any(squash(gold) in quote for gold in question["answers"])
        total = len(flat)
        latencies.sort()
        results[method] = {
            "questions": total,
            "paragraph_recall@1": round(top1 / total, 4),
            "paragraph_recall@5": round(top5 / total, 4),
            "mrr@10": round(reciprocal / total, 4),
            "answered": round(answered / total, 4),
            "gold_in_first_quote": round(quoted / total, 4),
            "guard_caught": guard_caught,
            "latency_p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        }
    return results
