"""`python app.py` with the fake embedder slowed down: BULLETIN_QA_TEST_DELAY seconds per text it embeds.

For tests of the first start: the real background build runs (update_index, its lock, its generation), but over a
small corpus it would be done before a browser could see it; slowed, its progress can be watched.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import embed  # noqa: E402

DELAY = float(os.environ.get("BULLETIN_QA_TEST_DELAY", "0.01"))
_embed_documents = embed.HashEmbedder.embed_documents


def slowed(self, texts, progress=False):
    """The fake embedder's vectors, DELAY seconds per text later."""
    time.sleep(DELAY * len(texts))
    return _embed_documents(self, texts, progress)


embed.HashEmbedder.embed_documents = slowed

if __name__ == "__main__":
    import app

    sys.exit(app.main())
