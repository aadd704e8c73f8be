"""Turn archives of reports into bulletin files a corpus folder can hold.

`export_gov_reports` writes the 国务院《政府工作报告》 archive (JSON lines: title, url, content, year) as one
markdown file per year with a YAML front-matter block, so the reports form a second series (政府工作报告,
issue = year) for tests, evaluation and "a new issue arrives".
"""

from __future__ import annotations

import json
from pathlib import Path

GOV_SERIES = "政府工作报告"
# Wikisource appends its licence notice to each page; it is not part of the report.
LICENCE_MARKER = "本作品是中华人民共和国的"


def gov_report_text(record: dict) -> str:
    """One report as a bulletin file: front matter (series, issue, year, title) and the report's paragraphs."""
    content = record["content"]
    if LICENCE_MARKER in content:
        content = content[: content.index(LICENCE_MARKER)]
    year = str(record["year"])
    front = "\n".join([
        "---",
        f"series: {GOV_SERIES}",
        f"issue: '{year}'",
        f"year: {year}",
        f"title: {record['title']}",
        "publisher: 国务院",
        "---",
    ])
    return f"{front}\n\n{content.strip()}\n"


def load_gov_reports(jsonl_path: Path) -> dict[str, dict]:
    """Reports by year (resolutions, which have no year, are left out)."""
    reports = {}
    with open(jsonl_path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if record.get("year"):
                    reports[str(record["year"])] = record
    return reports


def export_gov_reports(jsonl_path: Path, out_dir: Path, years: list[str] | None = None) -> list[Path]:
    """Write reports (all, or the given years) as `gov-work-report-YEAR.md` files in out_dir.

    Returns:
        The files written, in year order.
    """
    reports = load_gov_reports(jsonl_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for year in sorted(years or reports):
        path = out_dir / f"gov-work-report-{year}.md"
        path.write_text(gov_report_text(reports[year]), encoding="utf-8")
        written.append(path)
    return written
