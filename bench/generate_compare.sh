#!/usr/bin/env bash
# Generation at batch 1 (a 128-token prompt, 128 new tokens, greedy) in verto
# (bench/generate_bench.c: the vt_generate_batch path verto generate runs) and
# transformers' generate() with its KV cache (bench/generate_peer.py), in the
# same run, alternating, with the same threads, on random GPT-2-mini- and
# GPT-2-small-shaped models of GPT-2's vocabulary, at each precision listed
# (fp32: both in fp32; bf16: verto's steps read bf16 weights, transformers
# runs in bf16). Ends with the median tokens/s of each engine and the ratios.
# BENCH_THREADS (default 2) and BENCH_REPEATS (timed runs per figure after a
# warm-up, default 3) from the environment.
#   bench/generate_compare.sh [BUILD] [ROUNDS] [PRECISIONS (default "fp32")]
set -euo pipefail
build=${1:-build} rounds=${2:-2} precisions=${3:-fp32} repeats=${BENCH_REPEATS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
make -s --no-print-directory BUILD="$build" "$build/verto" "$build/bench/generate_bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/generate_tokenizer.py" "$root/tests/data/tokenizer/mixed.txt" 50257 "$work/tok.json" 2>/dev/null
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
# Both engines run on libgomp with its default waiting (spin, then sleep): on
# an idle machine that is the faster (gpt2-small, idle: verto 48.1 / 44.4
# tokens/s spinning against 30.7 / 35.1 with OMP_WAIT_POLICY=passive,
# transformers 22.5 / 19.7 against 17.6 / 19.7). On a machine shared with
# other jobs set OMP_WAIT_POLICY=passive: spinning there made each of a step's
# ~70 small parallel regions wait for a descheduled thread (gpt2-mini: 3.9
# tokens/s spinning, 86.6 passive, in the same minute).
grep -m1 "model name" /proc/cpuinfo || true
echo "threads: $OMP_NUM_THREADS, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in mini small; do
    "$build/verto" init --config "gpt2-$size" --tokenizer "$work/tok.json" --seed 1 -o "$work/$size" > /dev/null
    for _ in $(seq 1 "$rounds"); do
        for p in $precisions; do
            echo "gpt2-$size $("$build/bench/generate_bench" --model "$work/$size" --precision "$p" --repeats "$repeats")" | tee -a "$work/runs"
            echo "gpt2-$size $(python3 "$root/bench/generate_peer.py" --model "$work/$size" --precision "$p" --repeats "$repeats" 2>/dev/null)" |
                tee -a "$work/runs"
        done
    done
done
python3 - "$work/runs" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    size, rest = line.split(" ", 1)
    r = json.loads(rest)
    runs.setdefault((size, r["precision"], r["engine"]), []).append(r["tokens_per_s"])
print("median tokens/s (rounds):")
for (size, p, engine), v in sorted(runs.items()):
    print(f"  {size} {p} {engine}: {statistics.median(v):.1f} ({len(v)})")
for (size, p, engine), v in sorted(runs.items()):
    if engine != "verto":
        continue
    for q in ("fp32", "bf16"):
        peer = runs.get((size, q, "transformers"))
        if peer:
            print(f"  {size}: verto {p} / transformers {q} = {statistics.median(v) / statistics.median(peer):.2f}x")
PY
