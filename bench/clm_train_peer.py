#!/usr/bin/env python3
"""PyTorch's side of bench/clm_train_bench.c: the same optimizer step
(GPT2LMHeadModel(input_ids, labels=input_ids), backward, clip_grad_norm_(1.0),
torch.optim.AdamW without decay on biases and LayerNorms, as transformers'
Trainer groups them) on the same model directory and ids, on BENCH_THREADS
threads (default 2); --precision bf16 runs the forward under
torch.autocast("cpu", torch.bfloat16). One JSON line."""
import contextlib
import json
import os
import statistics
import sys
import time

import torch
from transformers import GPT2LMHeadModel


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    model = GPT2LMHeadModel.from_pretrained(args["--model"])
    model.train()
    B, T, steps = int(args.get("--batch", 8)), int(args.get("--seq", 256)), int(args.get("--steps", 5))
    bf16 = args.get("--precision", "fp32") == "bf16"
    V = model.config.vocab_size
    ids = torch.tensor([(i * 7919 + 17) % V for i in range(B * T)]).reshape(B, T)
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not ("bias" in n or "ln_" in n)], "weight_decay": 0.01},
              {"params": [p for n, p in named if "bias" in n or "ln_" in n], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-4, eps=1e-8)
    times = []
    for r in range(-1, steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if r >= 0:
            times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - c.n_positions * c.n_embd
    flops = 6 * n * B * T + 12 * c.n_layer * T * c.n_embd * B * T
    print(json.dumps({"engine": "torch", "precision": "bf16" if bf16 else "fp32", "batch": B, "seq": T,
                      "step_ms": round(1e3 * s, 2), "tokens_per_sec": round(B * T / s, 1),
                      "gflops": round(flops / s * 1e-9, 2), "loss": round(loss.item(), 6),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
