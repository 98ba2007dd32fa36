#!/usr/bin/env bash
# Causal-LM training steps of verto and PyTorch + transformers on GPT-2-shaped
# models in the same run, with the GEMM peak for MFU:
#   bench/clm_train_compare.sh BUILD [ROUNDS]   (BENCH_THREADS, default 2)
# Builds L4/H256/A4 and L6/H512/A8 (vocabulary 50257, 1024 positions, no
# dropout) with verto init, then for each model and precision alternates
# verto's and PyTorch's JSON lines ROUNDS times (batch 8, T = 256, 3 steps
# after a warm-up). MFU = model GFLOPS / gemm_peak's GFLOPS of that dtype.
set -euo pipefail
build=$1 rounds=${2:-1}
threads=${BENCH_THREADS:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=$threads BENCH_THREADS=$threads
echo "{\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\", \"threads\": $threads}"
for dt in fp32 bf16; do "$build/bench/gemm_peak" --threads "$threads" --dtype "$dt" --rounds 2 --min-ms 300; done
for shape in "4 256 4" "6 512 8"; do
    set -- $shape
    dir="$work/L$1H$2"
    printf '{"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": %d, "n_layer": %d, "n_head": %d, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}\n' "$2" "$1" "$3" > "$work/c.json"
    "$build/verto" init --config-json "$work/c.json" -o "$dir" >/dev/null
    for prec in fp32 bf16; do
        for _ in $(seq 1 "$rounds"); do
            "$build/bench/clm_train_bench" --model "$dir" --batch 8 --seq 256 --steps 3 --precision "$prec" | sed "s/^{/{\"model\": \"L$1\/H$2\", /"
            python3 "$here/clm_train_peer.py" --model "$dir" --batch 8 --seq 256 --steps 3 --precision "$prec" | sed "s/^{/{\"model\": \"L$1\/H$2\", /"
        done
    done
done
