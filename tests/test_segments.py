"""Adding files as segments (qa.append, qa.segments): what is indexed is never written again, and the index
loaded from segments equals the index built in one go (same rows, vectors, BM25 scores, facts, frequencies)."""

import json
import shutil

import numpy as np
import pytest

from qa.append import MAX_SEGMENTS
from qa.embed import HashEmbedder
from qa.generations import current_generation
from qa.store import BulletinIndex
from qa.tokens import tokenize
from qa.update import update_index

from data_files import copy_gov_reports, gov_report_years, seed_corpus

QUERIES = ("全区社会工作者持证人数", "国内生产总值增长", "就业 城镇 新增", "2024年 赤字率", "社区 志愿服务")


@pytest.fixture
def staging(tmp_path):
    """Six government work reports and the seed bulletin (two offices), outside the corpus folder."""
    folder = tmp_path / "staging"
    files = copy_gov_reports(folder, gov_report_years()[-6:])
    seed = seed_corpus(tmp_path / "seed")
    return [*files, *sorted(seed.iterdir())]


def manifest_of(index_dir):
    return json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))


def assert_same_index(one: BulletinIndex, other: BulletinIndex) -> None:
    """Two indexes that answer alike: every stored part equal, row for row."""
    assert one.chunks == other.chunks
    assert list(one.bulletins) == list(other.bulletins) and one.bulletins == other.bulletins
    assert one.file_hashes == other.file_hashes
    assert np.array_equal(one.vectors(), other.vectors())
    for query in QUERIES:
        tokens = [t for t in tokenize(query) if t in one.bm25.vocab_dict]
        assert set(tokens) == {t for t in tokens if t in other.bm25.vocab_dict}
        assert np.allclose(one.bm25_scores(tokens), other.bm25_scores(tokens), rtol=1e-6, atol=1e-6)
    assert list(one.facts()) == list(other.facts())
    assert one.text_frequency() == other.text_frequency()


def build_in_one_go(files, tmp_path, embedder):
    corpus = tmp_path / "fresh-corpus"
    corpus.mkdir()
    for path in files:
        shutil.copy(path, corpus / path.name)
    index, _ = update_index(corpus, tmp_path / "fresh-index", embedder, progress=False)
    return BulletinIndex.load(tmp_path / "fresh-index", embedder)


def add_and_update(files, corpus, index_dir, embedder, **options):
    """Copy files into the corpus folder (made if missing) and bring the index up to date."""
    corpus.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, corpus / path.name)
    return update_index(corpus, index_dir, embedder, progress=False, **options)


def test_added_files_become_segments_and_load_as_one_index(staging, tmp_path):
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    add_and_update(staging[:3], corpus, index_dir, embedder)
    first = current_generation(index_dir)
    inodes = {p.name: p.stat().st_ino for p in first.iterdir() if p.is_file() and p.name != "manifest.json"}
    index, report = add_and_update(staging[3:5], corpus, index_dir, embedder)  # two new files: one new segment
    assert sorted(report.files_added) == sorted(p.name for p in staging[3:5])
    assert len(report.files_unchanged) == 3
    assert report.chunks_total == len(index.chunks)
    segments = manifest_of(index_dir)["segments"]
    assert len(segments) == 2 and segments[0] == f"seg-{first.name}"
    # the files indexed before were linked, not written again (and outlive the generation they came from)
    kept = current_generation(index_dir) / segments[0]
    assert not first.exists()
    assert {p.name: p.stat().st_ino for p in kept.iterdir() if p.is_file()} == inodes
    assert_same_index(index, build_in_one_go(staging[:5], tmp_path, embedder))
    assert manifest_of(index_dir)["counts"] == manifest_of(tmp_path / "fresh-index")["counts"]


