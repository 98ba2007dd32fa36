#!/usr/bin/env bash
# verto and PyTorch on one GPT-2 directory in the same run, alternating:
#   bench/gpt2_compare.sh BUILD MODEL_DIR [ROUNDS] [options of gpt2_bench]
# Each round prints verto's JSON line, then PyTorch's.
set -euo pipefail
build=$1 model=$2 rounds=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
for _ in $(seq 1 "$rounds"); do
    OMP_NUM_THREADS=${BENCH_THREADS:-2} "$build/bench/gpt2_bench" --model "$model" "$@"
    python3 "$(dirname "$0")/gpt2_peer.py" --model "$model" "$@"
done
