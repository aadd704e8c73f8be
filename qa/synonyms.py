"""Indicator synonyms, used to expand questions for matching only, read from a documented data file.

Residents say GDP or 经济增长 where reports write 国内生产总值; CPI where they write 居民消费价格. Each line of
`qa/synonyms.tsv` maps a way people ask to the ways bulletins write, with the reason; an office adds its own
abbreviations there, not in code. Expansion adds words to what is matched; the quoted text is never changed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

SYNONYMS_FILE = Path(__file__).with_name("synonyms.tsv")


def read_synonyms(path: Path) -> dict[str, tuple[str, ...]]:
    """ASKED → written forms, from a TAB-separated file ('#' starts a comment line)."""
    table: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{path}:{number}: expected ASKED<TAB>WRITTEN[,WRITTEN…]<TAB>why, got {line!r}")
        table[fields[0].strip().lower()] = tuple(w.strip() for w in fields[1].split(",") if w.strip())
    return table


SYNONYMS: dict[str, tuple[str, ...]] = read_synonyms(SYNONYMS_FILE)


@lru_cache(maxsize=4096)  # a fact lookup expands the same question once per distinct indicator
def expand(question: str) -> str:
    """The question followed by the written forms of any synonyms it uses (lower-cased match)."""
    lowered = question.lower()
    extra = [written for asked, forms in SYNONYMS.items() if asked in lowered for written in forms
             if written not in question]
    return question if not extra else question + " " + " ".join(dict.fromkeys(extra))


def written_forms(indicator: str) -> tuple[str, ...]:
    """An asked indicator and, when it is a synonym's asked form itself, the written forms ('经济增长' →
    国内生产总值增长…). Only the whole indicator counts: '零售物价' is not '物价', nor '赤字率' '赤字'."""
    return tuple(dict.fromkeys([indicator, *SYNONYMS.get(indicator.lower(), ())]))
