#!/usr/bin/env python3
"""Train the sentence scorer of reading questions (qa/evidence.py) on DRCD and write qa/sentence_scorer.json.

    pip install zhconv        # optional training dependency: DRCD is in traditional characters
    python eval/train_sentence_scorer.py --drcd ../shared/data/drcd

DRCD (Delta Reading Comprehension Dataset, traditional-Chinese Wikipedia, CC BY-SA 3.0) is converted to
simplified characters, and its paragraphs are indexed as a corpus, as the CMRC check does. Each reading
question (who, what, when, why — figure questions are answered by their figure, not by this scorer) is asked
through the product's own retrieval and clause scoring; the first READING_DEPTH sentences it judges become
rows of `qa.evidence.FEATURES`, labelled by whether the sentence holds a gold answer. A logistic regression
(L2, Newton's method, deterministic; the seed only fixes the order of rows) is fitted on the first
--train-paragraphs paragraphs of DRCD_dev and checked on the first --valid-paragraphs of DRCD_test. The CMRC
2018 trial set is never read here: it is for measuring.

The threshold of the gate (answer a reading question whose best sentence is at least this probable) is the
lowest at which the answers it adds on the validation set are as often right as the lexical rule's answers.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))


def collect(assistant, questions: dict[str, list[dict]]) -> list[dict]:
    """Per reading question: its feature rows, labels, lexical verdict and the text of each sentence."""
    from qa.candidates import ANSWER_THRESHOLD
    from qa.question import READING_KINDS, analyse, effective_question
    from qa.answerer import EXTRACTION_DEPTH
    from qa.evaluate import squash
    from qa.evidence import features
    from qa.retrieve import retrieve
    from qa.synonyms import expand

    reader = assistant.answerer
    reader.sentence_scoring = "semantic"  # cosines computed; the choice is made here, not by the reader
    found = []
    for name, qs in sorted(questions.items()):
        for question in qs:
            _, _, effective = effective_question(question["question"], [], date.today())
            parsed = analyse(reader.without_places(effective))
            if parsed.kind not in READING_KINDS:
                continue
            searched = expand(effective)
            vector = reader.embedder.embed_queries([searched])[0]
            hits = retrieve(reader.index, reader.embedder, searched, k=EXTRACTION_DEPTH, method="hybrid",
                            query_vector=vector)
            candidates = reader.scorer.by_meaning(parsed, reader.scorer.candidates(parsed, hits), vector)
            if not candidates:
                found.append({"file": name, "question": question["question"], "rows": [], "labels": [],
                              "lexical_answers": False})
                continue
            chosen, evidence = reader.sentence_evidence(parsed, candidates, hits, vector)
            golds = [squash(g) for g in question["answers"] if g.strip()]
            labels = [int(any(g in squash(e.text) for g in golds)) for e in evidence]
            found.append({"file": name, "question": question["question"], "rows": features(parsed.text, evidence),
                          "labels": labels, "lexical": [e.lexical for e in evidence],
                          "cosine": [e.cosine for e in evidence],
                          "lexical_answers": candidates[0].lexical >= ANSWER_THRESHOLD})
    return found


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with an L2 penalty on the weights (not the bias)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    theta = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ theta))
        gradient = design.T @ (p - y) + penalty @ theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta[1:], float(theta[0])


def choose(records: list[dict], score) -> list[tuple[float, int]]:
    """Per question with candidates: (best score, whether the best-scored sentence holds the answer)."""
    chosen = []
    for record in records:
        if not record["rows"]:
            chosen.append((-1e9, 0))
            continue
        scores = [score(record, i) for i in range(len(record["rows"]))]
        best = max(range(len(scores)), key=lambda i: scores[i])
        chosen.append((scores[best], record["labels"][best]))
    return chosen


def dataset(drcd: Path, split: str, paragraphs: int, cache: Path):
    """The assistant over a DRCD split's first `paragraphs` paragraphs (simplified), and its questions."""
    from qa.assistant import Assistant
    from qa.evaluate import cmrc_corpus
    from squad_misses import simplified_copy

    source = simplified_copy(drcd / f"DRCD_{split}.json", cache / "squad-sources", paragraphs)
    index_dir = cache / f"squad-{source.stem}"
    questions = cmrc_corpus(source, index_dir.parent / (index_dir.name + "-corpus"))
    assistant = Assistant.open(index_dir, corpus_dir=index_dir.parent / (index_dir.name + "-corpus"), progress=False)
    return assistant, questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drcd", type=Path, default=ROOT.parent / "shared" / "data" / "drcd")
    parser.add_argument("--train-paragraphs", type=int, default=600)
    parser.add_argument("--valid-paragraphs", type=int, default=0,
                        help="validate on DRCD_test's first N paragraphs; 0 (default): on held-out DRCD_dev articles")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bqa-eval")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "qa" / "sentence_scorer.json")
    args = parser.parse_args(argv)

    from qa.evidence import FEATURES, SentenceScorer

    started = time.perf_counter()
    records = {}
    splits = (("dev", args.train_paragraphs),) + ((("test", args.valid_paragraphs),) if args.valid_paragraphs else ())
    for split, paragraphs in splits:
        store = args.cache / f"scorer-rows-{split}-{paragraphs}.pkl"
        if store.exists():
            records[split] = pickle.loads(store.read_bytes())
            continue
        assistant, questions = dataset(args.drcd, split, paragraphs, args.cache)
        records[split] = collect(assistant, questions)
        store.write_bytes(pickle.dumps(records[split]))
        print(f"{split}: {len(records[split])} reading questions collected in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    collected = time.perf_counter() - started

    if "test" in records:
        train, valid = records["dev"], records["test"]
        validated_on = f"DRCD_test first {args.valid_paragraphs} paragraphs"
    else:  # hold out whole articles: the last third of the training paragraphs, by article id
        articles = sorted({record["file"].split("-")[0] for record in records["dev"]})
        held = set(articles[len(articles) * 2 // 3:])
        train = [r for r in records["dev"] if r["file"].split("-")[0] not in held]
        valid = [r for r in records["dev"] if r["file"].split("-")[0] in held]
        validated_on = f"DRCD_dev, the {len(held)} articles of the last third by id (not trained on)"
    rows = [(row, label) for record in train for row, label in zip(record["rows"], record["labels"])]
    random.Random(args.seed).shuffle(rows)
    x = np.array([row for row, _ in rows], dtype=float)
    y = np.array([label for _, label in rows], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    fitting = time.perf_counter()
    weights, bias = fit((x - mean) / scale, y, l2=args.l2)
    fitted = time.perf_counter() - fitting

    # The hand-weighted semantic signal (lexical + w · cosine) gets its weight on the training split too.
    def semantic(weight):
        return lambda record, i: record["lexical"][i] + weight * ((record["cosine"][i] or 0) - max(c or 0 for c in record["cosine"]))

    grid = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]
    semantic_weight = max(grid, key=lambda w: sum(hit for _, hit in choose(train, semantic(w))))
    scorer = SentenceScorer(tuple(float(w) for w in weights), bias, tuple(float(m) for m in mean),
                            tuple(float(s) for s in scale), 0.5)

    def learned(record, i):
        return scorer.probability(record["rows"][i])

    def lexical(record, i):
        return record["lexical"][i]

    # The gate: the lowest threshold whose added answers are as often right as the lexical rule's answers.
    base = [(record["lexical_answers"], hit) for record, (_, hit) in zip(valid, choose(valid, learned))]
    lexical_precision = np.mean([hit for answers, (_, hit) in zip([r["lexical_answers"] for r in valid],
                                                                   choose(valid, lexical)) if answers] or [0])
    learned_choice = choose(valid, learned)
    threshold = 0.5
    for candidate in np.arange(0.05, 0.96, 0.05):
        added = [hit for (probability, hit), record in zip(learned_choice, valid)
                 if probability >= candidate and not record["lexical_answers"]]
        if added and np.mean(added) >= lexical_precision:
            threshold = round(float(candidate), 2)
            break
    scorer = SentenceScorer(scorer.weights, scorer.bias, scorer.mean, scorer.scale, threshold)

    report = {}
    for label, split in (("train", train), ("validation", valid)):
        n = len(split)
        report[label] = {
            "reading_questions": n,
            "sentence_hit@1 lexical": round(sum(h for _, h in choose(split, lexical)) / n, 4),
            f"sentence_hit@1 semantic (w={semantic_weight})": round(sum(h for _, h in choose(split, semantic(semantic_weight))) / n, 4),
            "sentence_hit@1 learned": round(sum(h for _, h in choose(split, learned)) / n, 4),
            "gold in any candidate": round(sum(any(r["labels"]) for r in split) / n, 4),
            "answered lexical gate": round(sum(r["lexical_answers"] for r in split) / n, 4),
            "answered learned gate": round(sum(r["lexical_answers"] or p >= threshold
                                               for r, (p, _) in zip(split, choose(split, learned))) / n, 4),
        }
    del base
    payload = {**scorer.to_json(),
               "semantic_weight": semantic_weight,
               "trained_on": f"DRCD_dev first {args.train_paragraphs} paragraphs, simplified with zhconv "
                             f"(reading questions of the first two thirds of its articles)",
               "validated_on": validated_on,
               "rows": int(len(y)), "positives": int(y.sum()), "seed": args.seed, "l2": args.l2,
               "seconds": {"collect": round(collected, 1), "fit": round(fitted, 2)},
               "report": report}
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(payload, ensure_ascii=False, indent=1))
    for name, weight in zip(FEATURES, weights):
        print(f"{name:14} {weight:+.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
