#!/usr/bin/env bash
# verto finetune --task causal-lm and verto merge-lora on a tiny GPT-2 with a
# byte-level BPE (trained here by tokenizers):
# - a LoRA run (r 4, dropout, c_attn,c_proj,c_fc, accumulation, dev set) writes
#   a PEFT directory that peft.PeftModel.from_pretrained loads with exactly its
#   LoRA keys (c_proj = attn.c_proj and mlp.c_proj), whose adapter_config says
#   LORA / CAUSAL_LM / fan_in_fan_out, and tokenizer files;
# - the last dev loss in metrics.jsonl equals transformers' loss of the PEFT
#   model on the same rows (prompt ids + completion ids + eos, each text encoded
#   alone by tokenizers, prompt labels -100), token-weighted over the rows:
#   relative 1e-4 (float32 sums in another order); the dev loss falls between
#   epochs (dev = a part of train, lr 3e-3);
# - merge-lora equals PEFT's merge_and_unload() on every weight (1e-6 abs);
# - --lora-rank 0 writes a whole model GPT2LMHeadModel loads;
# - bad rows (not JSON, missing or non-string fields, invalid UTF-8), a
#   completion longer than --max-seq-length, bad adapter dirs: a non-zero status
#   and a message naming file:line (or file and key).
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1
. "$root/tests/scripts/check.sh"
failures=0

python3 "$root/tests/scripts/gpt2_bpe.py" "$root/tests/data/tokenizer/mixed.txt" 300 bpe.json
python3 "$root/tests/scripts/clm_examples.py" .
"$V" init --config gpt2-tiny --tokenizer bpe.json --seed 4 -o base > /dev/null || { echo "  FAILED: init"; exit 1; }

check "finetune --task causal-lm with LoRA" "$V" finetune --task causal-lm --model base --train train.jsonl --dev dev.jsonl \
    --lora-rank 4 --lora-alpha 8 --lora-dropout 0.1 --lora-targets c_attn,c_proj,c_fc --epochs 2 --batch-size 4 \
    --grad-accum 2 --lr 3e-3 --seed 7 -o adapter
check "the adapter, tokenizer and metrics are written" test -f adapter/adapter_config.json -a -f adapter/adapter_model.safetensors \
    -a -f adapter/tokenizer.json -a -f adapter/metrics.jsonl
check "merge-lora" "$V" merge-lora --model base --adapter adapter -o merged

check "PEFT loads the adapter; dev loss = transformers' on completion tokens; merge = merge_and_unload" python3 - <<'PY'
import json
import torch
from peft import PeftModel
from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel
cfg = json.load(open("adapter/adapter_config.json"))
assert cfg["peft_type"] == "LORA" and cfg["task_type"] == "CAUSAL_LM" and cfg["fan_in_fan_out"] is True, cfg
assert cfg["r"] == 4 and cfg["lora_alpha"] == 8 and abs(cfg["lora_dropout"] - 0.1) < 1e-6, cfg
base = GPT2LMHeadModel.from_pretrained("base")
model = PeftModel.from_pretrained(base, "adapter").eval()
with safe_open("adapter/adapter_model.safetensors", "pt") as f:
    keys = set(f.keys())
want = {n.replace(".default", "") for n, _ in model.named_parameters() if "lora_" in n}
assert keys == want, (sorted(keys ^ want)[:4])
assert any(".mlp.c_proj." in k for k in keys) and any(".attn.c_proj." in k for k in keys)
tok = Tokenizer.from_file("base/tokenizer.json")
eos = base.config.eos_token_id
total, count = 0.0, 0
for line in open("dev.jsonl", encoding="utf-8"):
    row = json.loads(line)
    p = tok.encode(row["prompt"], add_special_tokens=False).ids
    c = tok.encode(row["completion"], add_special_tokens=False).ids + [eos]
    ids = torch.tensor([p + c])
    labels = torch.tensor([[-100] * len(p) + c])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss.item()
    n = len(c)  # tokens predicted: the completion's and the eos
    total += loss * n
    count += n
