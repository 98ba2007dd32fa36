#!/usr/bin/env bash
# Packed batches of mixed lengths against equal-length grouping, in the same run:
#   bench/packed_compare.sh NEW_BUILD OLD_BUILD [ROUNDS] [PRESET]
# NEW_BUILD's verto packs rows of any lengths into one forward pass; OLD_BUILD
# is a build of the commit before packing (it groups rows of equal length),
# e.g. `git archive 59ee6af | tar -x -C /tmp/base && make -C /tmp/base BUILD=build-dev`.
#
# The model: a random BertForSequenceClassification (transformers' init,
# torch.manual_seed(42); PRESET tiny by default: L2/H128/A2/I512, 512
# positions) with the uncased WordPiece vocabulary of tests/data, so inputs
# are truncated at 512 tokens as verto predict does. The inputs: the 237
# test emails of data/spam/test.jsonl, their real length mix. Each round runs
# `verto predict --jsonl` with the new build, then the old, with
# OMP_NUM_THREADS=BENCH_THREADS (default 2), and prints their wall and CPU
# (user + system) times, and the load average (the machine may be shared);
# the two outputs must be byte-identical (packing changes no result).
set -euo pipefail
new=$1 old=$2 rounds=${3:-3} preset=${4:-tiny}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=${BENCH_THREADS:-2}

python3 - "$tmp/model" "$preset" "$root/tests/data/tokenizer/uncased/vocab.txt" "$here" <<'PY'
import json, os, shutil, sys
sys.path.insert(0, sys.argv[4])
import torch
import transformers as tf
import peer_common as pc
out, preset, vocab = sys.argv[1:4]
torch.manual_seed(42)
cfg = pc.bert_config(preset, num_labels=2, max_position_embeddings=512)
cfg.vocab_size = sum(1 for _ in open(vocab, encoding="utf-8"))
tf.BertForSequenceClassification(cfg).save_pretrained(out)
shutil.copy(vocab, os.path.join(out, "vocab.txt"))
json.dump({"do_lower_case": True, "model_max_length": 512}, open(os.path.join(out, "tokenizer_config.json"), "w"))
PY

run() { # build label -> "wall cpu" seconds on stdout, predictions in $tmp/label.out
    local TIMEFORMAT="%R %U %S" t
    t=$( { time OMP_NUM_THREADS=$threads "$1/verto" predict --model "$tmp/model" --jsonl \
             --input "$root/data/spam/test.jsonl" >"$tmp/$2.out"; } 2>&1 )
    echo "$t" | tail -1 | awk '{printf "%.2f %.2f", $1, $2 + $3}'
}
echo "model: BERT-$preset (random), 512 positions; inputs: data/spam/test.jsonl (237 emails); $threads threads;" \
     "CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
for r in $(seq 1 "$rounds"); do
    read -r wn cn <<<"$(run "$new" packed)"
    read -r wo co <<<"$(run "$old" grouped)"
    same=identical
    cmp -s "$tmp/packed.out" "$tmp/grouped.out" || same=DIFFERENT
    echo "round $r: packed ${wn} s (CPU ${cn} s), equal-length grouping ${wo} s (CPU ${co} s):" \
         "speed-up $(awk -v a="$wo" -v b="$wn" 'BEGIN {printf "%.2f", a / b}')x wall," \
         "$(awk -v a="$co" -v b="$cn" 'BEGIN {printf "%.2f", a / b}')x CPU; predictions $same;" \
         "load average $(cut -d' ' -f1 /proc/loadavg)"
    [ "$same" = identical ] || exit 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
