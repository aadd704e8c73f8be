"""The optional cross-encoder rerank hook (--reranker), with a small cross-encoder built here.

No reranker weights install offline, so the test builds a 2-layer BERT sequence classifier with random weights
and the bundled model's tokenizer, saves it as an ordinary local folder, and loads it the way a user's
bge-reranker or ms-marco folder would be loaded: by path. Its scores mean nothing; what is tested is the
hook — it loads, reorders the hits by its scores, and the answer keeps every promise (verbatim quotes, guard).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.assistant import _load_reranker, Assistant
from qa.embed import HashEmbedder
from qa.errors import BulletinQAError
from qa.retrieve import retrieve
from qa.update import update_index

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


@pytest.fixture(scope="module")
def cross_encoder_dir(converted_model_dir, tmp_path_factory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(converted_model_dir)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=514, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, corpus / SEED.name)
    index_dir = tmp_path_factory.mktemp("index")
    index, _ = update_index(corpus, index_dir, HashEmbedder(), progress=False)
    return corpus, index_dir, index


def test_reranker_reorders_hits_by_its_scores(cross_encoder_dir, seed_index):
    from sentence_transformers import CrossEncoder

    _, _, index = seed_index
    question = "全区社会工作者持证人数是多少？"
    hits = retrieve(index, HashEmbedder(), question, k=8)
    reranked = _load_reranker(str(cross_encoder_dir))(question, hits)
    scores = CrossEncoder(str(cross_encoder_dir), device="cpu").predict([(question, h.chunk.text) for h in hits])
    assert sorted(h.row for h in reranked) == sorted(h.row for h in hits)  # the same hits …
    assert [h.score for h in reranked] == sorted((float(s) for s in scores), reverse=True)  # … by its scores


def test_answers_with_a_reranker_keep_their_promises(cross_encoder_dir, seed_index):
    _, _, index = seed_index
    assistant = Assistant(index, HashEmbedder(), reranker=str(cross_encoder_dir))
    for question in ("全区社会工作者持证人数是多少？", "社会组织党组织覆盖率是多少？", "全区建成多少个充电桩？"):
        answer = assistant.ask(question)
        for citation in (*answer.citations, *answer.related):
            text = index.bulletins[citation.file].clean_text
            assert text[citation.start:citation.end] == citation.quote
        assert answer.abstained or answer.citations


def test_cli_takes_a_reranker_folder_and_refuses_a_bad_one(cross_encoder_dir, seed_index, tmp_path):
    corpus, index_dir, _ = seed_index
    base = [sys.executable, "-m", "qa.cli", "ask", "--index", str(index_dir), "--corpus", str(corpus),
            "--model", "fake-hash", "--json"]
    ok = subprocess.run([*base, "--reranker", str(cross_encoder_dir), "全区社会工作者持证人数是多少？"], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["question"] == "全区社会工作者持证人数是多少？"
    bad = subprocess.run([*base, "--reranker", str(tmp_path / "no-such-reranker"), "持证人数？"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "cannot load reranker" in bad.stderr and "Traceback" not in bad.stderr
    with pytest.raises(BulletinQAError, match="cannot load reranker"):
        _load_reranker(str(tmp_path / "no-such-reranker"))