ref = total / count
evals = [json.loads(l) for l in open("adapter/metrics.jsonl") if '"eval"' in l]
got = evals[-1]["dev_loss"]
print(f"    dev loss verto {got:.6f} transformers+PEFT {ref:.6f}; by epoch {[round(e['dev_loss'], 4) for e in evals]}")
assert abs(got - ref) <= 1e-4 * abs(ref), (got, ref)
assert len(evals) == 2 and evals[1]["dev_loss"] < evals[0]["dev_loss"]
assert abs(evals[-1]["dev_perplexity"] - torch.tensor(got).exp().item()) < 1e-3 * evals[-1]["dev_perplexity"]
merged = model.merge_and_unload().state_dict()
ours = GPT2LMHeadModel.from_pretrained("merged").state_dict()
worst = max((merged[k] - ours[k]).abs().max().item() for k in merged if k in ours)
print(f"    merge-lora vs merge_and_unload: max |diff| {worst:.3g} (tolerance 1e-6)")
assert worst <= 1e-6
PY

check "--lora-rank 0: full fine-tuning writes a whole model" "$V" finetune --task causal-lm --model base --train train.jsonl \
    --lora-rank 0 --epochs 1 --batch-size 8 --lr 1e-3 -o full
check "transformers loads the fully fine-tuned model, which differs from the base" python3 - <<'PY'
from transformers import GPT2LMHeadModel
a, b = GPT2LMHeadModel.from_pretrained("base").state_dict(), GPT2LMHeadModel.from_pretrained("full").state_dict()
assert any((a[k] - b[k]).abs().max() > 0 for k in a)
PY

"$V" finetune --task causal-lm --model base --train train.jsonl --max-seq-length 40 --epochs 1 --lora-rank 2 -o short \
    > short.txt 2>&1
check "long prompts are cut on the left (a note says how many)" grep -q "lost prompt tokens on the left" short.txt

# Bad input: the command fails, and its message names the file and line (or key).
bad_row() { # NAME ROW NEEDLE
    printf '{"prompt": "a", "completion": "b"}\n%s\n' "$2" > "$1.jsonl"
    fails_naming "$1" "$1.jsonl:2: $3" "$V" finetune --task causal-lm --model base --train "$1.jsonl" -o out_bad
}
bad_row notjson '{"prompt": "a", ' "not valid JSON"
bad_row nocompletion '{"prompt": "a"}' 'missing "completion"'
bad_row numberprompt '{"prompt": 3, "completion": "b"}' '"prompt" must be a string'
bad_row array '["a", "b"]' "a row must be an object"
printf '{"prompt": "a", "completion": "b"}\n{"prompt": "\xff\xfe", "completion": "b"}\n' > badutf8.jsonl
fails_naming "invalid UTF-8" 'badutf8.jsonl:2: "prompt" is not valid UTF-8' "$V" finetune --task causal-lm --model base --train badutf8.jsonl -o out_bad
printf '{"prompt": "a", "completion": "free money meeting lunch offer report free money meeting lunch offer"}\n' > longc.jsonl
fails_naming "a completion beyond --max-seq-length" "longc.jsonl:1: the completion is" "$V" finetune --task causal-lm --model base \
    --train longc.jsonl --max-seq-length 4 -o out_bad
fails_naming "an unknown target" "q_proj" "$V" finetune --task causal-lm --model base --train train.jsonl --lora-targets q_proj -o out_bad
# generate --adapter decodes with the adapter attached: the same greedy tokens as the merged model
# (the merge differs from base + adapter by float rounding only, 1e-8 above), and not the base's.
printf 'Subject: hello\nthe quick\n' > prompts.txt
check "generate --adapter" sh -c "'$V' generate --model base --adapter adapter --greedy --json --max-new-tokens 12 --input prompts.txt > gen_adapter.jsonl"
"$V" generate --model merged --greedy --json --max-new-tokens 12 --input prompts.txt > gen_merged.jsonl
"$V" generate --model base --greedy --json --max-new-tokens 12 --input prompts.txt > gen_base.jsonl
check "generate --adapter gives the merged model's tokens" cmp gen_adapter.jsonl gen_merged.jsonl
check "... which are not the base model's" sh -c "! cmp -s gen_adapter.jsonl gen_base.jsonl"
fails_naming "generate with a missing adapter" "nothere/adapter_config.json" "$V" generate --model base --adapter nothere --greedy hi

mkdir -p badadapter && cp adapter/adapter_model.safetensors badadapter/
python3 -c 'import json; c = json.load(open("adapter/adapter_config.json")); c["r"] = 5; json.dump(c, open("badadapter/adapter_config.json", "w"))'
fails_naming "merge-lora with a rank mismatch" "badadapter/adapter_model.safetensors" "$V" merge-lora --model base --adapter badadapter -o m2
fails_naming "merge-lora without an adapter dir" "nothere/adapter_config.json" "$V" merge-lora --model base --adapter nothere -o m3

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all LoRA CLI checks passed"
