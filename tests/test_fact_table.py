"""The grouped fact table (qa.facts.FactTable) finds exactly what a scan of every fact finds."""

import json
import shutil
from pathlib import Path

from qa.embed import HashEmbedder
from qa.facts import FactTable
from qa.trend import asked_indicator, find_facts
from qa.update import update_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def test_grouped_lookup_equals_a_scan_of_every_fact(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS / "gov-work-reports", corpus)
    index, _ = update_index(corpus, tmp_path / "index", HashEmbedder(), progress=False)
    table = index.facts()
    assert isinstance(table, FactTable) and len(table) > 3000
    plain = list(table)  # a plain list has no grouping: find_facts scans it fact by fact
    asked = [json.loads(line)["question"] for name in ("gov-reports.jsonl", "shangjie-08.jsonl")
             for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = {asked_indicator(question) for question in asked} | {"国内生产总值", "城镇新增就业", "赤字率", "粮食"}
    found_any = 0
    for query in sorted(queries):
        for options in ({}, {"series": "政府工作报告", "year_from": 2010, "year_to": 2020}, {"kinds": ("target",)}):
            expected = find_facts(plain, query, **options)
            assert find_facts(table, query, **options) == expected, (query, options)
            found_any += bool(expected)
    assert found_any > 20
