#!/usr/bin/env python3
"""Ask every question of a SQuAD-format file (CMRC 2018, DRCD) over its own paragraphs and say, per question,
why the first quote does or does not hold a gold answer.

    python eval/squad_misses.py ../shared/data/cmrc2018/cmrc2018_trial.json --out /tmp/cmrc.jsonl
    python eval/squad_misses.py ../shared/data/drcd/DRCD_dev.json --simplify --paragraphs 300 --out /tmp/drcd.jsonl

Causes (one per question, the first that applies):
  hit            a gold answer is inside the first quote
  abstain-*      abstained: -low (best clause under the threshold), -nolead (a figure question whose clause
                 gives no figure), -guard (the guard caught a number), -nocand (no candidate at all)
  neighbour      answered from the right paragraph, but another sentence of it holds the gold answer
  other-para     answered from another paragraph
  unquotable     answered from the right paragraph, but no single sentence holds a gold answer whole
Traditional characters (DRCD) are converted with zhconv when --simplify is given (an optional dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))


def simplified_copy(path: Path, folder: Path, paragraphs: int | None, offset: int = 0) -> Path:
    """A copy of a SQuAD-format file in simplified characters (and, with `paragraphs`, only that many)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        from zhconv import convert
    except ImportError:  # optional: traditional text is kept when the converter is not installed
        convert = None
    kept, seen = [], 0
    for article in data["data"]:
        paras = []
        for paragraph in article["paragraphs"]:
            seen += 1
            if seen <= offset or (paragraphs is not None and seen > offset + paragraphs):
                continue
            paras.append(paragraph)
        if paras:
            kept.append({**article, "paragraphs": paras})
    text = json.dumps({"version": data.get("version"), "data": kept}, ensure_ascii=False)
    if convert is not None:
        text = convert(text, "zh-cn")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}-{offset}-{paragraphs}.json"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def diagnose(assistant, name: str, question: dict, method: str = "hybrid") -> dict:
    """Answer one question and say where its gold answer is relative to the first quote."""
    from qa.candidates import ANSWER_THRESHOLD
    from qa.question import analyse, effective_question
    from qa.evaluate import squash
    from qa.figures import sentence_spans
    from qa.retrieve import retrieve
    from qa.synonyms import expand

    reader = assistant.answerer
    answer = assistant.ask(question["question"], method=method)
    golds = [squash(g) for g in question["answers"] if g.strip()]
    record = {"file": name, "question": question["question"], "answers": question["answers"],
              "abstained": answer.abstained, "answer": answer.answer, "guard_caught": list(answer.guard_caught)}
    _, _, effective = effective_question(question["question"], [], date.today())
    parsed = analyse(reader.without_places(effective))
    record["kind"] = parsed.kind
    bulletin = reader.index.bulletins.get(name)
    sentences = []
    if bulletin is not None:
        for paragraph in bulletin.paragraphs:
            sentences += sentence_spans(bulletin.clean_text, paragraph.start, paragraph.end)
        texts = [squash(bulletin.clean_text[s:e]) for s, e in sentences]
        record["gold_sentences"] = [i for i, t in enumerate(texts) if any(g in t for g in golds)]
        record["sentences"] = len(sentences)
    if not answer.abstained:
        first = answer.citations[0]
        record["quote"] = first.quote
        record["quote_file"] = first.file
        record["hit"] = any(g in squash(first.quote) for g in golds)
        if record["hit"]:
            record["cause"] = "hit"
        elif first.file != name:
            record["cause"] = "other-para"
        elif not record.get("gold_sentences"):
            record["cause"] = "unquotable"
        else:
            record["cause"] = "neighbour"
            record["quote_sentence"] = next((i for i, (s, e) in enumerate(sentences) if s <= first.start < e), None)
        return record
    record["hit"] = False
    if answer.guard_caught:
        record["cause"] = "abstain-guard"
        return record
    vector = reader.embedder.embed_queries([expand(effective)])[0] if method == "hybrid" else None
    hits = retrieve(reader.index, reader.embedder, expand(effective), k=12, method=method, query_vector=vector)
    candidates = reader.scorer.by_meaning(parsed, reader.scorer.candidates(parsed, hits), vector)
    if not candidates:
        record["cause"] = "abstain-nocand"
        return record
    best = candidates[0]
    record["best_score"] = round(best.lexical, 3)
    text = best.bulletin.clean_text
    record["best_sentence"] = text[best.sentence[0]:best.sentence[1]]
    record["best_hit"] = any(g in squash(record["best_sentence"]) for g in golds)
    record["cause"] = "abstain-low" if record["best_score"] < ANSWER_THRESHOLD else "abstain-nolead"
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="one JSON record per question")
    parser.add_argument("--simplify", action="store_true", help="convert to simplified characters (zhconv)")
    parser.add_argument("--paragraphs", type=int, default=None, help="only the first N paragraphs")
    parser.add_argument("--offset", type=int, default=0, help="skip this many paragraphs first")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bqa-eval")
    parser.add_argument("--model", default=None)
    parser.add_argument("--method", default="hybrid")
    parser.add_argument("--scoring", default="learned", help="how reading questions choose a sentence: "
                        "lexical, semantic or learned (qa.answerer.SENTENCE_SCORINGS)")
    args = parser.parse_args(argv)

    from qa.assistant import Assistant
    from qa.evaluate import cmrc_corpus

    source = args.file
    if args.simplify or args.paragraphs is not None or args.offset:
        source = simplified_copy(args.file, args.cache / "squad-sources", args.paragraphs, args.offset)
    if source == args.file:  # the same cached index as eval/run_all.py --cmrc
        from run_all import index_dir_for

        index_dir = index_dir_for(args.cache, "cmrc", source.parent, args.model, "current")
    else:
        index_dir = args.cache / f"squad-{source.stem}"
    corpus = index_dir.parent / (index_dir.name + "-corpus")
    questions = cmrc_corpus(source, corpus)
    assistant = Assistant.open(index_dir, model=args.model, corpus_dir=corpus, progress=False)
    assistant.score_sentences_by(args.scoring)
    causes: Counter = Counter()
    with args.out.open("w", encoding="utf-8") as out:
        for name, qs in sorted(questions.items()):
            for question in qs:
                record = diagnose(assistant, name, question, args.method)
                causes[record["cause"]] += 1
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    total = sum(causes.values())
    for cause, count in causes.most_common():
        print(f"{cause:16} {count:5}  {count / total:.3f}")
    print(f"{'questions':16} {total:5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
