#!/usr/bin/env python3
"""Reference logits processing from transformers for tests/unit/test_sampling.c.

Usage: gen_sampling.py OUT_DIR  -> OUT_DIR/sampling.safetensors

Each case "<name>." holds
  logits (F32, V)   seeded normal draws rounded to a grid of 1/4 (so that many
                    scores tie, at the top-k cut too; not in the "_cont" cases),
                    a few set to -inf in some
  context (I32)     the sequence so far (prompt + generated), with repeats
  opts (F32, 5)     do_sample (1), temperature, top_k, top_p, repetition_penalty
  out (F32, V)      the scores after transformers.generation.logits_process'
                    RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                    TopKLogitsWarper, TopPLogitsWarper (min_tokens_to_keep 1),
                    in generate()'s order, each only when its option is on
  argmax (I32, 1)   torch.argmax of the repetition-penalised scores (greedy)
  tie_cut (I32, 1)  1 when top-p kept some but not all tokens of the score at
                    its cut: which of those survive follows torch.sort's
                    unspecified order among ties, so the test compares their
                    number only
  chi2_limit (F64, 1) chi2.ppf(1 - 1e-6, kept - 1): the bound for the C test's
                    goodness of fit of 200000 draws (a correct sampler exceeds
                    it once in a million seeds)
Draws whose top-p cumulative sums (float64) come within 1e-6 of 1 - top_p are
redrawn: there float32 rounding in torch (softmax in float32, its cumulative
sum accumulated in double and stored as float32, errors ~1e-8) and verto's
double sums could decide differently.
"""
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from scipy.stats import chi2
from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

# name: (V, do_sample, temperature, top_k, top_p, repetition_penalty, n_inf, context length)
CASES = {
    "penalty": (1000, 0, 1.0, 0, 1.0, 1.3, 0, 300),
    "penalty_sampling": (1000, 1, 1.0, 0, 1.0, 0.7, 0, 50),
    "temperature": (1000, 1, 0.7, 0, 1.0, 1.0, 0, 10),
    "top_k": (1000, 1, 1.0, 50, 1.0, 1.0, 0, 10),
    "top_k1": (500, 1, 1.0, 1, 1.0, 1.0, 0, 10),
    "top_p": (1000, 1, 1.0, 0, 0.9, 1.0, 0, 10),
    "top_p_small": (1000, 1, 1.0, 0, 0.05, 1.0, 0, 10),
    "top_p_ties": (200, 1, 1.0, 0, 0.5, 1.0, 0, 10),
    "all_gpt2": (50257, 1, 0.8, 40, 0.92, 1.2, 0, 200),
    "all_gpt2_wide": (50257, 1, 1.3, 0, 0.6, 1.1, 0, 200),
    "all_small_inf": (37, 1, 0.9, 20, 0.9, 1.5, 5, 30),
    "sample_small": (37, 1, 0.8, 12, 0.95, 1.2, 3, 20),
    "top_p_cont": (50257, 1, 1.0, 0, 0.9, 1.0, 0, 10),
    "all_cont": (50257, 1, 0.7, 100, 0.8, 1.3, 0, 100),
}


def process(logits, context, do_sample, temperature, top_k, top_p, penalty):
    ids = torch.tensor(context, dtype=torch.long)[None]
    s = torch.tensor(logits)[None]
    if penalty != 1.0:
        s = RepetitionPenaltyLogitsProcessor(penalty)(ids, s)
    argmax = int(torch.argmax(s[0]))
    if do_sample:
        if temperature != 1.0:
            s = TemperatureLogitsWarper(temperature)(ids, s)
        if top_k:
            s = TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1)(ids, s)
        if top_p < 1.0:
            pre_p = s.clone()
            s = TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1)(ids, s)
            return s[0].numpy(), argmax, pre_p[0].numpy()
    return s[0].numpy(), argmax, None


def near_cut(pre_p, top_p):
    """Does a float64 ascending cumulative softmax come within 1e-6 of 1 - top_p?"""
    x = np.sort(pre_p.astype(np.float64))
    x = x[np.isfinite(x)]
    p = np.exp(x - x.max())
    cum = np.cumsum(p / p.sum())
    return np.min(np.abs(cum - (1 - top_p))) < 1e-6


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    out = {}
    for name, (V, do_sample, temp, top_k, top_p, pen, n_inf, n_ctx) in CASES.items():
        while True:
            scale = 1.0 if name != "top_p_ties" else 0.5
            logits = rng.normal(0, 2, V) * scale
            if not name.endswith("_cont"):  # "_cont": continuous scores, no ties
                logits = np.round(logits * 4) / 4
            logits = logits.astype(np.float32)
            if n_inf:
                logits[rng.choice(V, n_inf, replace=False)] = -np.inf
            context = rng.integers(0, min(V, 60), n_ctx).astype(np.int32)  # ids below 60: repeats
            res, argmax, pre_p = process(logits, context, do_sample, temp, top_k, top_p, pen)
            if pre_p is None or not near_cut(pre_p, top_p):
                break
        kept = np.isfinite(res)
        tie_cut = 0
        if pre_p is not None:
            cut = res[kept].min()
            group = pre_p == cut
            tie_cut = int(kept[group].sum() != group.sum())
        if name == "top_p_ties":
            assert tie_cut, "the ties case must cut through a group of equal scores; change the seed"
        opts = np.array([do_sample, temp, top_k, top_p, pen], dtype=np.float32)
        k = int(kept.sum())
        fields = {"logits": logits, "context": context, "opts": opts, "out": res.astype(np.float32),
                  "argmax": np.array([argmax], np.int32), "tie_cut": np.array([tie_cut], np.int32),
                  "chi2_limit": np.array([chi2.ppf(1 - 1e-6, max(k - 1, 1))], np.float64)}
        for key, v in fields.items():
            out[f"{name}.{key}"] = np.ascontiguousarray(v)
    save_file(out, str(out_dir / "sampling.safetensors"))


if __name__ == "__main__":
    main()
