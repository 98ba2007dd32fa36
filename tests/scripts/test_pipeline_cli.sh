#!/usr/bin/env bash
# The pipeline end to end on a tiny corpus, as a user runs it:
# vocab -> init -> prepare-pretraining -> pretrain (loss falls) -> resume
# (same losses as an uninterrupted run) -> SIGTERM (a loadable checkpoint) ->
# finetune -> eval -> predict; and the failures that must leave earlier
# outputs intact: NaN loss, unwritable output, mismatched vocabulary, bad rows.
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
data="$(pwd)/data/spam"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
ok() { echo "  ok: $1"; }
bad() { echo "  FAILED: $1"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
expect_error() { # what, fragment, command...: non-zero exit and one "error: " line containing fragment
    local what=$1 fragment=$2; shift 2
    if "$@" >out.txt 2>err.txt; then bad "$what (exit 0)"; return; fi
    if grep -q "^error: .*$fragment" err.txt; then ok "$what: $(head -c 150 err.txt)"; else bad "$what: $(cat err.txt)"; fi
}
loss_at() { sed -n "s/^{\"step\": $2, \"loss\": \([^,]*\),.*/\1/p" "$1"; }

head -120 "$data/train.jsonl" > train.jsonl
head -40 "$data/dev.jsonl" > dev.jsonl
cat > tiny.json <<'JSON'
{"architectures": ["BertForPreTraining"], "model_type": "bert", "vocab_size": 1500, "hidden_size": 64,
 "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 64,
 "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
JSON
python3 -c "
import json
for line in open('train.jsonl'):
    print(json.dumps({'text': json.loads(line)['text']}))" > corpus.jsonl

"$V" vocab --size 1500 -o vocab.txt train.jsonl >/dev/null 2>&1 || python3 -c "
import json; open('plain.txt','w').write(''.join(json.loads(l)['text'] + '\n' for l in open('train.jsonl')))"
[ -s vocab.txt ] || "$V" vocab --size 1500 -o vocab.txt plain.txt
check "vocabulary of 1500 tokens" test "$(wc -l < vocab.txt)" -eq 1500
check "init" "$V" init --config-json tiny.json --vocab vocab.txt -o init
check "prepare-pretraining" "$V" prepare-pretraining --vocab vocab.txt -o shards --jsonl --text-field text \
    --max-seq-length 64 --dupe-factor 2 --seed 7 corpus.jsonl

common=(--init init --data shards --batch-size 8 --lr 3e-3 --warmup-steps 2 --seed 3 --log-every 1 --threads 2)
check "pretrain 20 steps" "$V" pretrain "${common[@]}" -o run_a --steps 20 > pretrain_a.txt
mean_loss() { local f=$1; shift; for s in "$@"; do loss_at "$f" "$s"; done | awk '{t += $1} END {printf "%.4f", t / NR}'; }
first=$(mean_loss run_a/metrics.jsonl 1 2 3); last=$(mean_loss run_a/metrics.jsonl 18 19 20)
check "pretraining loss falls (mean of steps 1-3: $first, of 18-20: $last)" awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a - 0.3)}'
check "pretrained directory loads" "$V" summary --model run_a

# Resume: an interrupted copy of the same run continues with identical losses.
"$V" pretrain "${common[@]}" -o run_b --steps 20 --save-every 10 >/dev/null
rm -rf run_b/checkpoint-20 run_b/model.safetensors
sed -i '/"step": 1[1-9],\|"step": 20,/d' run_b/metrics.jsonl
check "resume from checkpoint-10" "$V" pretrain "${common[@]}" -o run_b --steps 20 --save-every 10 --resume
same=1
for s in $(seq 11 20); do
    [ "$(loss_at run_a/metrics.jsonl "$s")" = "$(loss_at run_b/metrics.jsonl "$s")" ] || same=0
done
check "resumed losses equal the uninterrupted run at steps 11-20" test "$same" -eq 1

# --group-by-length: batches of like-length sequences pad less than the
# sample order's, learn as well, and resume exactly too.
check "pretrain --group-by-length 8" "$V" pretrain "${common[@]}" -o run_g --steps 20 --save-every 10 \
    --group-by-length 8 > pretrain_g.txt
