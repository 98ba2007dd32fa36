#!/usr/bin/env python3
"""verto explain against Captum's LayerIntegratedGradients, same model, same
inputs, same threads, one after the other in one run.

usage: explain_bench.py VERTO [--model bert-small|bert-mini] [--steps 50] [--inputs 8] [--threads 2]

The model: a BertForSequenceClassification of the preset's shape (random
weights, 2 labels, the uncased vocabulary), saved with save_pretrained. The
inputs: the first N e-mails of data/spam/test.jsonl, cut to 128 tokens by both
sides. Both explain the predicted label's logit with Gauss-Legendre over
--steps points, all points in one pass (Captum's internal_batch_size = steps,
verto's --internal-batch-size = steps). verto's time is the whole command
(loading the model included); Captum's the attribute calls only (the model
already loaded) plus one forward to find the predicted label. Prints seconds
per input of each and the ratio."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import peer_common as pc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verto")
    ap.add_argument("--model", default="bert-small")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    pc.limit_threads(a.threads)
    import torch
    import transformers as tf
    from captum.attr import LayerIntegratedGradients
    from transformers.utils import logging
    logging.set_verbosity_error()
    torch.manual_seed(42)
    tmp = tempfile.mkdtemp()
    model = tf.BertForSequenceClassification(pc.bert_config(a.model.split("-")[1], num_labels=2)).eval()
    tok = tf.BertTokenizerFast("tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True, model_max_length=128)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    texts = [json.loads(l)["text"].replace("\n", " ") for l in open("data/spam/test.jsonl")][:a.inputs]
    with open(f"{tmp}/in.txt", "w") as f:
        f.write("".join(t + "\n" for t in texts))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    t0 = time.perf_counter()
    out = subprocess.run([a.verto, "explain", "--model", tmp, "--input", f"{tmp}/in.txt", "--steps", str(a.steps),
                          "--internal-batch-size", str(a.steps), "--max-seq-length", "128"],
                         capture_output=True, text=True, env=env, check=True)
    verto_s = time.perf_counter() - t0
    got = [json.loads(l) for l in out.stdout.splitlines()]
    emb = model.bert.embeddings

    def fwd(ids, types, target):
        return model(input_ids=ids, token_type_ids=types).logits[:, target]
    lig = LayerIntegratedGradients(fwd, emb)
    worst = 0.0
    t0 = time.perf_counter()
    for text, g in zip(texts, got):
        enc = tok(text, truncation=True, max_length=128, return_tensors="pt")
        ids, types = enc["input_ids"], enc["token_type_ids"]
        with torch.no_grad():
            target = int(model(**enc).logits.argmax(-1))
        special = torch.tensor(tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)).bool()
        base = torch.where(special, ids[0], torch.tensor(tok.pad_token_id)).unsqueeze(0)
        attr = lig.attribute(ids, baselines=base, additional_forward_args=(types, target), n_steps=a.steps,
                             method="gausslegendre", internal_batch_size=a.steps).sum(-1)[0]
        ref = attr.detach().double()
        worst = max(worst, float((torch.tensor(g["attributions"]) - ref).abs().max() / ref.abs().max()))
    captum_s = time.perf_counter() - t0
    n = len(texts)
    print(f"{a.model}, {n} inputs of up to 128 tokens, {a.steps} steps, {a.threads} threads: "
          f"verto {verto_s / n:.3f} s/input (whole command), Captum {captum_s / n:.3f} s/input; "
          f"verto is {captum_s / verto_s:.2f}x Captum's speed; attributions agree within {worst:.1e} of the largest")


if __name__ == "__main__":
    main()
