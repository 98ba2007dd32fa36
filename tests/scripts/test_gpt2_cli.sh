#!/usr/bin/env bash
# verto init and summary for GPT-2:
# - init --config gpt2-tiny writes a directory GPT2LMHeadModel.from_pretrained
#   loads with no missing, unexpected or mismatched keys, and init
#   --config-json with an odd GPT2Config another; (that transformers computes
#   verto's logits on them is tests/unit/test_gpt2.c's check)
# - summary's total equals PyTorch's sum(p.numel() for p in
#   model.parameters()) (the tied lm_head counted once) on both;
# - init --tokenizer with a byte-level BPE tokenizer.json: the vocabulary is
#   its size, bos and eos its <|endoftext|>, and the directory holds it;
# - bad input: a config.json with an invalid key, a safetensors file missing a
#   tensor or with a wrong shape: a non-zero status and a message naming the
#   file and the key or tensor.
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
. "$root/tests/scripts/check.sh"

cat > odd.json <<'JSON'
{"model_type": "gpt2", "vocab_size": 211, "n_positions": 33, "n_embd": 40, "n_layer": 3, "n_head": 5,
 "n_inner": 70, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-6, "bos_token_id": 0, "eos_token_id": 0}
JSON
check "init --config gpt2-tiny" "$V" init --config gpt2-tiny --seed 3 -o tiny
check "init --config-json odd.json" "$V" init --config-json odd.json --seed 4 -o odd

for dir in tiny odd; do
    total=$("$V" summary --model "$dir" | sed -n 's/^Total params: \([0-9,]*\).*/\1/p' | tr -d ,)
    ref=$(python3 - "$dir" <<'PY' 2>/dev/null
import sys
from transformers import GPT2LMHeadModel
model, info = GPT2LMHeadModel.from_pretrained(sys.argv[1], output_loading_info=True)
bad = {k: v for k, v in info.items() if v}
if bad:
    print(f"loading problems {bad}", file=sys.stderr)
    sys.exit(1)
c = model.config
assert (c.n_layer, c.n_embd, c.n_head) == ((2, 128, 2) if sys.argv[1] == "tiny" else (3, 40, 5)), c
print(sum(p.numel() for p in model.parameters()))
PY
)
    check "$dir: transformers loads it; summary total $total equals PyTorch's ${ref:-?}" test -n "$ref" -a "$total" = "$ref"
done

python3 "$root/tests/scripts/gpt2_bpe.py" "$root/tests/data/tokenizer/mixed.txt" 400 bpe.json
check "init --config gpt2-mini --tokenizer bpe.json" "$V" init --config gpt2-mini --tokenizer bpe.json -o withtok
check "its config and tokenizer: vocabulary and <|endoftext|> as bos/eos" python3 - <<'PY'
import json
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel
tok = Tokenizer.from_file("withtok/tokenizer.json")
c = GPT2LMHeadModel.from_pretrained("withtok").config
eot = tok.token_to_id("<|endoftext|>")
print(f"    vocabulary {c.vocab_size} (tokenizer {tok.get_vocab_size()}), bos {c.bos_token_id}, eos {c.eos_token_id}, <|endoftext|> {eot}")
assert c.vocab_size == tok.get_vocab_size() and c.bos_token_id == c.eos_token_id == eot and c.n_layer == 4
PY

# Bad input: the command fails, and its message names the file and the key or tensor (check.sh's fails_naming).
printf '{"model_type": "gpt2", "n_head": "many"}' > bad.json
fails_naming "init with a bad key" 'bad.json: key "n_head"' "$V" init --config-json bad.json -o never
cp -r odd broken
python3 - <<'PY'
import json
c = json.load(open("broken/config.json")); c["n_embd"] = 45
json.dump(c, open("broken/config.json", "w"))
PY
fails_naming "summary with mismatched shapes" "broken/model.safetensors: tensor \"transformer." "$V" summary --model broken
cp -r odd missing
python3 - <<'PY'
from safetensors.torch import load_file, save_file
t = load_file("missing/model.safetensors"); del t["transformer.ln_f.bias"]
save_file(t, "missing/model.safetensors", metadata={"format": "pt"})
PY
fails_naming "summary with a tensor missing" 'transformer.ln_f.bias" is missing' "$V" summary --model missing
printf '{"model_type": "gpt2", "n_layer": 2' > missing/config.json
fails_naming "summary with truncated config.json" "missing/config.json: not valid JSON" "$V" summary --model missing
[ "$failures" -eq 0 ]
