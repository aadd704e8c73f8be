"""Many users at once: 20 chat users on a running app, questions during an index swap, two writers, readers.

The chat's `/ask` must give every user exactly what a serial `Assistant.ask` gives (the JSON is compared),
an upload must swap the index without any question seeing an error or half an update, and two processes
updating the same index folder must neither crash each other nor lose either's work. Measured latencies
are printed (whatever the capture mode) and kept in the assertion messages.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa import generations
from qa.assistant import Assistant
from qa.embed import HashEmbedder
from qa.store import BulletinIndex
from qa.update import update_index
from app_process import running_app
from data_files import copy_gov_reports

SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
QA_SET = ROOT / "eval" / "shangjie-08.jsonl"
USERS = 20
QUESTIONS_PER_USER = 10  # 200 questions in all
DEADLINE = 240  # seconds for the whole load test; a hang fails instead of blocking the suite


def show(request, text: str) -> None:
    """Print a measured result even when pytest captures output, and keep it with the test's properties."""
    request.node.user_properties.append(("result", text))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{text}", flush=True)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` over a copy of the seed with the fake embedder; (url, log), always stopped."""
    with running_app(tmp_path_factory.mktemp("load"), SEED) as app:
        yield app.url, app.log, app.process.pid


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The same corpus opened in this process: what a single user gets, asked one at a time."""
    root = tmp_path_factory.mktemp("serial")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus")
    return Assistant.open(root / "index", model="fake-hash", corpus_dir=root / "corpus", progress=False)


def workload() -> list[list[dict]]:
    """Per user, the questions it asks: the hand-checked set's questions (figures, lists, names,
    unanswerable near misses, follow-ups with their history), dealt round so users overlap."""
    rows = [json.loads(line) for line in QA_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [[rows[(user * 7 + turn * 13) % len(rows)] for turn in range(QUESTIONS_PER_USER)] for user in range(USERS)]


def test_twenty_chat_users_get_the_serial_answers(server, serial, request):
    from gradio_client import Client

    url, log, pid = server
    users = workload()
    tags = Counter(tag for questions in users for row in questions for tag in row["tags"])
    for needed in ("figure", "list", "name", "unanswerable", "follow-up"):
        assert tags[needed] >= 5, tags
    expected = {}
    for questions in users:
        for row in questions:
            key = (row["question"], tuple(row.get("history", [])))
            if key not in expected:
                expected[key] = serial.ask(row["question"], history=list(key[1])).to_json()
    # One user alone first: the latency the load is compared with.
    alone = Client(url, verbose=False, analytics_enabled=False, download_files=False, httpx_kwargs={"timeout": 60})
    single = []
    for row in users[0]:
        began = time.perf_counter()
        assert alone.predict(row["question"], row.get("history", []), api_name="/ask") == expected[
            (row["question"], tuple(row.get("history", [])))]
        single.append(time.perf_counter() - began)
    alone.close()
    start_line = threading.Barrier(USERS, timeout=120)

    def user(questions: list[dict]) -> list[tuple[tuple, dict, float]]:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                        httpx_kwargs={"timeout": 60})
        start_line.wait()  # all 20 ask at once
        done = []
        for row in questions:
            history = row.get("history", [])
            started = time.perf_counter()
            result = client.predict(row["question"], history, api_name="/ask")
            done.append(((row["question"], tuple(history)), result, time.perf_counter() - started))
        client.close()
        return done

    started = time.perf_counter()
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=USERS)
    futures = [pool.submit(user, questions) for questions in users]
    _, pending = concurrent.futures.wait(futures, timeout=DEADLINE)
    pool.shutdown(wait=not pending, cancel_futures=True)
    wall = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    assert not pending, f"{len(pending)} users still waiting after {DEADLINE} s"
    results = [item for future in futures for item in future.result()]  # re-raises any user's error
    latencies = [seconds for _, _, seconds in results]
    wrong = [key for key, result, _ in results if result != expected[key]]
    table = "\n".join([
        "| users | questions | errors | differing from serial | p50 ms | p95 ms | max ms | wall s | q/s |",
        "|---|---|---|---|---|---|---|---|---|",
        (f"| {USERS} | {len(results)} | 0 | {len(wrong)} | {percentile(latencies, 0.5) * 1000:.0f} | "
         f"{percentile(latencies, 0.95) * 1000:.0f} | {max(latencies) * 1000:.0f} | {wall:.1f} | "
         f"{len(results) / wall:.1f} |"),
        (f"| 1 (alone, before) | {len(single)} | 0 | 0 | {percentile(single, 0.5) * 1000:.0f} | "
         f"{percentile(single, 0.95) * 1000:.0f} | {max(single) * 1000:.0f} | {sum(single):.1f} | "
         f"{len(single) / sum(single):.1f} |"),
    ])
    table += (f"\nCPU during the load: server {server_cpu:.1f} s, the 20 clients (this process) {client_cpu:.1f} s, "
              f"over {wall:.1f} s on {os.cpu_count()} cores")
    show(request, f"20 concurrent chat users through gradio_client /ask (fake-hash model):\n{table}")
    assert len(results) == USERS * QUESTIONS_PER_USER >= 200
    assert not wrong, f"{len(wrong)} answers differ from serial Assistant.ask, e.g. {wrong[:3]}\n{table}"
    assert sum(result["abstained"] for _, result, _ in results) >= 20, table  # abstentions were in the mix
    assert "Traceback" not in log.read_text(errors="replace")


# ----- an upload while questions are being answered -----
SEED_QUESTIONS = ["全区社会工作者持证人数是多少？", "社会组织党组织覆盖率是多少？",
                  "哪个合唱团代表我省参加了全国合唱展演？", "全区建成多少个充电桩？"]
NEW_QUESTION = "2023年城镇新增就业多少人？"  # answered only by the report that arrives


def test_questions_during_an_index_swap_see_the_old_or_the_new_index(tmp_path, request):
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus")
    new_issue = copy_gov_reports(tmp_path / "incoming", years=["2024"])[0]
    questions = [*SEED_QUESTIONS, NEW_QUESTION]
    # Reference answers from both indexes, built aside.
    (tmp_path / "after").mkdir()
    shutil.copy(SEED, tmp_path / "after")
    shutil.copy(new_issue, tmp_path / "after")
    after = Assistant.open(tmp_path / "after-index", model="fake-hash", corpus_dir=tmp_path / "after", progress=False)
    new = {q: after.ask(q).to_json() for q in questions}
    assistant = Assistant.open(tmp_path / "index", model="fake-hash", corpus_dir=tmp_path / "corpus", progress=False)
    old = {q: assistant.ask(q).to_json() for q in questions}
    assert old[NEW_QUESTION]["abstained"] and "1244" in new[NEW_QUESTION]["answer"]

    stop = threading.Event()
    log: list[tuple[str, dict | None, float, float, str | None]] = []

    def asker(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            question = questions[turn % len(questions)]
            turn += 1
            begun = time.perf_counter()
            try:
                result, error = assistant.ask(question).to_json(), None
            except Exception as exc:  # noqa: BLE001 - recorded and failed on below
                result, error = None, repr(exc)
            log.append((question, result, begun, time.perf_counter(), error))

    threads = [threading.Thread(target=asker, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    swap_started = time.perf_counter()
    report = assistant.add_files([new_issue], progress=False)
    swap_done = time.perf_counter()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert report.files_added == [new_issue.name]

    errors = [entry for entry in log if entry[4]]
    assert not errors, errors[:3]
    mixed = [q for q, result, *_ in log if result not in (old[q], new[q])]
    assert not mixed, f"answers from neither index: {mixed[:3]}"
    during = [(q, result) for q, result, begun, ended, _ in log if begun < swap_done and ended > swap_started]
    before = [(q, r) for q, r, begun, ended, _ in log if ended < swap_started]
    afterwards = [(q, r) for q, r, begun, ended, _ in log if begun > swap_done]
    assert during and before and afterwards
    assert all(r == old[q] for q, r in before) and all(r == new[q] for q, r in afterwards)
    assert any(q == NEW_QUESTION for q, _ in afterwards)
    assert "1244" in assistant.ask(NEW_QUESTION).answer  # the new issue's figure, after the swap
    counts = Counter("old" if r == old[q] and r != new[q] else "new" if r == new[q] and r != old[q] else "same"
                     for q, r in during)
    show(request, f"index swap under load: {len(log)} answers from 4 threads, {len(during)} while add_files ran "
                  f"({swap_done - swap_started:.2f} s; old/new/identical {dict(counts)}); 0 errors, 0 mixed")


# ----- two writers, and a reader, on one index folder -----
def test_two_writers_on_one_index_neither_crash_nor_lose_work(tmp_path, request):
    years = [str(year) for year in range(2005, 2015)]
    files = copy_gov_reports(tmp_path / "staging", years=[*years, "2016"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in files[:-1]:
        shutil.copy(path, corpus)
    index = tmp_path / "index"
    update_index(corpus, index, HashEmbedder(), progress=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Writer 1: `bulletin-qa index --rebuild` in another process.
    first = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(index),
                              "--model", "fake-hash", "--json", "--rebuild"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(n.startswith(".tmp-gen-") for n in os.listdir(index)):
        assert first.poll() is None and time.monotonic() < deadline, "writer 1 never started writing"
        time.sleep(0.001)
    # Writer 2 arrives while writer 1 writes its new generation: a new report is dropped in and indexed.
    shutil.copy(files[-1], corpus)
    began = time.perf_counter()
    _, report = update_index(corpus, index, HashEmbedder(), progress=False)
    waited = time.perf_counter() - began
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0 and b"Traceback" not in err, err.decode()
    assert files[-1].name in report.files_added
    names = sorted(os.listdir(index))
    assert [n for n in names if n.startswith("gen-")] == [generations.current_generation(index).name], names
    assert not [n for n in names if n.startswith(".tmp-")], names
    loaded = BulletinIndex.load(index, HashEmbedder())
    assert set(loaded.bulletins) == {path.name for path in files}  # nothing either writer did was lost
    show(request, f"two writers: the second waited {waited:.2f} s for the first's lock, both finished, "
                  f"{len(loaded.bulletins)} reports in the index")


def test_a_reader_survives_a_writer_replacing_the_generation_it_reads(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus")
    index = tmp_path / "index"
    embedder = HashEmbedder()
    update_index(tmp_path / "corpus", index, embedder, progress=False)
    extra = copy_gov_reports(tmp_path / "corpus", years=["2024"])[0]
    real = generations.current_generation
    first: list[Path] = []

    def reader_overtaken(index_dir):
        """The reader has just read CURRENT when a writer switches it and removes the old generation."""
        folder = real(index_dir)
        if not first:
            first.append(folder)
            update_index(tmp_path / "corpus", index, embedder, progress=False)
        return folder

    monkeypatch.setattr(generations, "current_generation", reader_overtaken)
    loaded = BulletinIndex.load(index, embedder)
    assert first and not first[0].exists()  # the generation it started on is gone …
    assert extra.name in loaded.bulletins  # … and it read the one that is live now


@pytest.mark.slow
def test_readers_load_without_error_while_a_writer_rebuilds(tmp_path, request):
    files = copy_gov_reports(tmp_path / "corpus", years=[str(y) for y in range(2005, 2017)])
    index = tmp_path / "index"
    update_index(tmp_path / "corpus", index, HashEmbedder(), progress=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    loads, errors = 0, []
    for _ in range(6):
        writer = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", str(tmp_path / "corpus"), "--index",
                                   str(index), "--model", "fake-hash", "--json", "--rebuild"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while writer.poll() is None:
            try:
                assert len(BulletinIndex.load(index, HashEmbedder()).bulletins) == len(files)
                loads += 1
            except Exception as exc:  # noqa: BLE001 - counted and failed on below
                errors.append(repr(exc))
        assert writer.returncode == 0
    show(request, f"reader during 6 rebuilds: {loads} loads, {len(errors)} errors")
    assert not errors, errors[:3]
