"""An index remembers its corpus folder: `ask`, `eval` and the chat update an index only from the folder it was
built from, never from the working folder's corpus/, and a wrong --index path is an error, never a build."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.embed import HashEmbedder
from qa.errors import CorpusMismatchError
from qa.corpus import recorded_corpus
from qa.generations import current_generation
from qa.store import BulletinIndex
from qa.update import update_index

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
REPORT = ROOT / "corpus" / "gov-work-reports" / "gov-work-report-2024.md"
QUESTION = "全区社会工作者持证人数是多少？"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below folder with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(index_dir: Path) -> dict:
    return json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))


def run(cwd: Path, *args: str, program: tuple[str, ...] = ("-m", "qa.cli")) -> subprocess.CompletedProcess:
    """`python -m qa.cli ARGS` (or another program) run from cwd with the fake embedder and no index/corpus env."""
    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash", "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    for name in ("BULLETIN_QA_INDEX", "BULLETIN_QA_CORPUS"):
        env.pop(name, None)
    return subprocess.run([sys.executable, *program, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


@pytest.fixture
def built(tmp_path):
    """An index built from data/corpus (the seed issue), and a working folder whose own corpus/ holds a report."""
    corpus = tmp_path / "data" / "corpus"
    corpus.mkdir(parents=True)
    shutil.copy(SEED, corpus)
    index = tmp_path / "data" / "index"
    result = run(tmp_path, "index", str(corpus), "--index", str(index))
    assert result.returncode == 0, result.stderr
    work = tmp_path / "work"
    (work / "corpus").mkdir(parents=True)
    shutil.copy(REPORT, work / "corpus")
    return corpus, index, work


def test_manifest_records_the_corpus_and_an_older_manifest_still_loads(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus)
    embedder = HashEmbedder()
    update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert manifest(tmp_path / "index")["corpus"] == {"path": str(corpus), "relative": "../corpus"}
    assert BulletinIndex.load(tmp_path / "index", embedder).corpus_dir == corpus
    assert recorded_corpus(tmp_path / "index") == corpus

    # An index written before the record: loadable, its corpus unknown, recorded by the next update.
    path = current_generation(tmp_path / "index") / "manifest.json"
    older = manifest(tmp_path / "index")
    del older["corpus"]
    path.write_text(json.dumps(older), encoding="utf-8")
    assert BulletinIndex.load(tmp_path / "index", embedder).corpus_dir is None
    assert recorded_corpus(tmp_path / "index") is None
    _, report = update_index(corpus, tmp_path / "index", embedder, progress=False)
    assert report.chunks_embedded == 0 and recorded_corpus(tmp_path / "index") == corpus


def test_update_refuses_another_corpus_unless_switched(tmp_path):
    first, other = tmp_path / "first", tmp_path / "other"
    for folder in (first, other):
        folder.mkdir()
        shutil.copy(SEED, folder)
    shutil.copy(REPORT, other)
    embedder = HashEmbedder()
    update_index(first, tmp_path / "index", embedder, progress=False)
    before = tree(tmp_path / "index")
    with pytest.raises(CorpusMismatchError, match=f"built from the corpus folder {first}, not {other}.*--switch-corpus"):
        update_index(other, tmp_path / "index", embedder, progress=False)
    assert tree(tmp_path / "index") == before
    _, report = update_index(other, tmp_path / "index", embedder, progress=False, switch_corpus=True)
    assert report.files_added == [REPORT.name] and report.files_unchanged == [SEED.name]
    assert recorded_corpus(tmp_path / "index") == other


def test_corpus_moved_together_with_its_index_is_still_its_corpus(tmp_path):
    corpus = tmp_path / "old" / "corpus"
    corpus.mkdir(parents=True)
    shutil.copy(SEED, corpus)
    update_index(corpus, tmp_path / "old" / "index", HashEmbedder(), progress=False)
    shutil.move(tmp_path / "old", tmp_path / "new")
    assert recorded_corpus(tmp_path / "new" / "index") == tmp_path / "new" / "corpus"
    _, report = update_index(tmp_path / "new" / "corpus", tmp_path / "new" / "index", HashEmbedder(), progress=False)
    assert report.files_unchanged == [SEED.name]


def test_ask_updates_only_from_the_recorded_corpus_never_the_working_folders(built):
    corpus, index, work = built
    index_before, work_before = tree(index), tree(work)
    asked = run(work, "ask", "--json", "--index", str(index), QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert "434" in json.loads(asked.stdout)["answer"]
    assert tree(index) == index_before, "ask rewrote an index whose corpus did not change"
    assert tree(work) == work_before, "ask touched the working folder (its corpus/ or a new index/)"

    # A new issue in the recorded corpus is picked up; the working folder's corpus/ still is not.
    shutil.copy(ROOT / "corpus" / "gov-work-reports" / "gov-work-report-2023.md", corpus)
    asked = run(work, "ask", "--json", "--index", str(index), QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert sorted(manifest(index)["files"]) == ["gov-work-report-2023.md", SEED.name]
    assert tree(work) == work_before


def test_explicit_other_corpus_is_an_error_that_says_how_to_proceed(built):
    corpus, index, work = built
    index_before = tree(index)
    for command in ("ask", "eval"):
        args = [QUESTION] if command == "ask" else [str(ROOT / "eval" / "shangjie-08.jsonl"), "--methods", "bm25"]
        result = run(work, command, *args, "--index", str(index), "--corpus", "corpus")
        assert result.returncode == 1, (command, result.stdout)
        assert result.stderr.splitlines() == [
            f"error: index {index} was built from the corpus folder {corpus}, not {work / 'corpus'}; to index "
            f"{work / 'corpus'}, build a new index: bulletin-qa index {work / 'corpus'} --index NEW_INDEX (or switch "
            f"this index to it: bulletin-qa index {work / 'corpus'} --index {index} --switch-corpus)"], command
    assert tree(index) == index_before
    # The same folder named explicitly is fine.
    assert run(work, "ask", QUESTION, "--index", str(index), "--corpus", str(corpus)).returncode == 0


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "empty-folder"])
def test_wrong_index_path_is_an_error_and_builds_nothing(built, exists):
    _, _, work = built
    wrong = work / "indx"
    if exists:
        wrong.mkdir()
    before = tree(work)
    state = "holds no index" if exists else "does not exist"
    for command, args in (("ask", [QUESTION]), ("eval", [str(ROOT / "eval" / "shangjie-08.jsonl")])):
        result = run(work, command, *args, "--index", str(wrong))
        assert result.returncode == 1, (command, result.stdout)
        assert result.stderr.splitlines() == [
            f"error: index folder {wrong} {state}; build an index there first with: "
            f"bulletin-qa index CORPUS --index {wrong}"], command
        assert tree(work) == before and wrong.exists() == exists, command
        assert not exists or not any(wrong.iterdir()), command


def test_app_refuses_a_missing_index_at_start(built):
    _, _, work = built
    result = run(work, "--index", "elsewhere", "--port", "1", program=(str(ROOT / "app.py"),))
    assert result.returncode == 1
    assert (f"error: index folder {work / 'elsewhere'} does not exist; build an index there first with: "
            f"bulletin-qa index CORPUS --index {work / 'elsewhere'}") in result.stderr.splitlines()
    assert not (work / "elsewhere").exists() and not (work / "index").exists()


def test_vanished_corpus_answers_from_the_index_as_it_is(built):
    corpus, index, work = built
    shutil.move(corpus, corpus.parent / "archived")
    index_before = tree(index)
    asked = run(work, "ask", "--json", "--index", str(index), QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert "434" in json.loads(asked.stdout)["answer"]
    assert asked.stderr.splitlines() == [
        f"warning: the corpus folder {corpus} that index {index} was built from no longer exists; "
        f"answering from the index as it is"]
    assert tree(index) == index_before
    assert sorted(tree(corpus.parent / "archived")) == [SEED.name]


def test_index_command_follows_the_recorded_corpus_and_switches_only_when_asked(built):
    corpus, index, work = built
    again = run(work, "index", "--index", str(index), "--json")  # no CORPUS: the recorded one, not work/corpus
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files_unchanged"] == 1 and json.loads(again.stdout)["files_added"] == 0
    refused = run(work, "index", "corpus", "--index", str(index))
    assert refused.returncode == 1 and "--switch-corpus" in refused.stderr
    switched = run(work, "index", "corpus", "--index", str(index), "--switch-corpus", "--json")
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["files_added"] == 1 and json.loads(switched.stdout)["files_removed"] == 1
    assert recorded_corpus(index) == work / "corpus"


def test_default_index_is_built_from_the_default_corpus_on_first_start(built):
    _, _, work = built
    asked = run(work, "ask", "--json", "2024年城镇新增就业多少人？")  # a fresh clone: corpus/ and no index/ yet
    assert asked.returncode == 0, asked.stderr
    assert recorded_corpus(work / "index") == work / "corpus"
    assert sorted(manifest(work / "index")["files"]) == [REPORT.name]


def test_the_default_index_folder_keeps_its_readme(built):
    """index/README.md (committed) sits in the default index folder of a fresh clone: the first start builds
    there all the same, and neither updates, --rebuild nor the clean-up of stale generations touch it."""
    _, _, work = built
    readme = work / "index" / "README.md"
    readme.parent.mkdir()
    shutil.copy(ROOT / "index" / "README.md", readme)
    original = readme.read_bytes()
    asked = run(work, "ask", "--json", "2024年城镇新增就业多少人？")  # no index yet beside the README: built
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["question"]
    assert sorted(manifest(work / "index")["files"]) == [REPORT.name]
    assert BulletinIndex.load(work / "index", HashEmbedder()).chunks
    first = current_generation(work / "index").name
    rebuilt = run(work, "index", "--rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    names = sorted(path.name for path in (work / "index").iterdir())
    assert current_generation(work / "index").name != first and first not in names
    assert names == sorted(["CURRENT", "LOCK", "README.md", current_generation(work / "index").name])
    assert readme.read_bytes() == original
