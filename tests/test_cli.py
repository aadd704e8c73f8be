"""`bulletin-qa ask` fails loudly on input it cannot use: a filter date that is no date, and no question at all.

Each case is one `error: …` line on stderr, nothing on stdout and exit code 1, before any model or index is
loaded (so a wrong --index would not even be looked at)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
QUESTION = "全区社会工作者持证人数是多少？"


def ask(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python -m qa.cli ask ARGS` from cwd with the fake embedder, stdin as given (closed and empty by default)."""
    env = {**os.environ, "BULLETIN_QA_MODEL": "fake-hash", "PYTHONPATH": str(ROOT)}
    for name in ("BULLETIN_QA_INDEX", "BULLETIN_QA_CORPUS"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "qa.cli", "ask", *args], cwd=cwd, env=env, input=stdin or "",
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single `error: …` line of a failed run (and check it printed nothing else)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(("flags", "expected"), [
    (("--from", "2026-13-45"), "error: --from '2026-13-45' is not a valid date; write YYYY-MM-DD, e.g. --from 2026-02-12"),
    (("--to", "2026-02-30"), "error: --to '2026-02-30' is not a valid date; write YYYY-MM-DD, e.g. --to 2026-02-12"),
    (("--from", "2026/02/01"), "error: --from '2026/02/01' is not a valid date; write YYYY-MM-DD, e.g. --from 2026-02-12"),
    (("--from", "2026-03-01", "--to", "2026-02-01"),
     "error: --to 2026-02-01 is before --from 2026-03-01; give a range that ends on or after its start"),
], ids=["month-13", "feb-30", "slashes", "range-backwards"])
def test_a_bad_date_filter_is_one_error_line_and_exit_1(tmp_path, flags, expected):
    result = ask(tmp_path, QUESTION, *flags, "--index", str(tmp_path / "no-index"))
    assert one_error_line(result) == expected
    assert not (tmp_path / "no-index").exists()


@pytest.mark.parametrize("stdin", ["", "\n  \n\t\n"], ids=["empty", "blank-lines"])
def test_no_question_on_stdin_is_an_error(tmp_path, stdin):
    line = one_error_line(ask(tmp_path, "--json", stdin=stdin))
    assert line.startswith("error: no question:") and "standard input" in line


def test_a_good_date_filter_still_answers(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus)
    index = str(tmp_path / "index")
    inside = ask(tmp_path, QUESTION, "--from", "2026-02-01", "--to", "2026-02-28", "--index", index,
                 "--corpus", str(corpus))
    assert inside.returncode == 0, inside.stderr
    assert "434" in inside.stdout
    outside = ask(tmp_path, QUESTION, "--from", "2026-03-01", "--index", index, "--no-update")  # the issue is 02-12
    assert outside.returncode == 0 and "434" not in outside.stdout and "未找到" in outside.stdout


def test_follow_ups_read_against_the_history(tmp_path):
    """`--history` and `--conversation` give the CLI the chat's follow-ups: '那新市民驿站呢？' alone is no question
    the bulletin answers; after '全区建成了多少个友好场景？' it asks for the 新市民驿站 count."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus)
    index = ["--index", str(tmp_path / "index"), "--corpus", str(corpus)]
    first, follow_up = "全区建成了多少个友好场景？", "那新市民驿站呢？"
    with_history = ask(tmp_path, follow_up, "--history", first, "--json", *index)
    assert with_history.returncode == 0, with_history.stderr
    answer = json.loads(with_history.stdout)
    assert not answer["abstained"] and "42" in answer["answer"] and answer["effective_question"]
    talk = ask(tmp_path, "--conversation", "--json", "--no-update", *index[:2], stdin=f"{first}\n{follow_up}\n")
    assert talk.returncode == 0, talk.stderr
    answers = [json.loads(line) for line in talk.stdout.splitlines()]
    assert "38" in answers[0]["answer"] and "42" in answers[1]["answer"]
    alone = ask(tmp_path, "--json", "--no-update", *index[:2], stdin=f"{first}\n{follow_up}\n")
    assert [json.loads(line)["effective_question"] for line in alone.stdout.splitlines()] == [None, None]