def test_a_change_after_adding_compacts_into_one_segment(staging, tmp_path):
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    add_and_update(staging[:2], corpus, index_dir, embedder)
    add_and_update(staging[-1:], corpus, index_dir, embedder)
    assert len(manifest_of(index_dir)["segments"]) == 2
    edited = corpus / staging[0].name
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\n补充：新增就业岗位12万个。\n", encoding="utf-8")
    index, report = update_index(corpus, index_dir, embedder, progress=False)
    assert report.files_changed == [edited.name]
    assert report.chunks_embedded <= 2  # the vectors of unchanged chunk texts are kept across segments
    assert "segments" not in manifest_of(index_dir)
    assert_same_index(index, build_in_one_go([edited, staging[1], staging[-1]], tmp_path, embedder))


def test_too_many_segments_are_compacted_and_nothing_is_re_embedded(staging, tmp_path, monkeypatch):
    import qa.append

    monkeypatch.setattr(qa.append, "MAX_SEGMENTS", 3)
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    counts = []
    for path in staging[:5]:
        shutil.copy(path, corpus / path.name)
        index, report = update_index(corpus, index_dir, embedder, progress=False)
        assert report.files_added == [path.name]
        assert report.chunks_embedded <= len([c for c in index.chunks if c.file == path.name])
        counts.append(len(manifest_of(index_dir).get("segments", ["."])))
    assert counts == [1, 2, 3, 1, 2]
    assert MAX_SEGMENTS >= 3
    assert_same_index(index, build_in_one_go(staging[:5], tmp_path, embedder))


def test_refused_and_duplicate_new_files_leave_the_segments_alone(staging, tmp_path):
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(staging[0], corpus / staging[0].name)
    update_index(corpus, index_dir, embedder, progress=False)
    before = current_generation(index_dir).name
    (corpus / "empty.md").write_text("", encoding="utf-8")
    shutil.copy(staging[0], corpus / ("copy-" + staging[0].name))
    index, report = update_index(corpus, index_dir, embedder, progress=False)
    assert set(report.files_refused) == {"empty.md", "copy-" + staging[0].name}
    assert report.refusals["copy-" + staging[0].name].code == "duplicate"
    assert current_generation(index_dir).name == before  # nothing new: nothing written
    shutil.copy(staging[1], corpus / staging[1].name)  # a good file beside the bad ones
    index, report = update_index(corpus, index_dir, embedder, progress=False)
    assert report.files_added == [staging[1].name] and len(report.files_refused) == 2
    assert len(manifest_of(index_dir)["segments"]) == 2
    assert sorted(index.bulletins) == sorted([staging[0].name, staging[1].name])


def test_the_cli_update_does_not_load_the_index(staging, tmp_path, monkeypatch):
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(staging[0], corpus / staging[0].name)
    update_index(corpus, index_dir, embedder, progress=False)
    shutil.copy(staging[1], corpus / staging[1].name)

    def no_load(*args, **kwargs):
        raise AssertionError("loaded")

    monkeypatch.setattr(BulletinIndex, "load", no_load)
    index, report = update_index(corpus, index_dir, embedder, progress=False, open_index=False)
    assert index is None and report.files_added == [staging[1].name]


def test_an_index_of_format_1_is_read_and_added_to(staging, tmp_path):
    """An index written before segments (format 1: its files in the generation folder) is one segment: it loads
    as it is, and adding a file links it in as the first segment; nothing is embedded again."""
    embedder = HashEmbedder()
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(staging[0], corpus / staging[0].name)
    built, _ = update_index(corpus, index_dir, embedder, progress=False)
    path = current_generation(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "format_version": 1}), encoding="utf-8")
    assert BulletinIndex.load(index_dir, embedder).chunks == built.chunks
    index, report = update_index(corpus, index_dir, embedder, progress=False)  # nothing new: nothing written
    assert report.chunks_embedded == 0 and manifest_of(index_dir)["format_version"] == 1
    shutil.copy(staging[1], corpus / staging[1].name)
    index, report = update_index(corpus, index_dir, embedder, progress=False)
    assert report.chunks_embedded == len({c.embed_text for c in index.chunks if c.file == staging[1].name})
    assert manifest_of(index_dir)["format_version"] == 2 and len(manifest_of(index_dir)["segments"]) == 2
    assert_same_index(index, build_in_one_go(staging[:2], tmp_path, embedder))
