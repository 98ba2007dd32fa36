#!/usr/bin/env python3
"""The reference side of tests/scripts/test_qa_cli.sh for one fine-tuned
question-answering directory: transformers loads it as
AutoModelForQuestionAnswering (no missing or unexpected keys); its start and
end logits, each feature run alone and unpadded as verto runs it, go through
run_qa's evaluation (utils_qa's postprocessing rewritten in
tests/ref/gen_squad.py) and through the question-answering pipeline's answer
(select_starts_ends from transformers, the rest as gen_squad.pipeline_case).

Usage: qa_reference.py MODEL_DIR SQUAD.json EVAL.json PREDICTIONS.json PREDICT.jsonl [THRESHOLD]
  EVAL.json         verto eval --json's output
  PREDICTIONS.json  verto eval --predictions's {id: text}
  PREDICT.jsonl     verto predict's answers to SQUAD.json's questions, in order
  THRESHOLD         the --null-score-diff-threshold eval ran with (default 0)
Exit status 1 with the first difference."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
import gen_squad  # noqa: E402
from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: E402
from transformers.pipelines.document_question_answering import select_starts_ends  # noqa: E402

model_dir, squad_path, eval_path, preds_path, predict_path = sys.argv[1:6]
threshold = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
cfg = json.load(open(os.path.join(model_dir, "tokenizer_config.json")))
max_len, stride, max_answer, v2 = cfg["model_max_length"], cfg["doc_stride"], cfg["max_answer_length"], cfg[
    "version_2_with_negative"]
model, info = AutoModelForQuestionAnswering.from_pretrained(model_dir, output_loading_info=True)
assert not info["missing_keys"] and not info["unexpected_keys"], info
model.eval()
tok = AutoTokenizer.from_pretrained(model_dir)
squad = json.load(open(squad_path))
rows = [{"id": p["qas"][0]["id"], "question": p["qas"][0]["question"], "context": p["context"]}
        for art in squad["data"] for p in art["paragraphs"]]
data_v2 = squad["version"].startswith("v2")


def logits(enc, j):
    ids = torch.tensor([enc["input_ids"][j]])
    kw = {"token_type_ids": torch.tensor([enc["token_type_ids"][j]])} if model.config.type_vocab_size > 1 else {}
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
    return out.start_logits[0].numpy(), out.end_logits[0].numpy()


# ---- eval: run_qa's features, utils_qa's predictions, the official scores
enc = gen_squad.tokenize(tok, rows, max_len, stride, False)
feats = [logits(enc, j) for j in range(len(enc["input_ids"]))]
preds, nbest, diffs = gen_squad.postprocess(rows, enc["overflow_to_sample_mapping"], gen_squad.validation_offsets(enc, False),
                                            [s for s, _ in feats], [e for _, e in feats], data_v2, max_len=max_answer,
                                            threshold=threshold)
got = json.load(open(preds_path))
# logits agree within ~1e-6, so an n-best choice may flip only between near-equal scores, and a v2 choice of
# the null answer only where the null score minus the best one is that near the threshold
flips = [k for k in preds if preds[k] != got[k]]
for k in flips:
    scores = sorted((c["start_logit"] + c["end_logit"] for c in nbest[k]), reverse=True)
    near_threshold = data_v2 and abs(diffs[k] - threshold) < 1e-4
    assert near_threshold or (len(scores) > 1 and scores[0] - scores[1] < 1e-4), (k, preds[k], got[k], scores[:3])
answered = sum(1 for v in got.values() if v)
print(f"  eval predictions: {len(preds) - len(flips)} of {len(preds)} equal to run_qa's on transformers' logits"
      f"{f' ({len(flips)} near-ties)' if flips else ''}; {answered} answered, {len(got) - answered} empty")
ref = gen_squad.evaluate_v2(squad["data"], got) if data_v2 else gen_squad.evaluate_v1(squad["data"], got)
verto_eval = json.load(open(eval_path))
for k, v in ref.items():
    assert abs(verto_eval[k] - v) < 1e-9, (k, verto_eval[k], v)
print(f"  eval figures equal the official script's logic on its predictions: {ref}")

# ---- predict: the question-answering pipeline's answer
answers = [json.loads(l) for l in open(predict_path)]
assert len(answers) == len(rows)
worst = 0.0
for r, a in zip(rows, answers):
    e = tok(r["question"], r["context"], truncation="only_second", max_length=max_len, stride=stride,
            return_token_type_ids=True, return_overflowing_tokens=True, return_offsets_mapping=True)
    cands, min_null = [], 1000000
    for j in range(len(e["input_ids"])):
        p_mask = [int(s != 1) for s in e.sequence_ids(j)]
        for c in np.nonzero(np.array(e["input_ids"][j]) == tok.cls_token_id)[0]:
            p_mask[c] = 0
        s, t = logits(e, j)
        starts, ends, scores, min_null = select_starts_ends(s[None], t[None], p_mask, np.ones((1, len(s)), dtype=np.int64), min_null,
                                                            12, v2, max_answer)
        enc_j = e[j]
        for a0, b0, sc in zip(starts, ends, scores):
            try:
                x = enc_j.word_to_chars(enc_j.token_to_word(a0), sequence_index=1)[0]
                y = enc_j.word_to_chars(enc_j.token_to_word(b0), sequence_index=1)[1]
            except Exception:
                x, y = enc_j.offsets[a0][0], enc_j.offsets[b0][1]
            text = r["context"][x:y]
            same = next((c for c in cands if c["answer"].lower() == text.lower()), None)
            if same:
                same["score"] += sc.item()
            else:
                cands.append({"score": sc.item(), "start": x, "end": y, "answer": text})
    if v2:
        cands.append({"score": float(min_null), "start": 0, "end": 0, "answer": ""})
    cands.sort(key=lambda c: c["score"], reverse=True)
    best = cands[0]
    if (best["answer"], best["start"], best["end"]) != (a["answer"], a["start"], a["end"]):
        assert len(cands) > 1 and cands[0]["score"] - cands[1]["score"] < 1e-5 * cands[0]["score"], (r["id"], a, cands[:2])
        continue
    worst = max(worst, abs(best["score"] - a["score"]) / best["score"])
    assert worst < 1e-4, (r["id"], a, best)
answered = sum(1 for a in answers if a["answer"])
print(f"  predict answers equal the pipeline's on transformers' logits ({answered} answered, {len(answers) - answered}"
      f" empty); scores within {worst:.2g} relative")
