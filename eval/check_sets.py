#!/usr/bin/env python3
"""Check the hand-written evaluation sets against the texts they were written from.

    python eval/check_sets.py            # from the repository root, default paths
    python eval/check_sets.py -v         # also print the figure checklist of the seed bulletin
    python eval/check_sets.py --reports ../shared/data/gov-work-reports/government_work_reports.jsonl
                                         # the reports from the archive instead of corpus/gov-work-reports/

Checks, for both sets:
  * schema: required keys with the right types, no unknown keys, unique ids (across both sets);
    unanswerable questions have expected == [] and source == ""; follow-ups carry a history;
  * every `source` occurs exactly once in its text (whitespace-insensitive), lies inside one sentence,
    and is 10-30 characters long (shorter only when it is a whole line or sentence, e.g. "第 8 期");
  * for every non-computed answerable question, each `expected` entry has at least one `|`-alternative
    inside the sentence that holds the source;
  * an optional `file` (the corpus file the answer comes from) names the text the source was checked in:
    the seed bulletin's file name, or gov-work-report-YEAR.md for the report chosen as below.
The reports are read from the bundled bulletin files `corpus/gov-work-reports/*.md` (front matter with
`year`, then the report's text), or from the archive they were imported from (JSON lines: `year`, `content`).
For shangjie-08 the text is the seed bulletin with markdown marks removed (** bold, # headings, --- rules),
and every figure written in digits must be asked by some non-computed question whose source lies in the
same sentence. For gov-reports the text is the report the question points at: the year in the question
(or in the history), the report of the next year for "outcome" questions (the review of the year before);
for "target" questions that year's own report, or the next one when that year's report is missing.
A "missing-year" question must indeed need a report that is not in the corpus.
A "trend" question asks for a figure over several years ("2021到2024年城镇新增就业分别是多少？"), compares
years, or sets a target against its outcome: its report is the one of the FIRST year it names (a year
followed by 年 or by 到/至/和/与/、/-), chosen as above by its "outcome"/"target" tag, and its source holds
the first expected entry; every other expected entry must occur in at least one report of the corpus. A
trend question tagged "gap" must span a year whose report (the next one, for outcomes; either, for
"target-vs-outcome") is missing.

Sentences are cut after 。！？!? (with closing quotes/brackets) and at the end of a line that ends a
sentence (。！？；：…”）); any other line break is taken for a page break inside a sentence, so a sentence
broken across pages still counts as one. Comparison is on the text with all whitespace removed. Standard library only. Exit status 1 on errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHANGJIE = REPO / "eval" / "shangjie-08.jsonl"
DEFAULT_BULLETIN = REPO / "corpus" / "shangjie-xinxi-2026-08.md"
DEFAULT_GOV = REPO / "eval" / "gov-reports.jsonl"
DEFAULT_REPORTS = REPO / "corpus" / "gov-work-reports"

REQUIRED = {"id": str, "question": str, "expected": list, "source": str, "answerable": bool}
OPTIONAL = {"computed": bool, "tags": list, "history": list, "asked_on": str, "file": str}

INVISIBLE_RE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
SENTENCE_RE = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’」』）)]*|$)")
HEADING_RE = re.compile(r"^\s*#{1,6}\s+")
RULE_RE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?=\s*年)")
SPAN_YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?=\s*(?:年|[到至和与、~～\-－—]\s*(?:1[89]|20)\d\d))")
SOURCE_MIN, SOURCE_MAX = 10, 30
LINE_ENDINGS = tuple("。！？!?；;：:…”’」』）)")  # as qa.parse.PARAGRAPH_ENDINGS


def normalise(text: str) -> str:
    """Whitespace-insensitive form: drop every whitespace and zero-width character."""
    return INVISIBLE_RE.sub("", text)


class Text:
    """A source text as one whitespace-free string, cut into sentences; lines kept for short sources."""

    def __init__(self, name: str, lines: list[str]) -> None:
        self.name = name
        parts = [normalise(line) for line in lines]
        self.lines = {part for part in parts if part}
        self.flat = "".join(parts)
        # A line that ends a sentence closes it; any other line break is a page break inside a sentence.
        segments, start, position = [], 0, 0
        for part in parts:
            position += len(part)
            if part.endswith(LINE_ENDINGS):
                segments.append((start, position))
                start = position
        segments.append((start, len(self.flat)))
        self.sentences = [(m.start(), m.end()) for s, e in segments
                          for m in SENTENCE_RE.finditer(self.flat, s, e) if m.end() > m.start()]

    def occurrences(self, needle: str) -> list[int]:
        found, start = [], self.flat.find(needle)
        while start >= 0:
            found.append(start)
            start = self.flat.find(needle, start + 1)
        return found

    def sentence_at(self, start: int, end: int) -> int | None:
        """Index of the sentence holding flat[start:end], or None when it crosses a sentence end."""
        for index, (s, e) in enumerate(self.sentences):
            if s <= start < e:
                return index if end <= e else None
        return None

    def sentence(self, index: int) -> str:
        s, e = self.sentences[index]
        return self.flat[s:e]


def markdown_text(path: Path) -> Text:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if RULE_RE.match(raw):
            continue
        lines.append(HEADING_RE.sub("", raw).replace("**", ""))
    return Text(path.name, lines)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """The `key: value` lines of a leading `---` block (values unquoted) and the text after it."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta = {}
            for line in lines[1:end]:
                key, _, value = line.partition(":")
                meta[key.strip()] = value.strip().strip("'\"")
            return meta, "".join(lines[end + 1:])
    return {}, text


