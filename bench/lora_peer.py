#!/usr/bin/env python3
"""A LoRA fine-tuning step of GPT-2 in PEFT + transformers (the peer of bench/lora_bench.c): forward
with labels in training mode (lora_dropout 0.05), backward, AdamW on the adapter; same ids, same
rank, alpha 2r, targets c_attn, c_proj, c_fc. Prints one JSON line."""
import argparse
import json
import os
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import GPT2LMHeadModel
from transformers.utils import logging

logging.set_verbosity_error()
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--rank", type=int, default=8)
ap.add_argument("--repeats", type=int, default=5)
a = ap.parse_args()
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
base = GPT2LMHeadModel.from_pretrained(a.model, attn_implementation="sdpa")
model = get_peft_model(base, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.05, fan_in_fan_out=True,
                                        target_modules=["c_attn", "c_proj", "c_fc"], task_type="CAUSAL_LM"))
model.train()
V = base.config.vocab_size
ids = torch.tensor([(i * 7919 + 17) % V for i in range(a.batch * a.seq)]).reshape(a.batch, a.seq)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
times = []
for k in range(a.repeats + 1):
    t0 = time.perf_counter()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    if k > 0:
        times.append(time.perf_counter() - t0)
times.sort()
med = times[len(times) // 2]
n = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(json.dumps({"engine": "peft+transformers", "batch": a.batch, "seq": a.seq, "rank": a.rank, "adapter_params": n,
                  "lora_step_s": round(med, 4), "tokens_per_s": round(a.batch * a.seq / med, 1),
                  "loss": round(loss.item(), 6)}))
