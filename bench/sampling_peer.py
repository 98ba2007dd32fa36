#!/usr/bin/env python3
"""The peer of bench/sampling_bench.c: transformers' logits processors and the
draw (torch.multinomial on the softmax; greedy: torch.argmax) on one (1, V)
row, in generate()'s order, single thread. Prints one JSON line: per
configuration the median microseconds per call.

Usage: sampling_peer.py [--vocab V] [--context N] [--repeats R]"""
import argparse
import json
import time

import torch
from transformers.generation.logits_process import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor,
                                                    TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(1, a.vocab, generator=g) * 2
    ids = torch.randint(0, a.vocab, (1, a.context), generator=g)
    configs = {
        "greedy_penalty": (False, [RepetitionPenaltyLogitsProcessor(1.2)]),
        "top_k50": (True, [TopKLogitsWarper(50)]),
        "top_p0.9": (True, [TopPLogitsWarper(0.9)]),
        "all": (True, [RepetitionPenaltyLogitsProcessor(1.2), TemperatureLogitsWarper(0.8), TopKLogitsWarper(40),
                       TopPLogitsWarper(0.92)]),
    }
    out = {"bench": "sampling_peer", "torch": torch.__version__, "vocab": a.vocab, "context": a.context,
           "repeats": a.repeats}
    with torch.inference_mode():
        for name, (sample, procs) in configs.items():
            chain = LogitsProcessorList(procs)
            times = []
            for _ in range(a.repeats):
                x = logits.clone()  # outside the clock, as the C side's copy
                t0 = time.perf_counter()
                s = chain(ids, x)
                tok = torch.multinomial(torch.softmax(s, -1), 1) if sample else torch.argmax(s, -1)
                times.append(time.perf_counter() - t0)
            times.sort()
            out[f"{name}_us"] = round(1e6 * times[len(times) // 2], 2)
            del tok
    print(json.dumps(out))


if __name__ == "__main__":
    main()