def load_reports(path: Path) -> dict[int, Text]:
    """Reports by year: the `*.md` bulletin files of a folder, or the lines of the JSON-lines archive."""
    reports = {}
    if path.is_dir():
        for file in sorted(path.glob("*.md")):
            meta, body = front_matter(file.read_text(encoding="utf-8"))
            if meta.get("year", "").isdigit():
                reports[int(meta["year"])] = Text(f"{meta['year']} report", body.splitlines())
        return reports
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("year") in (None, ""):
                continue  # NPC resolutions on the report, not reports
            year = int(row["year"])
            reports[year] = Text(f"{year} report", row["content"].splitlines())
    return reports


def load_set(path: Path, errors: list[str]) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append(f"{path.name}:{number}: not JSON: {error}")
                continue
            if not isinstance(row, dict):
                errors.append(f"{path.name}:{number}: not an object")
                continue
            row["_where"] = f"{path.name}:{number}"
            rows.append(row)
    return rows


def check_schema(rows: list[dict], seen_ids: set[str], errors: list[str]) -> None:
    for row in rows:
        where = row["_where"]
        for key, kind in REQUIRED.items():
            if key not in row:
                errors.append(f"{where}: missing key {key!r}")
            elif not isinstance(row[key], kind):
                errors.append(f"{where}: {key!r} should be {kind.__name__}")
        for key, kind in OPTIONAL.items():
            if key in row and not isinstance(row[key], kind):
                errors.append(f"{where}: {key!r} should be {kind.__name__}")
        unknown = set(row) - set(REQUIRED) - set(OPTIONAL) - {"_where"}
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("expected", "tags", "history"):
            if isinstance(row.get(key), list) and not all(isinstance(x, str) and x.strip() for x in row[key]):
                errors.append(f"{where}: {key!r} must hold non-empty strings")
        if isinstance(row.get("expected"), list):
            for entry in row["expected"]:
                if isinstance(entry, str) and any(not alt.strip() for alt in entry.split("|")):
                    errors.append(f"{where}: empty alternative in expected entry {entry!r}")
        if isinstance(row.get("id"), str):
            if not row["id"].strip():
                errors.append(f"{where}: empty id")
            elif row["id"] in seen_ids:
                errors.append(f"{where}: duplicate id {row['id']!r}")
            seen_ids.add(row["id"])
        if isinstance(row.get("question"), str) and not row["question"].strip():
            errors.append(f"{where}: empty question")
        answerable = row.get("answerable")
        if answerable is False:
            if row.get("expected") != [] or row.get("source") != "":
                errors.append(f"{where}: unanswerable questions need expected [] and source \"\"")
            if row.get("computed"):
                errors.append(f"{where}: an unanswerable question cannot be computed")
        elif answerable is True:
            if not row.get("expected"):
                errors.append(f"{where}: answerable question without expected entries")
            if not isinstance(row.get("source"), str) or not row["source"].strip():
                errors.append(f"{where}: answerable question without a source")
        tags = row.get("tags") or []
        if ("follow-up" in tags) != bool(row.get("history")):
            errors.append(f"{where}: the 'follow-up' tag and a non-empty history go together")
        if bool(row.get("computed")) != ("computed" in tags):
            errors.append(f"{where}: computed: true and the 'computed' tag go together")


