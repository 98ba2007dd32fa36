#!/usr/bin/env python3
"""PyTorch's side of bench/gpt2_bench.c: the same training step (labels= loss
+ backward, dropout as the config says, train mode) and greedy decoding
(generate(do_sample=False) with the KV cache, eos ignored) on the same model
directory and ids, on BENCH_THREADS threads (default 2). One JSON line."""
import json
import os
import sys
import time

import torch
from transformers import GPT2LMHeadModel


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    model = GPT2LMHeadModel.from_pretrained(args["--model"])
    B, T = int(args.get("--batch", 8)), int(args.get("--seq", 128))
    P, N, reps = int(args.get("--prompt", 16)), int(args.get("--new", 64)), int(args.get("--repeats", 5))
    V = model.config.vocab_size
    ids = torch.tensor([(i * 7919 + 17) % V for i in range(B * T)]).reshape(B, T)
    train, decode = [], []
    for r in range(-1, reps):
        model.train()
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            model.generate(input_ids=ids[:1, :P], attention_mask=torch.ones(1, P, dtype=torch.long), do_sample=False,
                           max_new_tokens=N, min_new_tokens=N, pad_token_id=0)
        t2 = time.perf_counter()
        if r >= 0:
            train.append(t1 - t0)
            decode.append(t2 - t1)
    train.sort()
    decode.sort()
    print(json.dumps({"engine": "pytorch", "batch": B, "seq": T, "train_step_s": round(train[len(train) // 2], 4),
                      "loss": round(out.loss.item(), 6), "prompt": P, "new": N,
                      "decode_s": round(decode[len(decode) // 2], 4),
                      "decode_tokens_per_s": round(N / decode[len(decode) // 2], 1)}))


if __name__ == "__main__":
    main()
