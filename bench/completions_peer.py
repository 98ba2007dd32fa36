#!/usr/bin/env python3
"""Throughput of a running `verto serve` /v1/completions: the same N requests
(greedy, max_tokens M, prompts of different lengths) sent one at a time, then
by N concurrent clients; prints one JSON line with generated tokens/s of each.

Usage: completions_peer.py PORT [--clients 16] [--max-tokens 64]"""
import argparse
import json
import threading
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--clients", type=int, default=16)
ap.add_argument("--max-tokens", type=int, default=64)
a = ap.parse_args()
url = f"http://127.0.0.1:{a.port}/v1/completions"
words = "the quick brown fox jumps over the lazy dog and then it runs into the forest".split()
bodies = [{"prompt": " ".join(words[: 3 + i % 12]) * (1 + i % 3), "max_tokens": a.max_tokens, "temperature": 0}
          for i in range(a.clients)]


def post(b):
    req = urllib.request.Request(url, json.dumps(b).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as f:
        return json.loads(f.read())["usage"]["completion_tokens"]


post(bodies[0])  # warm-up
t0 = time.perf_counter()
seq_tokens = sum(post(b) for b in bodies)
seq_s = time.perf_counter() - t0
got = [0] * len(bodies)
threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, post(bodies[i]))) for i in range(len(bodies))]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
con_s = time.perf_counter() - t0
print(json.dumps({"requests": len(bodies), "max_tokens": a.max_tokens, "one_at_a_time_s": round(seq_s, 3),
                  "one_at_a_time_tokens_per_s": round(seq_tokens / seq_s, 1), "concurrent_s": round(con_s, 3),
                  "concurrent_tokens_per_s": round(sum(got) / con_s, 1)}))
