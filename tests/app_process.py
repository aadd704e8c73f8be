"""Run `python app.py` as a real server process for tests: start, wait until it answers, always stop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(root: Path, *files: Path, auth: tuple[str, str] | None = None, script: Path = ROOT / "app.py",
              env: dict[str, str] | None = None) -> SimpleNamespace:
    """Start `python app.py` (or `script`, which runs it) over a corpus of copies of `files`, with the fake
    embedder and default host; the index folder is empty, so it is a first start (built in the background).

    Returns the server (url, port, process, log, corpus, index, auth); it is not yet known to be up.
    """
    root.mkdir(parents=True, exist_ok=True)
    corpus = root / "corpus"
    corpus.mkdir()
    for file in files:
        shutil.copy(file, corpus)
    port = free_port()
    env = {**os.environ, **(env or {}), "BULLETIN_QA_MODEL": "fake-hash", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(root / "gradio-tmp")}
    for name in ("BULLETIN_QA_USERNAME", "BULLETIN_QA_PASSWORD", "BULLETIN_QA_HOST", "BULLETIN_QA_PORT"):
        env.pop(name, None)
    if auth:
        env["BULLETIN_QA_USERNAME"], env["BULLETIN_QA_PASSWORD"] = auth
    log = root / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(script), "--port", str(port), "--corpus",
                                    str(corpus), "--index", str(root / "index")],
                                   cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    return SimpleNamespace(root=root, port=port, url=f"http://127.0.0.1:{port}/", process=process, log=log,
                           corpus=corpus, index=root / "index", auth=auth)


BUILT = "answering with hybrid retrieval"  # what app.py prints when its first build is done


def wait_up(server: SimpleNamespace, seconds: float = 90, built: bool = True) -> None:
    """Poll until the server answers (200, or 401 behind a login) and, when `built`, its first build is done
    (it answers by hybrid retrieval, not by BM25 alone); fail with its log if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"app.py exited with {server.process.returncode}:\n{server.log.read_text(errors='replace')}")
        if built and BUILT not in server.log.read_text(errors="replace"):
            time.sleep(0.2)
            continue
        try:
            with urllib.request.urlopen(server.url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"app.py did not come up within {seconds} s:\n{server.log.read_text(errors='replace')}")


def stop(server: SimpleNamespace) -> None:
    """Terminate the server, killing it if it does not stop within 10 s."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@contextmanager
def running_app(root: Path, *files: Path, auth: tuple[str, str] | None = None, built: bool = True, **options):
    """A started and answering server over these files (its first build done, when `built`); stopped on exit
    whatever happens. Options go to `start_app`."""
    server = start_app(root, *files, auth=auth, **options)
    try:
        wait_up(server, built=built)
        yield server
    finally:
        stop(server)
