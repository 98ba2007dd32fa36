#!/usr/bin/env bash
# make demo-lm: the generative path on the spam sample shipped in data/spam (SpamAssassin emails): a byte-level
# BPE trained on the training emails, causal-LM data, a small GPT-2 pretrained from scratch, its held-out
# perplexity, then LoRA fine-tuning to write an email's Subject line from its body, greedy generation for
# the test emails and ROUGE-L against two baselines (the body's first sentence; the model without the
# adapter). Everything is written under BUILD/demo-lm (or $DEMO_LM_OUT).
#
# Sizes and steps come from the environment (the defaults are the demo's; tests/scripts/test_demo_lm.sh and
# scripts/lm_subjects_full.sh set others): DEMO_LM_DATA (a folder with train/dev/test.jsonl), DEMO_LM_VOCAB,
# DEMO_LM_LAYERS, DEMO_LM_HIDDEN, DEMO_LM_HEADS, DEMO_LM_BLOCK (pretraining block length),
# DEMO_LM_PRETRAIN_STEPS, DEMO_LM_BATCH, DEMO_LM_LR, DEMO_LM_EPOCHS (LoRA epochs), DEMO_LM_LORA_RANK,
# DEMO_LM_BODY_CHARS (the prompt's character cut of the body), DEMO_LM_MAX_PAIRS (0: all emails),
# DEMO_LM_NEW_TOKENS, DEMO_LM_REP_PENALTY (greedy decoding's repetition penalty; 1: off).
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
V="$root/$build/verto"
data=${DEMO_LM_DATA:-$root/data/spam}
out=${DEMO_LM_OUT:-$root/$build/demo-lm}
vocab=${DEMO_LM_VOCAB:-4000}
layers=${DEMO_LM_LAYERS:-3}
hidden=${DEMO_LM_HIDDEN:-128}
heads=${DEMO_LM_HEADS:-4}
block=${DEMO_LM_BLOCK:-128}
steps=${DEMO_LM_PRETRAIN_STEPS:-240}
batch=${DEMO_LM_BATCH:-16}
lr=${DEMO_LM_LR:-1e-3}
epochs=${DEMO_LM_EPOCHS:-1}
rank=${DEMO_LM_LORA_RANK:-8}
body_chars=${DEMO_LM_BODY_CHARS:-600}
max_pairs=${DEMO_LM_MAX_PAIRS:-0}
new_tokens=${DEMO_LM_NEW_TOKENS:-24}
# Without a repetition penalty the small model's greedy subjects loop ("Re: Re: Re: ..."); 1.3 is
# transformers' repetition_penalty (the argmax after it), applied to both models alike.
rep_penalty=${DEMO_LM_REP_PENALTY:-1.3}
prompt_tokens=${DEMO_LM_PROMPT_TOKENS:-192} # the body's first N tokens; + separator + new tokens fit 256 positions
# On a shared machine spinning OpenMP threads wait for descheduled peers; passive waiting was 3x faster here.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
rm -rf "$out"
mkdir -p "$out"
cd "$out"
stage() { printf '\n== %s\n' "$1"; }
start=$(date +%s)

stage "1. Subject-line pairs and language-model text from the emails"
for split in train dev test; do
    python3 "$root/scripts/lm_subject_pairs.py" --body-chars "$body_chars" --limit "$max_pairs" \
        "$data/$split.jsonl" "pairs-$split.jsonl"
    # one document per email (flattened body, tab, "Subject: ..."), documents separated by a blank line
    python3 -c "
import json, sys
with open('$split.txt', 'w') as out:
    for line in open('pairs-$split.jsonl'):
        out.write(json.loads(line)['document'] + '\n\n')"
done

