#!/usr/bin/env bash
# /v1/completions throughput of `verto serve --max-batch 16` on a random
# GPT-2-mini-shaped model of GPT-2's vocabulary: 16 greedy requests of 64
# tokens sent one at a time, then by 16 concurrent clients (continuous
# batching), in the same run (bench/completions_peer.py).
#   bench/completions_compare.sh [BUILD] [SIZE (mini)]
set -euo pipefail
build=${1:-build} size=${2:-mini}
root=$(cd "$(dirname "$0")/.." && pwd)
make -s --no-print-directory BUILD="$build" "$build/verto"
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
python3 "$root/bench/generate_tokenizer.py" "$root/tests/data/tokenizer/mixed.txt" 50257 "$work/tok.json" 2>/dev/null
"$build/verto" init --config "gpt2-$size" --tokenizer "$work/tok.json" --seed 1 -o "$work/m" > /dev/null
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
grep -m1 "model name" /proc/cpuinfo || true
echo "threads: $OMP_NUM_THREADS"
"$build/verto" serve --model "$work/m" --port 0 --max-batch 16 2> "$work/log" &
pid=$!
port=
for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
done
echo "gpt2-$size $(python3 "$root/bench/completions_peer.py" "$port")"
