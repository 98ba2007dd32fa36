#!/usr/bin/env bash
# verto and PEFT + transformers on one GPT-2 directory in the same run, alternating:
#   bench/lora_compare.sh BUILD MODEL_DIR [ROUNDS] [options of lora_bench]
# Each round prints verto's JSON line, then the peer's.
set -euo pipefail
build=$1 model=$2 rounds=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
for _ in $(seq 1 "$rounds"); do
    OMP_NUM_THREADS=${BENCH_THREADS:-2} "$build/bench/lora_bench" --model "$model" "$@"
    python3 "$(dirname "$0")/lora_peer.py" --model "$model" "$@"
done