stage "2. Byte-level BPE ($vocab tokens) from the training emails"
mkdir -p tokenizer
"$V" vocab --type bpe --size "$vocab" --special-tokens '<|endoftext|>' -o tokenizer/tokenizer.json train.txt
# Prompts: the body's first $prompt_tokens tokens (cut at a token's end character) + the separator.
python3 - "$prompt_tokens" <<'PY'
import json, sys
from tokenizers import Tokenizer
tok, keep = Tokenizer.from_file("tokenizer/tokenizer.json"), int(sys.argv[1])
sep = "\tSubject:"
for split in ("train", "dev", "test"):
    rows = [json.loads(l) for l in open(f"pairs-{split}.jsonl")]
    for r in rows:
        body = r["prompt"][: -len(sep)]
        offsets = tok.encode(body, add_special_tokens=False).offsets
        r["prompt"] = body[: offsets[keep - 1][1]] + sep if len(offsets) > keep else r["prompt"]
    with open(f"pairs-{split}.jsonl", "w") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(f"prompts-{split}.txt", "w") as out:
        out.writelines(r["prompt"] + "\n" for r in rows)
PY

stage "3. Causal-LM blocks of $block tokens (training; dev for held-out loss)"
python3 - "$root/scripts/demo_gpt2.json" "$vocab" "$layers" "$hidden" "$heads" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg.update(vocab_size=int(sys.argv[2]), n_layer=int(sys.argv[3]), n_embd=int(sys.argv[4]),
           n_head=int(sys.argv[5]), n_inner=4 * int(sys.argv[4]))
json.dump(cfg, open("gpt2-config.json", "w"), indent=2)
PY
"$V" init --config-json gpt2-config.json --tokenizer tokenizer/tokenizer.json -o gpt-init --seed 1
"$V" summary --model gpt-init | tail -4
"$V" prepare-pretraining --objective clm --tokenizer gpt-init -o train-shards --max-seq-length "$block" --seed 1 train.txt
"$V" prepare-pretraining --objective clm --tokenizer gpt-init -o dev-shards --max-seq-length "$block" --seed 1 dev.txt

stage "4. A GPT-2 (L$layers/H$hidden/A$heads) pretrained from scratch: $steps steps of $batch x $block tokens"
"$V" pretrain --objective clm --model gpt-init --data train-shards -o gpt-spam --steps "$steps" --batch-size "$batch" \
    --lr "$lr" --warmup-steps $((steps / 10)) --eval-data dev-shards --eval-every $(( steps > 4 ? steps / 4 : 1 )) \
    --log-every $(( steps > 10 ? steps / 10 : 1 )) --seed 1

stage "5. Held-out perplexity (dev and test emails, windows of 256, stride 128)"
for split in dev test; do
    "$V" perplexity --model gpt-spam --max-length 256 --stride 128 --json "$split.txt" | tee "perplexity-$split.json"
done

stage "6. LoRA (rank $rank) fine-tuning: body -> Subject line"
"$V" finetune --task causal-lm --model gpt-spam --train pairs-train.jsonl --dev pairs-dev.jsonl -o subject-adapter \
    --lora-rank "$rank" --lora-alpha $((2 * rank)) --lora-dropout 0.05 --lora-targets c_attn,c_proj,c_fc \
    --epochs "$epochs" --batch-size 8 --lr 2e-3 --warmup-ratio 0.05 --max-seq-length 256 --seed 1
"$V" merge-lora --model gpt-spam --adapter subject-adapter -o gpt-subjects

stage "7. Greedy subject lines (repetition penalty $rep_penalty) for the test emails, with and without the adapter"
"$V" generate --model gpt-subjects --greedy --repetition-penalty "$rep_penalty" --json --max-new-tokens "$new_tokens" \
    --batch-size 16 --input prompts-test.txt > generated-adapter.jsonl
"$V" generate --model gpt-spam --greedy --repetition-penalty "$rep_penalty" --json --max-new-tokens "$new_tokens" \
    --batch-size 16 --input prompts-test.txt > generated-base.jsonl

stage "8. ROUGE-L F1 against the true subjects (test emails)"
python3 "$root/scripts/lm_subject_rouge.py" pairs-test.jsonl "pretrained model, no adapter=generated-base.jsonl" \
    "pretrained model + LoRA=generated-adapter.jsonl" --json rouge.json
printf '\ndemo-lm finished in %d s; models, metrics.jsonl and data are in %s\n' $(( $(date +%s) - start )) "$out"
