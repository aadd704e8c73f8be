#!/usr/bin/env python3
"""Check the hand-labelled figure sample (eval/facts-labelled.jsonl) against the corpus texts.

    python eval/check_facts.py                 # from the repository root, default paths
    python eval/check_facts.py -v              # also list every record, grouped by sentence

One JSON object per figure:
    {"file", "sentence", "figure", "indicator", "value", "unit", "kind", "period"}

Checks, for every line:
  * schema: exactly these keys; strings are non-empty; value is a number (int or float, not bool);
    kind is one of count | percent | change | target; period is a 4-digit year;
  * `file` is the seed bulletin (corpus/) or a report (corpus/gov-work-reports/);
  * `sentence` occurs verbatim in the file's text after removing the front matter and the `**` bold
    markers (spaces and page-break newlines kept as in the file), and is a whole sentence: it ends with
    sentence-final punctuation and starts at the start of a line or after a sentence end;
  * `figure` occurs in `sentence` (as a whole number: not the tail of a longer number);
  * `value` equals the number written in the figure (full-width digits -> ASCII, Chinese numerals such
    as 百分之十一点八 read as 11.8) times the scale 万 / 亿 / 万亿; for a range (6%－6.5%, 百分之八至九)
    the range is labelled twice, once per bound;
  * `unit` is the unit written after the number and scale, without qualifiers (1300 余人次 -> 人次,
    ５％左右 -> %, 1个百分点 -> 百分点); when the figure has no unit text ("1386万") the unit is implied
    by the context and only has to be non-empty; a unit never starts with a scale character;
  * `kind` percent has unit %; `period` is not after the year the file was issued; in a report, a target
    refers to the report's year (or the year before, for last year's target restated), a count or percent
    to an earlier year; a change may be planned ("拟按4%左右安排、比上年提高1个百分点": a change, of the
    report's year);
  * completeness: in every labelled sentence, every number written in digits (and every 百分之…, …个百分点,
    …倍 written in Chinese numerals) lies inside a labelled figure, unless it is a date (2026 年, 2 月,
    12 日), an ordinal (第 8 期) or part of a name (C919, PM2.5, M2, 网格5+); no figure is labelled more
    often than it occurs.
Prints the count of records per file and kind. Standard library only. Exit status 1 on errors.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FACTS = REPO / "eval" / "facts-labelled.jsonl"
DEFAULT_CORPUS = REPO / "corpus"

KEYS = {"file": str, "sentence": str, "figure": str, "indicator": str, "value": (int, float),
        "unit": str, "kind": str, "period": str}
KINDS = ("count", "percent", "change", "target")
SCALES = {"万亿": 10 ** 12, "亿": 10 ** 8, "万": 10 ** 4, "": 1}
QUALIFIERS = ("左右", "以上", "以内", "以下")
FULL_WIDTH = str.maketrans("０１２３４５６７８９．％－～", "0123456789.%-~")
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMBER = "零〇一二两三四五六七八九十百千点"
NUMBER_PART_RE = re.compile(rf"^(?P<num>\d+(?:\.\d+)?|[{CN_NUMBER}]+)(?P<approx1>多|余)?"
                            rf"(?P<scale>万亿|亿|万)?(?P<approx2>多|余)?(?P<rest>.*)$")
RANGE_RE = re.compile(r"(?<=[\d%{cn}])[-~至—](?=[\d{cn}百])".format(cn=CN_NUMBER))
SENTENCE_END = tuple("。！？!?")
CLOSERS = "”’」』）)"
BEFORE_SENTENCE = "。！？!?；;：:\n" + CLOSERS
DIGIT_RUN_RE = re.compile(r"[0-9０-９]+(?:[.．][0-9０-９]+)?")
CN_FIGURE_RE = re.compile(rf"百分之[{CN_NUMBER}]+|[{CN_NUMBER}]+个百分点|[{CN_NUMBER}]+倍")
ISSUE_YEAR_RE = re.compile(r"^year:\s*'?(\d{4})", re.M)
DATE_YEAR_RE = re.compile(r"(\d{4})\s*年")


class FigureError(ValueError):
    pass


def to_ascii(text: str) -> str:
    return text.translate(FULL_WIDTH)


def cn_to_number(text: str) -> float:
    """Chinese numerals up to the thousands, with a decimal part: 十一点八 -> 11.8, 五十八点六 -> 58.6."""
    whole, _, decimals = text.partition("点")
    if "点" in decimals or (not whole and not decimals):
        raise FigureError(f"cannot read Chinese numeral {text!r}")
    total, digit = 0, None
    for char in whole:
        if char in CN_DIGITS:
            if digit is not None:
                raise FigureError(f"cannot read Chinese numeral {text!r}")
            digit = CN_DIGITS[char]
        elif char in CN_UNITS:
            total += (1 if digit is None else digit) * CN_UNITS[char]
            digit = None
        else:
            raise FigureError(f"cannot read Chinese numeral {text!r}")
    total += digit or 0
    fraction = 0.0
    for position, char in enumerate(decimals, 1):
        if char not in CN_DIGITS:
            raise FigureError(f"cannot read Chinese numeral {text!r}")
        fraction += CN_DIGITS[char] / 10 ** position
    return round(total + fraction, len(decimals))


def parse_figure(figure: str) -> tuple[list[float], str]:
    """Numbers (scale applied, one per bound of a range) and the unit written in a figure."""
    text = re.sub(r"\s+", "", to_ascii(figure))
    for qualifier in QUALIFIERS:
        if text.endswith(qualifier):
            text = text[: -len(qualifier)]
            break
    percent = text.startswith("百分之")
    if percent:
        text = text[3:]
    parts = RANGE_RE.split(text, maxsplit=1)
    values, unit = [], ""
    for part in parts:
        match = NUMBER_PART_RE.match(part)
        if not match:
            raise FigureError(f"cannot read figure {figure!r}")
        number = match["num"]
        value = float(number) if number[0].isdigit() else cn_to_number(number)
        values.append(value * SCALES[match["scale"] or ""])
        unit = match["rest"]
    if unit.startswith("个百分点"):
        unit = unit[1:]
    if percent:
        if unit:
            raise FigureError(f"unexpected text after 百分之… in {figure!r}")
        unit = "%"
    return values, unit


def strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end >= 0:
            return text[end + 5:]
    return text


class Source:
    def __init__(self, path: Path) -> None:
        raw = path.read_text(encoding="utf-8")
        match = ISSUE_YEAR_RE.search(raw) if raw.startswith("---\n") else None
        self.text = strip_front_matter(raw).replace("**", "")
        if match is None:
            match = DATE_YEAR_RE.search(self.text)
        self.year = int(match.group(1)) if match else None
        self.is_report = path.parent.name == "gov-work-reports"

    def whole_sentence(self, sentence: str) -> bool:
        """Does the sentence occur somewhere as a whole sentence (not a fragment of one)?"""
        stripped = sentence.rstrip(CLOSERS)
        if not stripped.endswith(SENTENCE_END):
            return False
        start = self.text.find(sentence)
        while start >= 0:
            before = self.text[:start].rstrip(" \t\u3000")
            if not before or before[-1] in BEFORE_SENTENCE:
                return True
            start = self.text.find(sentence, start + 1)
        return False


def occurrences(figure: str, sentence: str) -> list[tuple[int, int]]:
    """Spans of figure in sentence, not counting matches inside a longer number (5%左右 in 5.5%左右)."""
    spans, start = [], sentence.find(figure)
    numeric = "0123456789０１２３４５６７８９.．" + CN_NUMBER
    while start >= 0:
        end = start + len(figure)
        if not (start > 0 and sentence[start - 1] in numeric and figure[0] in numeric) and \
                not (end < len(sentence) and sentence[end] in numeric and figure[-1] in numeric):
            spans.append((start, end))
        start = sentence.find(figure, start + 1)
    return spans


def non_figure(sentence: str, start: int, end: int) -> bool:
    """A number that is a date, an ordinal or part of a name, not a figure."""
    after = sentence[end:].lstrip(" \u3000")
    before = sentence[:start].rstrip(" \u3000")
    digits = to_ascii(sentence[start:end])
    if re.fullmatch(r"\d{4}", digits) and after.startswith("年"):
        return True  # 2024年 as a date
    if after.startswith(("月", "日", "号")) and "." not in digits:
        return True
    if before.endswith("第"):
        return True  # ordinal: 第 8 期
    if (before and re.match(r"[A-Za-z]", before[-1])) or after.startswith("+"):
        return True  # names: C919, PM2.5, M2, 网格5+工作法
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=Path, default=DEFAULT_FACTS, help="labelled figures (jsonl)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the records sentence by sentence")
    args = parser.parse_args(argv)

    errors: list[str] = []
    notes: Counter = Counter()
    if not args.facts.is_file():
        print(f"missing file: {args.facts}", file=sys.stderr)
        return 1
    sources: dict[str, Source | None] = {}
    rows: list[dict] = []
    with args.facts.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{args.facts.name}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append(f"{where}: not JSON: {error}")
                continue
            if not isinstance(row, dict):
                errors.append(f"{where}: not an object")
                continue
            bad = False
            for key, kind in KEYS.items():
                if key not in row:
                    errors.append(f"{where}: missing key {key!r}")
                    bad = True
                elif not isinstance(row[key], kind) or isinstance(row[key], bool):
                    errors.append(f"{where}: {key!r} has the wrong type ({type(row[key]).__name__})")
                    bad = True
                elif isinstance(row[key], str) and not row[key].strip():
                    errors.append(f"{where}: {key!r} is empty")
                    bad = True
            unknown = set(row) - set(KEYS)
            if unknown:
                errors.append(f"{where}: unknown keys {sorted(unknown)}")
            if bad:
                continue
            row["_where"] = where
            rows.append(row)

            name = row["file"]
            if name not in sources:
                candidates = [args.corpus / name, args.corpus / "gov-work-reports" / name]
                path = next((p for p in candidates if "/" not in name and p.is_file()), None)
                sources[name] = Source(path) if path else None
            source = sources[name]
            if source is None:
                errors.append(f"{where}: file {name!r} not found in {args.corpus} or its gov-work-reports/")
                continue

            sentence, figure = row["sentence"], row["figure"]
            if sentence not in source.text:
                errors.append(f"{where}: sentence not found verbatim in {name}: {sentence[:60]!r}…")
            elif not source.whole_sentence(sentence):
                errors.append(f"{where}: sentence is not a whole sentence of {name}: {sentence[:60]!r}…")
            if not occurrences(figure, sentence):
                errors.append(f"{where}: figure {figure!r} not in its sentence (as a whole number)")

            try:
                values, unit = parse_figure(figure)
            except FigureError as error:
                errors.append(f"{where}: {error}")
                values, unit = [], ""
            if values:
                if not any(math.isclose(row["value"], v, rel_tol=1e-9, abs_tol=1e-9) for v in values):
                    shown = " or ".join(f"{v:g}" for v in values)
                    errors.append(f"{where}: value {row['value']} does not match figure {figure!r} (= {shown})")
                if len(values) > 1:
                    notes["range bounds"] += 1
            if row["unit"][:1] in ("万", "亿"):
                errors.append(f"{where}: unit {row['unit']!r} carries a scale; put it in value")
            if unit:
                if row["unit"] != unit:
                    errors.append(f"{where}: unit {row['unit']!r} but the figure {figure!r} is written in {unit!r}")
            elif values:
                notes["implied units"] += 1

            if row["kind"] not in KINDS:
                errors.append(f"{where}: kind {row['kind']!r} not in {KINDS}")
            elif row["kind"] == "percent" and row["unit"] != "%":
                errors.append(f"{where}: kind percent needs unit '%', not {row['unit']!r}")
            if not re.fullmatch(r"\d{4}", row["period"]):
                errors.append(f"{where}: period {row['period']!r} is not a 4-digit year")
            elif source.year is not None:
                period = int(row["period"])
                if period > source.year:
                    errors.append(f"{where}: period {period} is after the issue year {source.year} of {name}")
                elif source.is_report and row["kind"] == "target" and period not in (source.year, source.year - 1):
                    errors.append(f"{where}: a target in the {source.year} report should refer to "
                                  f"{source.year} (or {source.year - 1}), not {period}")
                elif source.is_report and row["kind"] not in ("target", "change") and period >= source.year:
                    errors.append(f"{where}: a reported figure in the {source.year} report should refer to an "
                                  f"earlier year, not {period}")
            if row["indicator"] not in sentence:
                notes["indicators not verbatim"] += 1

    # Per sentence: completeness, no double labels, both bounds of every range.
    by_sentence: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_sentence[(row["file"], row["sentence"])].append(row)
    seen_rows = Counter(json.dumps({k: r[k] for k in KEYS}, ensure_ascii=False, sort_keys=True) for r in rows)
    for key, count in seen_rows.items():
        if count > 1:
            errors.append(f"duplicate record ×{count}: {key[:120]}")
    for (name, sentence), group in by_sentence.items():
        first = group[0]["_where"]
        covered: list[tuple[int, int]] = []
        per_figure = Counter(r["figure"] for r in group)
        for figure, count in per_figure.items():
            spans = occurrences(figure, sentence)
            covered.extend(spans)
            try:
                bounds = len(parse_figure(figure)[0])
            except FigureError:
                continue
            if spans and count > len(spans) * bounds:
                errors.append(f"{first}: figure {figure!r} labelled {count} times but occurs "
                              f"{len(spans)} time(s) in the sentence")
            if bounds > 1:
                for indicator in {r["indicator"] for r in group if r["figure"] == figure}:
                    labelled = {r["value"] for r in group if r["figure"] == figure and r["indicator"] == indicator}
                    try:
                        wanted = parse_figure(figure)[0]
                    except FigureError:
                        continue
                    if not all(any(math.isclose(v, w, rel_tol=1e-9) for v in labelled) for w in wanted):
                        errors.append(f"{first}: range {figure!r} ({indicator}) needs one record per bound")
        candidates = [(m.start(), m.end()) for m in DIGIT_RUN_RE.finditer(sentence)]
        candidates += [(m.start(), m.end()) for m in CN_FIGURE_RE.finditer(sentence)]
        for start, end in candidates:
            if any(s <= start and end <= e for s, e in covered):
                continue
            if non_figure(sentence, start, end):
                notes["numbers skipped as dates/ordinals/names"] += 1
                continue
            context = sentence[max(0, start - 10):end + 6].replace("\n", "⏎")
            errors.append(f"{first}: {sentence[start:end]!r} in {name} is not labelled ({context})")

    # Report.
    per_file: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        per_file[row["file"]][row["kind"]] += 1
    width = max([len(name) for name in per_file] + [5])
    header = f"{'file':<{width}}  " + "  ".join(f"{k:>7}" for k in KINDS) + "    total  sentences  periods"
    print(header)
    for name in sorted(per_file):
        counts = per_file[name]
        periods = sorted({r["period"] for r in rows if r["file"] == name})
        sentences = sum(1 for (n, _) in by_sentence if n == name)
        print(f"{name:<{width}}  " + "  ".join(f"{counts[k]:>7}" for k in KINDS)
              + f"  {sum(counts.values()):>7}  {sentences:>9}  {','.join(periods)}")
    totals = Counter(row["kind"] for row in rows)
    print(f"{'all':<{width}}  " + "  ".join(f"{totals[k]:>7}" for k in KINDS)
          + f"  {len(rows):>7}  {len(by_sentence):>9}")
    if notes:
        print("notes: " + ", ".join(f"{k} {v}" for k, v in sorted(notes.items())))
    if args.verbose:
        for (name, sentence), group in by_sentence.items():
            print(f"\n{name}: {sentence[:70]!r}…")
            for r in group:
                print(f"  {r['figure']:<16} {r['value']:>18g} {r['unit']:<4} {r['kind']:<7} {r['period']}  {r['indicator']}")
    if errors:
        print(f"\n{len(errors)} error(s):", file=sys.stderr)
        print("\n".join(errors), file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