padding() { sed -n 's/^padding: \([0-9.]*\)% .*/\1/p' "$1"; }
check "grouped batches pad less ($(padding pretrain_g.txt)% against $(padding pretrain_a.txt)%)" awk \
    -v g="$(padding pretrain_g.txt)" -v a="$(padding pretrain_a.txt)" 'BEGIN{exit !(g != "" && a > 0 && g < a / 2)}'
g_first=$(mean_loss run_g/metrics.jsonl 1 2 3); g_last=$(mean_loss run_g/metrics.jsonl 18 19 20)
check "grouped pretraining loss falls ($g_first to $g_last)" awk -v a="$g_first" -v b="$g_last" 'BEGIN{exit !(b < a - 0.3)}'
cp -r run_g run_g2
rm -rf run_g2/checkpoint-20 run_g2/model.safetensors
sed -i '/"step": 1[1-9],\|"step": 20,/d' run_g2/metrics.jsonl
"$V" pretrain "${common[@]}" -o run_g2 --steps 20 --save-every 10 --group-by-length 8 --resume >/dev/null
same=1
for s in $(seq 11 20); do
    [ "$(loss_at run_g/metrics.jsonl "$s")" = "$(loss_at run_g2/metrics.jsonl "$s")" ] || same=0
done
check "grouped: resumed losses equal the uninterrupted run at steps 11-20" test "$same" -eq 1

# SIGTERM mid-run saves a checkpoint that loads, and exits cleanly.
"$V" pretrain "${common[@]}" -o run_c --steps 100000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"step": 3,' run_c/metrics.jsonl 2>/dev/null && break; sleep 0.2; done
kill -TERM "$pid"; wait "$pid"; rc=$?
check "SIGTERM: exit status 0 (got $rc)" test "$rc" -eq 0
ckpt=$(ls -d run_c/checkpoint-* 2>/dev/null | head -1)
check "SIGTERM: checkpoint ${ckpt:-missing} loads" "$V" summary --model "${ckpt:-none}"

# A NaN in the weights stops at step 1 with an error and writes no model.
cp -r init init_nan
python3 - <<'PY'
import torch
from safetensors.torch import load_file, save_file
w = load_file("init_nan/model.safetensors")
name = next(k for k in w if k.endswith("word_embeddings.weight"))
w[name][5, 0] = float("nan")
save_file(w, "init_nan/model.safetensors", metadata={"format": "pt"})
PY
expect_error "NaN loss" "step 1: the loss is NaN" "$V" pretrain --init init_nan --data shards -o run_nan --steps 5 --batch-size 8
check "NaN run wrote no model" test ! -e run_nan/model.safetensors

# Unwritable output, mismatched vocabulary.
touch afile
expect_error "pretrain into an unwritable directory" "afile" "$V" pretrain "${common[@]}" -o afile/out --steps 2
head -1000 vocab.txt > small_vocab.txt
"$V" init --config-json tiny.json --vocab vocab.txt -o init_other >/dev/null
cp small_vocab.txt init_other/vocab.txt
rm init_other/tokenizer.json # (it would be read first, and holds the full vocabulary)
expect_error "shards of another vocabulary" "vocabulary" "$V" pretrain --init init_other --data shards -o run_v --steps 2

# bf16: pretraining learns as fp32 does (same steps and seed; losses within
# 0.15 of fp32's at steps 18-20, where they have fallen by more than 0.3); a
# bf16 resume continues in bf16 with the uninterrupted run's losses.
check "pretrain --precision bf16" "$V" pretrain "${common[@]}" -o run_bf16 --steps 20 --precision bf16
last_bf16=$(mean_loss run_bf16/metrics.jsonl 18 19 20)
check "bf16 loss falls and tracks fp32 (fp32 $last, bf16 $last_bf16)" awk -v a="$first" -v b="$last_bf16" -v f="$last" \
    'BEGIN{d = b - f; exit !(b < a - 0.3 && d < 0.15 && d > -0.15)}'