def check_source(row: dict, text: Text, errors: list[str]) -> int | None:
    """Find the row's source in text; return the index of its sentence (None on error)."""
    where, source = row["_where"], normalise(row["source"])
    found = text.occurrences(source)
    if not found:
        errors.append(f"{where}: source {row['source']!r} not found in {text.name}")
        return None
    if len(found) > 1:
        errors.append(f"{where}: source {row['source']!r} occurs {len(found)} times in {text.name}; make it distinctive")
        return None
    index = text.sentence_at(found[0], found[0] + len(source))
    if index is None:
        errors.append(f"{where}: source {row['source']!r} crosses a sentence end in {text.name}")
        return None
    whole = source in text.lines or source == text.sentence(index)
    if len(source) > SOURCE_MAX or (len(source) < SOURCE_MIN and not whole):
        errors.append(f"{where}: source {row['source']!r} is {len(source)} characters; keep it to "
                      f"{SOURCE_MIN}-{SOURCE_MAX} (shorter only for a whole line or sentence)")
    return index


def check_file(row: dict, name: str, errors: list[str]) -> None:
    """A row's optional `file` must be the text its source is checked in."""
    if isinstance(row.get("file"), str) and row["file"] != name:
        errors.append(f"{row['_where']}: file {row['file']!r} but the source is checked in {name}")


def check_expected(row: dict, text: Text, index: int, errors: list[str]) -> None:
    if row.get("computed"):
        return  # the expected figure is derived, not written in the text
    sentence = text.sentence(index)
    for entry in row["expected"]:
        if not any(normalise(alt) and normalise(alt) in sentence for alt in entry.split("|")):
            errors.append(f"{row['_where']}: expected {entry!r} not in the source sentence of {text.name}: "
                          f"{sentence[:80]}…")


def answerable_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("answerable") is True and isinstance(r.get("source"), str)
            and r.get("source", "").strip() and isinstance(r.get("expected"), list)]


def check_shangjie(rows: list[dict], bulletin: Text, errors: list[str], verbose: bool) -> list[str]:
    covered: dict[tuple[int, float], list[str]] = {}
    for row in answerable_rows(rows):
        check_file(row, bulletin.name, errors)
        index = check_source(row, bulletin, errors)
        if index is None:
            continue
        check_expected(row, bulletin, index, errors)
        if not row.get("computed"):
            for entry in row["expected"]:
                for alt in entry.split("|"):
                    for number in NUMBER_RE.findall(normalise(alt)):
                        covered.setdefault((index, float(number)), []).append(row["id"])
    # Figure checklist: every number written in digits is asked within its own sentence.
    report = []
    for index, (s, e) in enumerate(bulletin.sentences):
        for match in NUMBER_RE.finditer(bulletin.flat, s, e):
            ids = covered.get((index, float(match.group())), [])
            context = bulletin.flat[max(s, match.start() - 8):min(e, match.end() + 6)]
            if not ids:
                errors.append(f"{bulletin.name}: figure {match.group()} ({context}) is not asked by any question")
            report.append(f"  {match.group():>10}  {context:<24} {', '.join(sorted(set(ids))) or 'MISSING'}")
    return report


def question_year(row: dict) -> int | None:
    for text in [row.get("question", "")] + list(reversed(row.get("history") or [])):
        match = YEAR_RE.search(text)
        if match:
            return int(match.group(1))
    return None


def question_years(row: dict) -> list[int]:
    """Every year a trend question names, in order ("2021到2024年" -> [2021, 2024])."""
    for text in [row.get("question", "")] + list(reversed(row.get("history") or [])):
        years = [int(y) for y in SPAN_YEAR_RE.findall(text)]
        if years:
            return years
    return []


def check_trend(row: dict, reports: dict[int, Text], report_year: int, index: int, errors: list[str]) -> None:
    """Trend questions: the first expected entry is in the source sentence, every entry in some report."""
    where, expected = row["_where"], row["expected"]
    check_expected({**row, "expected": expected[:1]}, reports[report_year], index, errors)
    for entry in expected[1:]:
        alternatives = [normalise(alt) for alt in entry.split("|") if normalise(alt)]
        if not any(alt in text.flat for alt in alternatives for text in reports.values()):
            errors.append(f"{where}: expected {entry!r} occurs in no report of the corpus")
    if "gap" in (row.get("tags") or []):
        years = question_years(row)
        # outcomes sit in the next year's report, targets in their own; target-vs-outcome needs both
        shifts = {0, 1} if "target-vs-outcome" in row["tags"] else {1} if "outcome" in row["tags"] else {0}
        span = range(min(years), max(years) + 1) if years else range(0)
        if not any(year + shift not in reports for year in span for shift in shifts):
            errors.append(f"{where}: tagged 'gap' but every report the span {years} needs is in the corpus")


