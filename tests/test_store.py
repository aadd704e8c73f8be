"""The index on disk: round trip, incremental updates, refusals, atomic writes (real FAISS, real BM25)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.embed import HashEmbedder
from qa.errors import IndexMismatchError, IndexMissingError
from qa.generations import CURRENT_FILE, current_generation
from qa.retrieve import retrieve
from qa.store import BulletinIndex
from qa.update import update_index

from data_files import copy_gov_reports, seed_corpus

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


@pytest.fixture
def corpus(tmp_path):
    return seed_corpus(tmp_path / "corpus")


def snapshot(index_dir: Path) -> dict:
    """Every file of the index folder with its bytes."""
    return {str(p.relative_to(index_dir)): p.read_bytes() for p in sorted(index_dir.rglob("*")) if p.is_file()}


def test_round_trip(corpus, tmp_path):
    embedder = HashEmbedder()
    built, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.files_added == [SEED.name] and report.chunks_embedded == report.chunks_total > 10
    loaded = BulletinIndex.load(tmp_path / "index", embedder)
    assert loaded.chunks == built.chunks
    assert np.allclose(loaded.vectors(), built.vectors())
    assert loaded.dense.ntotal == len(loaded.chunks)
    for chunk in loaded.chunks:
        assert loaded.bulletin_of(chunk).clean_text[chunk.start:chunk.end] == chunk.text
    manifest = json.loads((current_generation(tmp_path / "index") / "manifest.json").read_text(encoding="utf-8"))
    for key in ("format_version", "package_version", "chunker_version", "tokenizer", "model", "files", "counts",
                "created", "updated"):
        assert key in manifest
    assert manifest["model"]["dimension"] == embedder.dimension
    assert manifest["files"][SEED.name]["text_sha256"]
    # both retrievers answer from the loaded index
    for method in ("bm25", "dense", "hybrid"):
        hits = retrieve(loaded, embedder, "全区持证人数", k=3, method=method)
        assert hits, method
    assert "434" in retrieve(loaded, embedder, "持证人数 434", k=1, method="bm25")[0].chunk.text


def test_rerun_without_change_embeds_nothing_and_writes_nothing(corpus, tmp_path):
    embedder = HashEmbedder()
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    before = snapshot(tmp_path / "index")
    _, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.chunks_embedded == 0
    assert report.files_unchanged == [SEED.name]
    assert snapshot(tmp_path / "index") == before


def test_reports_added_one_year_at_a_time(tmp_path):
    embedder = HashEmbedder()
    corpus = tmp_path / "corpus"
    staging = tmp_path / "staging"
    files = copy_gov_reports(staging)
    assert len(files) == 52
    corpus.mkdir()
    total = 0
    for count, path in enumerate(files[:6], start=1):
        shutil.copy(path, corpus / path.name)
        index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
        assert report.files_added == [path.name]
        assert len(report.files_unchanged) == count - 1
        new_chunks = [c for c in index.chunks if c.file == path.name]
        assert 0 < report.chunks_embedded <= len(new_chunks)
        total += len(new_chunks)
        assert report.chunks_total == total == len(index.chunks)


def test_fifty_reports_then_one_more(tmp_path):
    embedder = HashEmbedder()
    corpus = tmp_path / "corpus"
    files = copy_gov_reports(corpus)
    newest = files[-1]
    held_back = tmp_path / newest.name
    newest.rename(held_back)
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    held_back.rename(newest)
    index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.files_added == [newest.name] and len(report.files_unchanged) == 51
    assert report.chunks_embedded <= len([c for c in index.chunks if c.file == newest.name])


def test_changed_and_removed_files(corpus, tmp_path):
    embedder = HashEmbedder()
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    text = SEED.read_text(encoding="utf-8")
    (corpus / SEED.name).write_text(text.replace("全区持证人数达 434 人", "全区持证人数达 435 人"), encoding="utf-8")
    index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.files_changed == [SEED.name]
    assert report.chunks_embedded == 1  # only the edited chunk
    assert any("435 人" in c.text for c in index.chunks)
    (corpus / SEED.name).unlink()
    index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.files_removed == [SEED.name]
    assert index.chunks == []


def test_text_frequency_is_stored_and_kept_up_to_date_by_updates(corpus, tmp_path):
    """The answer step's IDF counts travel with the index: an update counts only the chunks it gains or loses,
    and the result equals counting every chunk again (the oracle)."""
    from qa.tokens import document_frequency

    embedder = HashEmbedder()
    index_dir = tmp_path / "index"
    copy_gov_reports(corpus, years=["2024", "2025"])
    text = SEED.read_text(encoding="utf-8")
    steps = [lambda: None,
             lambda: (corpus / SEED.name).write_text(text.replace("全区持证人数达 434 人", "全区持证人数达 435 人"),
                                                     encoding="utf-8"),
             lambda: (corpus / "gov-work-report-2024.md").unlink()]
    for step in steps:
        step()
        built, _ = update_index(corpus, index_dir, embedder, progress=False)
        loaded = BulletinIndex.load(index_dir, embedder)
        oracle = document_frequency(chunk.text for chunk in loaded.chunks)
        assert built.text_frequency() == oracle
        assert (current_generation(index_dir) / "text_frequency.json").is_file()
        assert loaded.text_frequency() == oracle
    # An index from before the file: the next update writes a generation with it, once.
    (current_generation(index_dir) / "text_frequency.json").unlink()
    update_index(corpus, index_dir, embedder, progress=False)
    upgraded = current_generation(index_dir)
    assert (upgraded / "text_frequency.json").is_file()
    update_index(corpus, index_dir, embedder, progress=False)
    assert current_generation(index_dir) == upgraded


def test_same_text_under_another_name_is_not_added_twice(corpus, tmp_path):
    shutil.copy(SEED, corpus / "copy-of-issue-8.md")
    index, report = update_index(corpus, tmp_path / "index", HashEmbedder(), progress=False)
    assert list(report.files_refused) == [SEED.name] or list(report.files_refused) == ["copy-of-issue-8.md"]
    assert "same text" in next(iter(report.files_refused.values()))
    assert len({c.file for c in index.chunks}) == 1


def test_bad_file_is_refused_and_index_kept_byte_for_byte(corpus, tmp_path):
    embedder = HashEmbedder()
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    before = snapshot(tmp_path / "index")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 10)
    _, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert set(report.files_refused) == {"empty.txt", "binary.txt"}
    assert snapshot(tmp_path / "index") == before


def test_a_bad_edit_keeps_the_indexed_version(corpus, tmp_path):
    embedder = HashEmbedder()
    first, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    (corpus / SEED.name).write_bytes(b"\x00\x01\x02 not a bulletin")
    index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert SEED.name in report.files_refused
    assert index.chunks == first.chunks


def test_index_built_with_another_model_is_refused(corpus, tmp_path):
    update_index(corpus, tmp_path / "index", HashEmbedder(dimension=256), progress=False)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        BulletinIndex.load(tmp_path / "index", HashEmbedder(dimension=128))


def test_index_with_another_chunker_version_is_refused(corpus, tmp_path):
    update_index(corpus, tmp_path / "index", HashEmbedder(), progress=False)
    manifest_path = current_generation(tmp_path / "index") / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["chunker_version"] = -1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="chunker_version.*bulletin-qa index"):
        BulletinIndex.load(tmp_path / "index", HashEmbedder())


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexMissingError, match="bulletin-qa index"):
        BulletinIndex.load(tmp_path / "nowhere", HashEmbedder())


def test_leftovers_of_a_crashed_write_are_cleaned_and_ignored(corpus, tmp_path):
    embedder = HashEmbedder()
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    live = (tmp_path / "index" / CURRENT_FILE).read_text(encoding="utf-8").strip()
    (tmp_path / "index" / ".tmp-gen-crashed").mkdir()
    (tmp_path / "index" / ".tmp-gen-crashed" / "chunks.jsonl").write_text("half", encoding="utf-8")
    (tmp_path / "index" / "gen-00000000T000000-deadbeef").mkdir()
    assert BulletinIndex.load(tmp_path / "index", embedder).chunks  # the live generation still loads
    (corpus / "new.md").write_text("# 新简报\n\n第 9 期\n\n社区开展活动12场。", encoding="utf-8")
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    names = sorted(p.name for p in (tmp_path / "index").iterdir())
    assert len([n for n in names if n.startswith("gen-")]) == 1 and live not in names
    assert not [n for n in names if n.startswith(".tmp-")]


def test_index_of_an_older_chunker_is_rebuilt_reusing_vectors(corpus, tmp_path, monkeypatch):
    embedder = HashEmbedder()
    first, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    manifest_path = current_generation(tmp_path / "index") / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["chunker_version"] = -1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    index, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.files_added == [SEED.name]
    assert report.chunks_embedded == 0  # same chunk texts: vectors reused
    assert index.chunks == first.chunks
    assert BulletinIndex.load(tmp_path / "index", embedder).chunks == first.chunks


def built_over_limit(limit: str, corpus, tmp_path, monkeypatch):
    """Build the seed index with a size limit lowered to 5 (the seed has ~14 chunks), then load it back."""
    import qa.dense as dense

    monkeypatch.setattr(dense, limit, 5)
    embedder = HashEmbedder()
    built, _ = update_index(corpus, tmp_path / "index", embedder, progress=False)
    return embedder, built, BulletinIndex.load(tmp_path / "index", embedder)


def test_large_indexes_switch_to_ivf_and_still_round_trip(corpus, tmp_path, monkeypatch):
    import faiss

    embedder, built, loaded = built_over_limit("EXACT_LIMIT", corpus, tmp_path, monkeypatch)  # approximate path
    assert isinstance(built.dense, faiss.IndexIVF)
    assert isinstance(loaded.dense, faiss.IndexIVF) and loaded.dense.ntotal == len(loaded.chunks)
    assert np.allclose(loaded.vector_matrix(), built.vectors())
    hits = retrieve(loaded, embedder, "2025年全区持证人数", k=3)  # the year makes it a filtered search
    assert hits


def test_mid_sized_indexes_scan_fp16_codes_and_rescore_exactly(corpus, tmp_path, monkeypatch):
    import faiss

    embedder, built, loaded = built_over_limit("FLAT_LIMIT", corpus, tmp_path, monkeypatch)  # fp16 + re-score
    assert isinstance(built.dense, faiss.IndexRefine)
    assert isinstance(loaded.dense, faiss.IndexRefine) and loaded.dense.ntotal == len(loaded.chunks)
    assert np.array_equal(loaded.vector_matrix(), built.vectors())
    exact = faiss.IndexFlatIP(embedder.dimension)
    exact.add(built.vectors())
    for question in ("全区持证人数", "社区开展活动", "志愿服务", "责任编辑"):
        query = embedder.embed_queries([question])
        assert np.array_equal(loaded.dense.search(query, 5)[1], exact.search(query, 5)[1])
    assert retrieve(loaded, embedder, "2025年全区持证人数", k=3)  # filtered: scores the float vectors


def test_the_query_side_never_imports_the_write_path():
    """Question analysis, retrieval and answering load the index (qa.store) but never the update algorithm, its
    progress reporting, the corpus scan or file reading: the two sides meet only at the stored index."""
    query_side = ["qa.answerer", "qa.retrieve", "qa.candidates", "qa.compose", "qa.question", "qa.lead", "qa.trend"]
    code = f"import sys, {', '.join(query_side)}; print(' '.join(sorted(m for m in sys.modules if m.startswith('qa.'))))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    modules = set(loaded.stdout.split())
    assert "qa.store" in modules
    assert not modules & {"qa.update", "qa.progress", "qa.corpus", "qa.read", "qa.milvus_update", "qa.build"}