"$V" pretrain "${common[@]}" -o run_bf16b --steps 20 --save-every 10 --precision bf16 >/dev/null
rm -rf run_bf16b/checkpoint-20 run_bf16b/model.safetensors
sed -i '/"step": 1[1-9],\|"step": 20,/d' run_bf16b/metrics.jsonl
"$V" pretrain "${common[@]}" -o run_bf16b --steps 20 --save-every 10 --resume --precision bf16 >/dev/null
same=1
for s in $(seq 11 20); do
    [ "$(loss_at run_bf16/metrics.jsonl "$s")" = "$(loss_at run_bf16b/metrics.jsonl "$s")" ] || same=0
done
check "bf16 resumed losses equal the uninterrupted bf16 run" test "$same" -eq 1
expect_error "unknown precision" "--precision must be fp32 or bf16" "$V" pretrain "${common[@]}" -o run_x --steps 2 \
    --precision fp16

# Fine-tune, evaluate, predict.
check "finetune" "$V" finetune --init run_a --train train.jsonl --dev dev.jsonl -o clf --epochs 2 --batch-size 16 \
    --lr 1e-3 --max-seq-length 64 --seed 1
check "classifier config names its labels" grep -q '"spam"' clf/config.json
check "metrics.jsonl has dev evaluations" grep -q '"eval": true, .*"dev_macro_f1"' clf/metrics.jsonl
"$V" eval --model clf --data dev.jsonl --json > eval.json
check "eval --json has accuracy, macro_f1, confusion_matrix, roc_auc" python3 -c "
import json; r = json.load(open('eval.json'))
assert {'accuracy', 'macro_f1', 'micro_f1', 'per_class', 'confusion_matrix', 'roc_auc'} <= set(r)
assert sum(map(sum, r['confusion_matrix'])) == 40"
python3 -c "import json; [print(json.loads(l)['text'][:300].replace('\n', ' ')) for l in open('dev.jsonl')]" > texts.txt
"$V" predict --model clf --input texts.txt > predictions.jsonl
check "predict: one JSON object per line with label, score, probs" python3 -c "
import json; rows = [json.loads(l) for l in open('predictions.jsonl')]
assert len(rows) == 40 and all({'label', 'score', 'probs'} <= set(r) for r in rows)
assert all(abs(sum(r['probs'].values()) - 1) < 1e-5 for r in rows)"

"$V" predict --model clf --input texts.txt --precision bf16 > predictions_bf16.jsonl
check "predict --precision bf16: probabilities within 0.02 of fp32's, same labels where fp32 is sure" python3 -c "
import json
a = [json.loads(l) for l in open('predictions.jsonl')]
b = [json.loads(l) for l in open('predictions_bf16.jsonl')]
assert len(a) == len(b) == 40
for x, y in zip(a, b):
    assert all(abs(x['probs'][k] - y['probs'][k]) < 0.02 for k in x['probs']), (x, y)
    assert x['score'] < 0.6 or x['label'] == y['label'], (x, y)"
check "finetune --precision bf16" "$V" finetune --init run_a --train train.jsonl --dev dev.jsonl -o clf_bf16 \
    --epochs 1 --batch-size 16 --lr 1e-3 --max-seq-length 64 --seed 1 --precision bf16
"$V" eval --model clf --data dev.jsonl --json --precision bf16 > eval_bf16.json
check "eval --precision bf16: accuracy within 0.05 of fp32's" python3 -c "
import json; a = json.load(open('eval.json')); b = json.load(open('eval_bf16.json'))
assert abs(a['accuracy'] - b['accuracy']) <= 0.05, (a['accuracy'], b['accuracy'])"

# Head + tail truncation (--keep-tail): recorded with the model, followed by predict.
check "finetune --keep-tail" "$V" finetune --init run_a --train train.jsonl --dev dev.jsonl -o clf_ht --epochs 1 \
    --batch-size 16 --lr 1e-3 --max-seq-length 48 --keep-tail 20 --seed 1
