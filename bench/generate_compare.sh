#!/usr/bin/env bash
# Generation at batch 1 (a 128-token prompt, 128 new tokens, greedy) in verto
# (bench/generate_bench.c: the vt_generate_batch path verto generate runs) and
# transformers' generate() with its KV cache (bench/generate_peer.py), in the
# same run, alternating, with the same threads, on random GPT-2-mini- and
# GPT-2-small-shaped models of GPT-2's vocabulary.
#   bench/generate_compare.sh [BUILD] [ROUNDS]
set -euo pipefail
build=${1:-build} rounds=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
make -s --no-print-directory BUILD="$build" "$build/verto" "$build/bench/generate_bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/generate_tokenizer.py" "$root/tests/data/tokenizer/mixed.txt" 50257 "$work/tok.json" 2>/dev/null
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
grep -m1 "model name" /proc/cpuinfo || true
echo "threads: $OMP_NUM_THREADS"
for size in mini small; do
    "$build/verto" init --config "gpt2-$size" --tokenizer "$work/tok.json" --seed 1 -o "$work/$size" > /dev/null
    for _ in $(seq 1 "$rounds"); do
        echo "gpt2-$size $("$build/bench/generate_bench" --model "$work/$size")"
        echo "gpt2-$size $(python3 "$root/bench/generate_peer.py" --model "$work/$size" 2>/dev/null)"
    done
done
