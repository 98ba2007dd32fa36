#!/usr/bin/env python3
"""transformers' generate() (greedy, its KV cache, eos ignored) at batch 1 on
the ids bench/generate_bench.c uses: a P-token prompt, N new tokens, median of
the repeats after a warm-up, one JSON line.

--precision bf16 loads the weights in bfloat16 (torch_dtype=torch.bfloat16):
transformers then computes in bf16 throughout.

Usage: generate_peer.py --model DIR [--prompt 128 --new 128 --repeats 3 --precision fp32|bf16]"""
import argparse
import json
import os
import time

import torch
from transformers import GPT2LMHeadModel

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--prompt", type=int, default=128)
ap.add_argument("--new", type=int, default=128)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
a = ap.parse_args()
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
dtype = torch.bfloat16 if a.precision == "bf16" else torch.float32
model = GPT2LMHeadModel.from_pretrained(a.model, torch_dtype=dtype).eval()
V = model.config.vocab_size
ids = torch.tensor([[(i * 7919 + 17) % V for i in range(a.prompt)]])
times = []
for r in range(-1, a.repeats):
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, use_cache=True,
                             max_new_tokens=a.new, min_new_tokens=a.new, pad_token_id=0)
    if r >= 0:
        times.append(time.perf_counter() - t0)
times.sort()
med = times[len(times) // 2]
print(json.dumps({"engine": "transformers", "precision": a.precision, "prompt": a.prompt, "new": a.new, "generated": out.shape[1] - a.prompt,
                  "generate_s": round(med, 4), "tokens_per_s": round(a.new / med, 1)}))