check "tokenizer_config.json records the length and the tail" python3 -c "
import json; c = json.load(open('clf_ht/tokenizer_config.json'))
assert c['model_max_length'] == 48 and c['keep_tail_tokens'] == 20, c"
python3 - <<'PY' > long.txt
head, tail = 'the free money and the offer ' * 8, ' you can click here to remove' * 6
print(head + 'list of business email ' * 40 + tail)       # A M Z
print(head + 'the time we have to wait ' * 40 + tail)    # A M' Z: another middle
print(head + 'list of business email ' * 40 + ' and the web site is new' * 6)  # A M Z': another end
PY
"$V" predict --model clf_ht --input long.txt > ht.jsonl
"$V" predict --model clf --input long.txt > head.jsonl
check "head + tail: the middle of a long input is cut, its end is read" python3 -c "
rows = open('ht.jsonl').read().splitlines()
assert rows[0] == rows[1] and rows[0] != rows[2], rows"
check "head only (the default): the end is cut" python3 -c "
rows = open('head.jsonl').read().splitlines()
assert rows[0] == rows[2], rows"

# Long texts read as windows (--max-windows): recorded with the model; predict
# and eval follow it; the probabilities are those of an independent reading
# with transformers' tokenizer and model (fp32 both; 1e-4: the two sum the
# matrix products in different orders).
check "finetune --max-windows" "$V" finetune --init run_a --train train.jsonl --dev dev.jsonl -o clf_w --epochs 1 \
    --batch-size 16 --lr 1e-3 --max-seq-length 40 --max-windows 5 --seed 1 > finetune_w.txt
check "finetune reports the windows" grep -q "read as up to 5 windows of 40 tokens" finetune_w.txt
check "tokenizer_config.json records the windows" python3 -c "
import json; c = json.load(open('clf_w/tokenizer_config.json'))
assert c['model_max_length'] == 40 and c['max_windows'] == 5, c"
"$V" predict --model clf_w --jsonl --input dev.jsonl > windows.jsonl
"$V" eval --model clf_w --data dev.jsonl --json > eval_w.json
check "predict: the softmax of the windows' mean logits, as transformers computes them" python3 - <<'PY'
import json, torch
from transformers import BertForSequenceClassification, BertTokenizerFast
tok = BertTokenizerFast("clf_w/vocab.txt", do_lower_case=True)
model = BertForSequenceClassification.from_pretrained("clf_w").eval()
ours = [json.loads(l) for l in open("windows.jsonl")]
rows = [json.loads(l) for l in open("dev.jsonl")]
w, K, several, cut = 38, 5, 0, 0
for row, got in zip(rows, ours):
    ids = tok(row["text"], add_special_tokens=False)["input_ids"]
    n = len(ids)
    m = min(K, -(-n // w))
    starts = [0] if m == 1 else [(j * (n - w) + (m - 1) // 2) // (m - 1) for j in range(m)]
    several += m > 1
    cut += -(-n // w) > K
    batch = torch.tensor([[tok.cls_token_id] + ids[s:s + w] + [tok.sep_token_id] for s in starts])
    with torch.no_grad():
        logits = model(input_ids=batch, attention_mask=torch.ones_like(batch)).logits.double().mean(0)
    want = torch.softmax(logits, 0).tolist()
    labels = [model.config.id2label[k] for k in range(len(want))]
    assert all(abs(got["probs"][l] - p) < 1e-4 for l, p in zip(labels, want)), (got, want)
assert several >= 10 and cut >= 5, (several, cut)
PY
check "eval scores the texts as predict does" python3 -c "
import json
pred = [json.loads(l)['label'] for l in open('windows.jsonl')]
gold = [json.loads(l)['label'] for l in open('dev.jsonl')]
acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
assert abs(json.load(open('eval_w.json'))['accuracy'] - acc) < 1e-12, acc"

# A failed run leaves the earlier model as it was.
sum_before=$(md5sum clf/model.safetensors)
printf '{"text": "fine", "label": "ham"}\n{"text": broken\n' > bad.jsonl
expect_error "malformed training row" "bad.jsonl:2" "$V" finetune --init run_a --train bad.jsonl --dev dev.jsonl -o clf
check "the earlier classifier is intact" test "$sum_before" = "$(md5sum clf/model.safetensors)"
: > empty.txt
expect_error "empty corpus" "" "$V" prepare-pretraining --vocab vocab.txt -o shards_empty empty.txt

[ "$failures" -eq 0 ]
