"""A fresh clone collects every test with nothing beside it: no `../shared`, nothing installed anew.

`git clone` copies only committed files, so this checks the committed state (HEAD), not the working tree:
a fixture a test reads but nobody committed makes it fail. Collection only, so it takes seconds; the full
run in a fresh clone is README's set-up command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^(\d+)(?:/\d+)? tests? collected\b.*$", re.MULTILINE)
MIN_TESTS = 300


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def in_checkout(folder: Path, *command: str) -> subprocess.CompletedProcess:
    """command run in folder with folder first on the import path, so its own `qa` and tests are the ones used."""
    path = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run([sys.executable, *command], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)


def collect(folder: Path) -> tuple[list[str], str]:
    """`python -m pytest --collect-only -q` in folder: (the test ids, the summary line); fails on any error."""
    result = in_checkout(folder, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"collection in {folder} failed:\n{output[-4000:]}"
    summary = SUMMARY.search(result.stdout)
    assert summary, output[-4000:]
    assert "error" not in summary.group(0) and "ERROR" not in output, output[-4000:]
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(ids) == int(summary.group(1)), summary.group(0)
    return ids, summary.group(0)


def test_a_fresh_clone_collects_every_test_without_shared_data(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    head = git("rev-parse", "HEAD", cwd=ROOT)
    if head.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout: {head.stderr.strip()}")
    clone = tmp_path / "elsewhere" / "bulletin-qa"
    cloned = git("clone", "--quiet", str(ROOT), str(clone), cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    assert git("rev-parse", "HEAD", cwd=clone).stdout == head.stdout
    assert not (clone.parent / "shared").exists()

    imported = in_checkout(clone, "-c", "import qa; print(qa.__file__)")
    assert Path(imported.stdout.strip()).parent == clone / "qa", imported.stdout + imported.stderr

    ids, summary = collect(clone)
    assert len(ids) > MIN_TESTS, summary
    if git("status", "--porcelain", cwd=ROOT).stdout.strip():
        return  # uncommitted changes may add or drop tests: only the committed state can be compared
    here, _ = collect(ROOT)
    assert ids == here, (f"the clone collects {len(ids)} tests, this checkout {len(here)}: "
                         f"{sorted(set(ids) ^ set(here))[:10]}")
