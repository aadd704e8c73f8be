"""Chunk invariants on the real seed bulletin and real reports."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import DEFAULT_MAX_CHARS, chunk_bulletin, split_spans
from qa.parse import parse_bulletin
from qa.read import content_hash

from data_files import gov_report

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
FIGURE = re.compile(r"\d+(?:\.\d+)?\s*%?")


def bulletins():
    text = SEED.read_text(encoding="utf-8")
    yield parse_bulletin(text, SEED.name), content_hash(text)
    for year in ("1955", "1982", "2010", "2024", "2025"):
        text = gov_report(year).read_text(encoding="utf-8")
        yield parse_bulletin(text, f"gov-{year}.md"), content_hash(text)


@pytest.mark.parametrize("bulletin,digest", list(bulletins()), ids=lambda v: getattr(v, "file", "hash"))
def test_offsets_size_and_figures(bulletin, digest):
    chunks = chunk_bulletin(bulletin, digest)
    assert chunks
    for chunk in chunks:
        assert bulletin.clean_text[chunk.start:chunk.end] == chunk.text
        assert len(chunk.text) <= DEFAULT_MAX_CHARS or chunk.kind != "body"
        assert chunk.text.strip() == chunk.text
        # a figure is never cut: every figure of the chunk is a whole figure of the clean text
        for match in FIGURE.finditer(chunk.text):
            start = chunk.start + match.start()
            end = chunk.start + match.end()
            assert not (start > 0 and bulletin.clean_text[start - 1].isdigit())
            assert not (end < len(bulletin.clean_text) and bulletin.clean_text[end].isdigit())
    ids = [chunk.chunk_id for chunk in chunks]
    assert len(set(ids)) == len(ids)
    assert ids == [chunk.chunk_id for chunk in chunk_bulletin(bulletin, digest)]  # deterministic


def test_seed_chunks_carry_provenance():
    text = SEED.read_text(encoding="utf-8")
    chunks = chunk_bulletin(parse_bulletin(text, SEED.name), content_hash(text))
    target = next(c for c in chunks if "全区持证人数达 434 人" in c.text)
    assert target.series == "上街信息" and target.issue == "8" and target.date == "2026-02-12"
    assert target.department == "区委社工部"
    assert target.section == "一、强基固本、深耕细作，基层善治迈出新步伐。"
    assert target.item == "一是建强骨干队伍"
    assert target.period == "2025"
    # the section heading opens the first item's chunk instead of standing alone
    assert target.text.startswith("一、强基固本")
    assert not any(c.text in {s for s in ("一是建强骨干队伍。",)} for c in chunks)
    assert target.citation() == "—《上街信息》第 8 期（2026-02-12）·区委社工部·一、强基固本、深耕细作…·一是建强骨干队伍·第 7 段"
    footer = next(c for c in chunks if c.kind == "footer")
    assert "责任编辑：柴亚文" in footer.text
    masthead = next(c for c in chunks if c.kind == "masthead")
    assert "第 8 期" in masthead.text


def test_embedded_text_carries_context_but_quote_is_verbatim():
    text = SEED.read_text(encoding="utf-8")
    chunks = chunk_bulletin(parse_bulletin(text, SEED.name), content_hash(text))
    second = next(c for c in chunks if c.text.startswith("二是健全治理机制"))
    assert second.embed_text.endswith(second.text)
    assert "一、强基固本" in second.embed_text.split("\n")[0]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="社区开展活动服务。，、；：1234567890.% 人个", min_size=0, max_size=900),
       st.integers(min_value=20, max_value=400))
def test_split_spans_cover_text_exactly(text, max_chars):
    spans = split_spans(text, max_chars)
    assert "".join(text[s:e] for s, e in spans) == text
    assert all(e - s <= max_chars for s, e in spans)
    assert all(s < e for s, e in spans) or text == ""
