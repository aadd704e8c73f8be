"""Reading one file format into text: one module a format (`text`: .md/.txt and encodings, `word`: .docx,
`pdf`, `html_page`: .html/.htm), and `grid` for tables of any format as markdown rows. The entry that checks a
file and picks the format is `qa.read.read_bulletin_file`.

What the format modules share is here: the CJK character class, how much text is sampled, sizes for people.
"""

from __future__ import annotations

import re

SAMPLE_CHARS = 200_000  # enough text to judge an encoding or a text layer
CJK = (
    "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3200-\u9fff\uf900-\ufaff"
    "\ufe30-\ufe4f\uff00-\uffef\u2018\u2019\u201c\u201d\U00020000-\U0003ffff"
)
CJK_CHAR = re.compile(f"[{CJK}]")


def human_size(size: int) -> str:
    """A byte count for people: bytes, KB or MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB".replace(".0 ", " ")
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 ", " ")
