#!/usr/bin/env bash
# DP-SGD pretraining step against the non-private one and against the exact
# path (each sequence's gradient alone), in one run, alternating.
#   bench/dp_pretrain_compare.sh VERTO MODEL_DIR SHARDS [BATCH] [STEPS] [ROUNDS]
# MODEL_DIR: a BertForPreTraining directory; SHARDS: prepare-pretraining's
# output. Every run is `verto pretrain` with --batch-size BATCH for STEPS
# steps (default 16, 12); DP with noise 1, C 1 and --dp-sampling shuffle, so
# every DP run reads the same fixed-size batches. A run's time a step is read
# from its metrics.jsonl between its third step and its last (start-up and
# the first steps' allocations left out). Prints each round, then the medians
# and the ratios.
set -euo pipefail
verto=${1:?usage: $0 VERTO MODEL_DIR SHARDS [BATCH] [STEPS] [ROUNDS]}
model=${2:?model directory}
shards=${3:?shards directory}
batch=${4:-16} steps=${5:-12} rounds=${6:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dp=(--dp-noise-multiplier 1 --dp-max-grad-norm 1 --dp-sampling shuffle)

per_step() {
    python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if "elapsed_s" in r and r.get("loss") is not None]
a, b = rows[2], rows[-1]
print(f"{(b['elapsed_s'] - a['elapsed_s']) / (b['step'] - a['step']):.4f}")
PY
}

for round in $(seq "$rounds"); do
    for path in plain fast exact; do
        extra=()
        [ "$path" != plain ] && extra=("${dp[@]}")
        [ "$path" = exact ] && extra+=(--dp-exact)
        "$verto" pretrain --init "$model" --data "$shards" -o "$tmp/$path" --steps "$steps" --batch-size "$batch" \
            --lr 1e-4 --log-every 1 --seed 1 "${extra[@]}" > "$tmp/$path.log" 2>&1 || { cat "$tmp/$path.log"; exit 1; }
        s=$(per_step "$tmp/$path/metrics.jsonl")
        echo "$s" >> "$tmp/$path.times"
        echo "round $round: $path $s s/step"
    done
done
python3 - "$tmp" <<'PY'
import statistics, sys
m = {p: statistics.median(float(x) for x in open(f"{sys.argv[1]}/{p}.times")) for p in ("plain", "fast", "exact")}
print(f"median s/step: non-private {m['plain']:.3f}, DP fast {m['fast']:.3f}, DP exact {m['exact']:.3f}")
print(f"DP fast / non-private {m['fast'] / m['plain']:.2f}x, DP exact / non-private {m['exact'] / m['plain']:.2f}x, "
      f"exact / fast {m['exact'] / m['fast']:.2f}x")
PY
