#!/usr/bin/env python3
"""verto vocab --type bpe against tokenizers' ByteLevelBPETokenizer.train in
one run: the same files, vocab_size, min_frequency and special token.

  bench/bpe_train_bench.py [--verto build/verto] [--size 30000] [--min-frequency 2] [--repeats 3] FILE...

  verto       `verto vocab --type bpe ... -o tokenizer.json FILE...` as a
              process (start-up, reading, counting, training, writing);
  tokenizers  ByteLevelBPETokenizer(add_prefix_space=False).train(files) +
              save(), timed inside a Python process (start-up not counted),
              with its default thread pool (RAYON_NUM_THREADS unset: all cores).
Wall seconds, best of --repeats; the two tokenizer.json files must be the same
bytes (the systems did the same job). Prints a table and one JSON line.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER = """
import sys, time
from tokenizers import ByteLevelBPETokenizer
out, size, mf, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
t0 = time.perf_counter()
t = ByteLevelBPETokenizer(add_prefix_space=False)
t.train(files, vocab_size=size, min_frequency=mf, special_tokens=["<|endoftext|>"], show_progress=False)
t.save(out)
print(time.perf_counter() - t0)
"""


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verto", default="build/verto")
    ap.add_argument("--size", type=int, default=30000)
    ap.add_argument("--min-frequency", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    mb = sum(os.path.getsize(f) for f in a.files) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        mine, theirs = Path(tmp) / "verto.json", Path(tmp) / "tokenizers.json"
        tv, tt = [], []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            subprocess.run([a.verto, "vocab", "--type", "bpe", "--size", str(a.size), "--min-frequency",
                            str(a.min_frequency), "--special-tokens", "<|endoftext|>", "-o", str(mine)] + a.files,
                           check=True, stdout=subprocess.DEVNULL)
            tv.append(time.perf_counter() - t0)
            r = subprocess.run([sys.executable, "-c", PEER, str(theirs), str(a.size), str(a.min_frequency)] + a.files,
                               check=True, capture_output=True, text=True)
            tt.append(float(r.stdout.strip().splitlines()[-1]))
        same = mine.read_bytes() == theirs.read_bytes()
        n_tok = len(json.loads(mine.read_text())["model"]["vocab"])
    res = {"cpu": cpu_name(), "cores": os.cpu_count(), "mb": round(mb, 2), "vocab_size": a.size, "tokens": n_tok,
           "min_frequency": a.min_frequency, "verto_s": round(min(tv), 3), "tokenizers_s": round(min(tt), 3),
           "tokenizers_over_verto": round(min(tt) / min(tv), 2), "identical_tokenizer_json": same}
    print(f"{'system':<12} {'best s':>8}   ({mb:.1f} MB, vocab {a.size} -> {n_tok} tokens, "
          f"min_frequency {a.min_frequency}; {res['cpu']}, {res['cores']} cores)")
    print(f"{'verto':<12} {min(tv):8.3f}")
    print(f"{'tokenizers':<12} {min(tt):8.3f}   ({res['tokenizers_over_verto']}x verto's time)")
    print(f"tokenizer.json identical: {same}")
    print(json.dumps(res))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
