#!/usr/bin/env python3
"""Reference statistics for `verto prepare-pretraining` (test_pretrain_data).

An independent Python implementation of the create_pretraining_data
algorithm (written from its description: per-document target length with
short_seq_prob, A/B chunking, random next sentence from another document with
the unused lines put back, random front/back truncation, 80/10/10 masking),
run on tests/data/pretrain/sotu_sample.txt tokenized by transformers'
BertTokenizerFast with the repository's uncased vocabulary. It runs RUNS
times with different seeds and writes, for every statistic, the mean and the
standard deviation across runs to OUT/pretrain_stats.json; the C test checks
that verto's single run lies within 4 standard deviations (of the difference).
Also writes the corpus' document count and token total, which must match
exactly.

Usage: gen_pretrain_stats.py OUT_DIR"""
import json
import os
import random
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "tests", "data", "pretrain", "sotu_sample.txt")
VOCAB_DIR = os.path.join(ROOT, "tests", "data", "tokenizer", "uncased")

MAX_SEQ = 128
DUPE = 10
SHORT_P = 0.1
MLM_P = 0.15
MAX_PRED = 20
RUNS = 40
BINS = [5, 16, 32, 64, 96, 128, 129]  # histogram of n_tokens: [5,16) [16,32) ... [96,128) [128]


def read_documents(tok):
    docs, cur, lines = [], [], []
    with open(CORPUS, encoding="utf-8") as f:
        raw = f.read().split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    stripped = [line.strip() for line in raw]
    nonblank = [s for s in stripped if s]
    ids = tok(nonblank, add_special_tokens=False)["input_ids"]
    it = iter(ids)
    for s in stripped:
        if not s:
            if cur:
                docs.append(cur)
            cur = []
            continue
        t = next(it)
        if t:
            cur.append(list(t))
    if cur:
        docs.append(cur)
    return docs


def pair_from_document(docs, di, rng, out):
    """Instances of docs[di]: list of (a_tokens, b_tokens, is_random_next)."""
    doc = docs[di]
    limit = MAX_SEQ - 3
    target = limit
    out["passes"] += 1
    if rng.random() < SHORT_P:
        target = rng.randint(2, limit)
        out["short_passes"] += 1
    res = []
    chunk, length, i = [], 0, 0
    while i < len(doc):
        chunk.append(doc[i])
        length += len(doc[i])
        if i == len(doc) - 1 or length >= target:
            split = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            a = [t for seg in chunk[:split] for t in seg]
            b = []
            if len(chunk) == 1 or rng.random() < 0.5:
                rand_next = True
                if len(chunk) == 1:
                    out["forced"] += 1
                want_b = target - len(a)
                other = di
                for _ in range(10):
                    other = rng.randint(0, len(docs) - 1)
                    if other != di:
                        break
                od = docs[other]
                for j in range(rng.randint(0, len(od) - 1), len(od)):
                    b += od[j]
                    if len(b) >= want_b:
                        break
                i -= len(chunk) - split
            else:
                rand_next = False
                b = [t for seg in chunk[split:] for t in seg]
            while len(a) + len(b) > limit:
                longer = a if len(a) > len(b) else b
                if rng.random() < 0.5:
                    del longer[0]
                else:
                    longer.pop()
            res.append((a, b, rand_next))
            chunk, length = [], 0
        i += 1
    return res


def mask(tokens, rng, cls, sep, mask_id, vocab_size, out):
    cands = [k for k, t in enumerate(tokens) if t not in (cls, sep)]
    rng.shuffle(cands)
    n_pred = min(MAX_PRED, max(1, int(round(len(tokens) * MLM_P))))
    chosen = cands[:n_pred]  # single-token groups: no skipping
    for k in chosen:
        if rng.random() < 0.8:
            out["as_mask"] += 1
        elif rng.random() < 0.5:
            out["as_keep"] += 1
        else:
            rng.randint(0, vocab_size - 1)
            out["as_random"] += 1
    return len(chosen)


def one_run(docs, seed, ids):
    rng = random.Random(seed)
    order = list(range(len(docs)))
    rng.shuffle(order)
    docs = [docs[k] for k in order]
    c = {k: 0 for k in ("passes", "short_passes", "forced", "as_mask", "as_keep", "as_random")}
    lengths, rand, masked, cand = [], 0, 0, 0
    for _ in range(DUPE):
        for di in range(len(docs)):
            for a, b, rn in pair_from_document(docs, di, rng, c):
                n = len(a) + len(b) + 3
                lengths.append(n)
                rand += rn
                masked += mask([ids["cls"]] + a + [ids["sep"]] + b + [ids["sep"]], rng, ids["cls"], ids["sep"],
                               ids["mask"], ids["vocab"], c)
                cand += n - 3
    n = len(lengths)
    hist = [sum(1 for x in lengths if BINS[k] <= x < BINS[k + 1]) / n for k in range(len(BINS) - 1)]
    split = c["as_mask"] + c["as_keep"] + c["as_random"]
    stats = {
        "instances": n,
        "mean_length": sum(lengths) / n,
        "random_next": rand / n,
        "forced_random_next": c["forced"] / n,
        "short_target_passes": c["short_passes"] / c["passes"],
        "masked_fraction": masked / cand,
        "masked_per_instance": masked / n,
        "as_mask": c["as_mask"] / split,
        "as_keep": c["as_keep"] / split,
        "as_random": c["as_random"] / split,
    }
    for k, h in enumerate(hist):
        stats["hist_%d" % k] = h
    return stats


def main(out_dir):
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(VOCAB_DIR)  # vocab.txt + tokenizer_config.json (uncased)
    ids = {"cls": tok.cls_token_id, "sep": tok.sep_token_id, "mask": tok.mask_token_id, "vocab": len(tok.get_vocab())}
    docs = read_documents(tok)
    runs = [one_run(docs, 1000 + r, ids) for r in range(RUNS)]
    result = {
        "runs": RUNS,
        "max_seq_length": MAX_SEQ,
        "dupe_factor": DUPE,
        "short_seq_prob": SHORT_P,
        "masked_lm_prob": MLM_P,
        "max_predictions": MAX_PRED,
        "bins": BINS,
        "documents": len(docs),
        "corpus_tokens": sum(len(s) for d in docs for s in d),
        "corpus_segments": sum(len(d) for d in docs),
        "mean": {k: statistics.fmean(r[k] for r in runs) for k in runs[0]},
        "sd": {k: statistics.stdev(r[k] for r in runs) for k in runs[0]},
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "pretrain_stats.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