def check_gov(rows: list[dict], reports: dict[int, Text], errors: list[str]) -> None:
    for row in rows:
        where, tags = row["_where"], row.get("tags") or []
        year = question_year(row)
        if "missing-year" in tags:
            if year is None:
                errors.append(f"{where}: a 'missing-year' question needs a year")
                continue
            needed = year + 1 if "outcome" in tags else year
            if needed in reports:
                errors.append(f"{where}: tagged 'missing-year' but the {needed} report is in the corpus")
            if row.get("answerable"):
                errors.append(f"{where}: a 'missing-year' question should be unanswerable")
    for row in answerable_rows(rows):
        where, tags = row["_where"], row.get("tags") or []
        trend = "trend" in tags
        year = (question_years(row) or [None])[0] if trend else question_year(row)
        if year is None:
            errors.append(f"{where}: no year in the question or its history; cannot tell which report")
            continue
        if "outcome" in tags:
            candidates = [year + 1]
        elif "target" in tags:
            candidates = [year] if year in reports else [year + 1]  # a missing year's target, restated next year
        else:
            candidates = [year]
        report_year = next((y for y in candidates if y in reports), None)
        if report_year is None:
            errors.append(f"{where}: needs the {'/'.join(map(str, candidates))} report, which is not in the corpus")
            continue
        check_file(row, f"gov-work-report-{report_year}.md", errors)
        index = check_source(row, reports[report_year], errors)
        if index is not None and trend:
            check_trend(row, reports, report_year, index, errors)
        elif index is not None:
            check_expected(row, reports[report_year], index, errors)


def summary(name: str, rows: list[dict]) -> list[str]:
    tags = Counter(tag for row in rows for tag in (row.get("tags") or []))
    answerable = sum(1 for row in rows if row.get("answerable") is True)
    lines = [f"{name}: {len(rows)} questions ({answerable} answerable, {len(rows) - answerable} unanswerable, "
             f"{sum(1 for r in rows if r.get('history'))} follow-ups, {sum(1 for r in rows if r.get('computed'))} computed)"]
    lines.append("  tags: " + ", ".join(f"{tag} {count}" for tag, count in sorted(tags.items(), key=lambda t: (-t[1], t[0]))))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shangjie", type=Path, default=DEFAULT_SHANGJIE, help="shangjie-08 question set")
    parser.add_argument("--bulletin", type=Path, default=DEFAULT_BULLETIN, help="the seed bulletin (markdown)")
    parser.add_argument("--gov", type=Path, default=DEFAULT_GOV, help="gov-reports question set")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS,
                        help="folder of 政府工作报告 bulletin files (default: corpus/gov-work-reports), "
                             "or the government_work_reports.jsonl archive")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the bulletin's figure checklist")
    args = parser.parse_args(argv)

    errors: list[str] = []
    for path in (args.shangjie, args.bulletin, args.gov):
        if not path.is_file():
            errors.append(f"missing file: {path}")
    if not args.reports.exists():
        errors.append(f"missing file or folder: {args.reports}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1

    seen: set[str] = set()
    shangjie = load_set(args.shangjie, errors)
    gov = load_set(args.gov, errors)
    check_schema(shangjie, seen, errors)
    check_schema(gov, seen, errors)
    checklist = check_shangjie(shangjie, markdown_text(args.bulletin), errors, args.verbose)
    reports = load_reports(args.reports)
    if not reports:
        print(f"no 政府工作报告 with a year in {args.reports}", file=sys.stderr)
        return 1
    check_gov(gov, reports, errors)

    for line in summary(args.shangjie.name, shangjie) + summary(args.gov.name, gov):
        print(line)
    missing = sum(1 for line in checklist if line.endswith("MISSING"))
    print(f"figure checklist ({args.bulletin.name}): {len(checklist)} figures written in digits, "
          f"{len(checklist) - missing} asked, {missing} not asked")
    if args.verbose:
        print("\n".join(checklist))
    print(f"reports in corpus: {len(reports)} ({min(reports)}-{max(reports)}); "
          f"missing since 1978: {[y for y in range(1978, max(reports) + 1) if y not in reports]}")
    if errors:
        print(f"\n{len(errors)} error(s):", file=sys.stderr)
        print("\n".join(errors), file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
