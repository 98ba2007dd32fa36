#!/usr/bin/env bash
# Fine-tuning on packed batches (the default) against the same build's
# --padded-batches, in the same run, on texts of a real length mix:
#   bench/packed_finetune_compare.sh BUILD [ROUNDS] [CONFIG] [MAX_SEQ_LENGTH] [TRAIN_ROWS]
#
# The data: the State of the Union task (scripts/make_sotu_task.py from
# ../shared/data; passages of 4 sentences, split by president), its first
# TRAIN_ROWS (default 1000) training passages and 200 dev passages. The model:
# `verto init --config CONFIG` (default mini) with the uncased WordPiece
# vocabulary of tests/data. Each round fine-tunes one epoch (batch 32, the
# same seed and order) packed, then padded, with OMP_NUM_THREADS=BENCH_THREADS
# (default 2), and prints the training throughput each run logs (real tokens
# per second: the same tokens in both), their ratio, the wall times of the
# whole commands (loading, the dev evaluation and saving included) and the
# padded batches' cells against the real tokens (the work padding adds).
set -euo pipefail
build=$1 rounds=${2:-3} config=${3:-mini} len=${4:-128} rows=${5:-1000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=${BENCH_THREADS:-2}
verto=$build/verto

python3 "$root/scripts/make_sotu_task.py" --out "$tmp/sotu" >/dev/null
head -n "$rows" "$tmp/sotu/train.jsonl" >"$tmp/train.jsonl"
head -n 200 "$tmp/sotu/dev.jsonl" >"$tmp/dev.jsonl"
vocab=$root/tests/data/tokenizer/uncased/vocab.txt
"$verto" init --config "$config" --tokenizer "$vocab" -o "$tmp/init" >/dev/null
python3 - "$tmp/train.jsonl" "$vocab" "$len" <<'PY'
import json, random, sys
from tokenizers import BertWordPieceTokenizer
path, vocab, L = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = BertWordPieceTokenizer(vocab, lowercase=True)
lens = [min(len(tok.encode(json.loads(l)["text"]).ids), L) for l in open(path)]
idx = list(range(len(lens)))
random.Random(0).shuffle(idx)  # (random batches of 32, as fine-tuning draws them)
cells = sum(max(lens[j] for j in idx[i:i + 32]) * len(idx[i:i + 32]) for i in range(0, len(idx), 32))
print(f"{len(lens)} training texts, {sum(lens)} tokens at most {L} each (mean {sum(lens) / len(lens):.0f}); "
      f"padded batches of 32 hold {cells} cells: {cells / sum(lens):.2f}x the real tokens")
PY
echo "model: $config (verto init), max_seq_length $len, batch 32, 1 epoch; $threads threads;" \
     "CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"

run() { # label [flag] -> "wall tokens_per_sec"
    local TIMEFORMAT="%R" t
    t=$( { time OMP_NUM_THREADS=$threads "$verto" finetune --init "$tmp/init" --train "$tmp/train.jsonl" \
             --dev "$tmp/dev.jsonl" -o "$tmp/$1" --epochs 1 --batch-size 32 --max-seq-length "$len" ${2:-} \
             >"$tmp/$1.log" 2>&1; } 2>&1 )
    local rate
    rate=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "tokens_per_sec" in l]; print(r[-1]["tokens_per_sec"])' "$tmp/$1/metrics.jsonl")
    echo "$(echo "$t" | tail -1) $rate"
}
for r in $(seq 1 "$rounds"); do
    read -r wp tp <<<"$(run packed)"
    read -r wd td <<<"$(run padded --padded-batches)"
    echo "round $r: packed ${tp} tokens/s (${wp} s), padded ${td} tokens/s (${wd} s): speed-up" \
         "$(awk -v a="$tp" -v b="$td" 'BEGIN {printf "%.2f", a / b}')x in training," \
         "$(awk -v a="$wd" -v b="$wp" 'BEGIN {printf "%.2f", a / b}')x wall; load average $(cut -d' ' -f1 /proc/loadavg)"
done
