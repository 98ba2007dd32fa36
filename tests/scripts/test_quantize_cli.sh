#!/usr/bin/env bash
# verto quantize and --precision int8 through predict, eval, embed and serve.
#
# A randomly initialised BertForSequenceClassification (transformers,
# initializer_range 0.3, 2 labels) and its int8 twin from verto quantize:
# - the int8 directory is a Hugging Face directory: config.json carries
#   quantization_config, model.safetensors the dense weights as I8 with F32
#   _scale tensors, the tokenizer files copied;
# - predict, eval and embed on it print exactly what --precision int8 prints
#   on the fp32 directory (quantized on load: the same codes), and serve
#   answers /v1/classify with predict's probabilities (the same printed digits);
# - int8 against fp32: probabilities within 0.05, embeddings' cosine >= 0.99
#   (the model-level bounds of tests/unit/test_bert_int8.c are on logits);
# - refused clearly: training in int8, an unknown precision, quantize without
#   -o, into the model's own directory, or from a directory that is not one.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'kill_server; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

"$py" - "$tmp" <<'PY'
import json, shutil, sys
from pathlib import Path
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
from transformers.utils import logging
logging.set_verbosity_error()
tmp = Path(sys.argv[1])
vocab = "tests/data/tokenizer/uncased/vocab.txt"
tok = BertTokenizerFast(vocab, do_lower_case=True)
torch.manual_seed(5)
cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, max_position_embeddings=64, num_labels=2,
                 id2label={0: "ham", 1: "spam"}, label2id={"ham": 0, "spam": 1}, initializer_range=0.3)
model = BertForSequenceClassification(cfg).eval()
model.save_pretrained(tmp / "m")
tok.save_pretrained(tmp / "m")
shutil.copy(vocab, tmp / "m" / "vocab.txt")
words = "free money offer meeting tomorrow project report click now winner lunch the a of".split()
g = torch.Generator().manual_seed(9)
with open(tmp / "texts.txt", "w") as f, open(tmp / "data.jsonl", "w") as d:
    for i in range(24):
        n = int(torch.randint(2, 30, (1,), generator=g))
        text = " ".join(words[j] for j in torch.randint(0, len(words), (n,), generator=g).tolist())
        f.write(text + "\n")
        d.write(json.dumps({"text": text, "label": ["ham", "spam"][i % 2]}) + "\n")
PY

m=$tmp/m q=$tmp/q
check "quantize writes the int8 directory" sh -c "'$verto' quantize --model '$m' -o '$q' >'$tmp/quantize.out'"
check "quantize says what it wrote" grep -q "wrote $q" "$tmp/quantize.out"
check "the int8 directory: quantization_config, I8 weights with F32 scales, f32 pooler and classifier, tokenizer files" \
    "$py" - "$q" <<'PY'
import json, sys
from pathlib import Path
from safetensors import safe_open
d = Path(sys.argv[1])
qc = json.load(open(d / "config.json"))["quantization_config"]
assert qc["quant_method"] == "verto_int8" and qc["weights"]["bits"] == 7, qc
with safe_open(d / "model.safetensors", "np") as f:
    keys = set(f.keys())
    w = f.get_tensor("bert.encoder.layer.0.attention.self.query.weight")
    s = f.get_tensor("bert.encoder.layer.0.attention.self.query.weight_scale")
    assert str(w.dtype) == "int8" and w.shape == (64, 64) and abs(w).max() <= 63, (w.dtype, w.shape)
    assert str(s.dtype) == "float32" and s.shape == (64,)
    assert str(f.get_tensor("classifier.weight").dtype) == "float32"
    assert "bert.encoder.layer.1.output.dense.weight_scale" in keys and "bert.pooler.dense.weight_scale" not in keys
for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
    assert (d / name).is_file(), name
PY

"$verto" predict --model "$m" --input "$tmp/texts.txt" >"$tmp/fp32.jsonl"
"$verto" predict --model "$m" --precision int8 --input "$tmp/texts.txt" >"$tmp/onload.jsonl"
"$verto" predict --model "$q" --input "$tmp/texts.txt" >"$tmp/int8.jsonl"
check "predict: the int8 directory = --precision int8 on fp32" cmp "$tmp/int8.jsonl" "$tmp/onload.jsonl"
check "predict: an int8 directory stays int8 when fp32 is asked" sh -c \
    "'$verto' predict --model '$q' --precision fp32 --input '$tmp/texts.txt' | cmp - '$tmp/int8.jsonl'"
check "predict: int8 probabilities within 0.05 of fp32's" "$py" - "$tmp/fp32.jsonl" "$tmp/int8.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 24
worst = max(abs(x["probs"][k] - y["probs"][k]) for x, y in zip(a, b) for k in x["probs"])
print(f"    int8 vs fp32: largest probability difference {worst:.4f}")
assert worst <= 0.05, worst
PY

"$verto" eval --model "$q" --data "$tmp/data.jsonl" --json >"$tmp/eval_q.json"
"$verto" eval --model "$m" --precision int8 --data "$tmp/data.jsonl" --json >"$tmp/eval_m.json"
check "eval: the int8 directory = --precision int8 on fp32" cmp "$tmp/eval_q.json" "$tmp/eval_m.json"

"$verto" embed --model "$m" --input "$tmp/texts.txt" >"$tmp/emb_fp32.txt"
"$verto" embed --model "$m" --precision int8 --input "$tmp/texts.txt" >"$tmp/emb_onload.txt"
"$verto" embed --model "$q" --input "$tmp/texts.txt" >"$tmp/emb_int8.txt"
check "embed: the int8 directory = --precision int8 on fp32" cmp "$tmp/emb_int8.txt" "$tmp/emb_onload.txt"
check "embed: cosine with fp32 >= 0.99" "$py" - "$tmp/emb_fp32.txt" "$tmp/emb_int8.txt" <<'PY'
import json, sys
import numpy as np
a = np.array([json.loads(l) for l in open(sys.argv[1])])
b = np.array([json.loads(l) for l in open(sys.argv[2])])
cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(f"    int8 vs fp32 embeddings: smallest cosine {cos.min():.5f}")
assert cos.min() >= 0.99, cos.min()
PY

start_server "$q" "$tmp/serve.log"
head -3 "$tmp/texts.txt" | while IFS= read -r t; do
    "$py" -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "$t" |
        curl -sf --data-binary @- "http://127.0.0.1:$port/v1/classify"
    echo
done >"$tmp/served.jsonl"
stop_server
check "serve: the int8 directory answers with predict's probabilities" "$py" - "$tmp/served.jsonl" "$tmp/int8.jsonl" <<'PY'
import json, sys
served = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pred = [json.loads(l) for l in open(sys.argv[2])][:3]
assert len(served) == 3, served
for s, p in zip(served, pred):
    assert s["probs"] == p["probs"], (s, p)
PY
start_server_int8() { # serve --precision int8 on the fp32 directory
    "$verto" serve --model "$m" --precision int8 --port 0 2>"$tmp/serve2.log" &
    server_pid=$!
    for _ in $(seq 1 200); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/serve2.log" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" -w '%{http_code}' | grep -q 200 && return 0
        sleep 0.1
    done
    return 1
}
check "serve --precision int8 starts" start_server_int8
t1=$(head -1 "$tmp/texts.txt")
"$py" -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "$t1" |
    curl -sf --data-binary @- "http://127.0.0.1:$port/v1/classify" >"$tmp/served2.json"
stop_server
check "serve --precision int8 = the int8 directory" "$py" -c '
import json, sys
a = json.load(open(sys.argv[1])); b = json.loads(open(sys.argv[2]).readline())
assert a == b, (a, b)' "$tmp/served2.json" "$tmp/served.jsonl"

# ---- refusals ----
fails_with() { # description, expected text, command...
    local what=$1 want=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "  FAILED: $what (succeeded)"; failures=$((failures + 1)); return; fi
    check "$what" grep -q -- "$want" "$tmp/err"
}
fails_with "finetune --precision int8 is refused" "not int8" "$verto" finetune --init "$m" --train "$tmp/data.jsonl" \
    --dev "$tmp/data.jsonl" -o "$tmp/ft" --epochs 1 --precision int8
fails_with "an unknown precision" "fp32, bf16 or int8" "$verto" predict --model "$m" --precision int4 "text"
fails_with "quantize without -o" "quantize needs --model DIR and -o OUT" "$verto" quantize --model "$m"
fails_with "quantize into the model's own directory" "model's own" "$verto" quantize --model "$m" -o "$m"
fails_with "quantize from a directory that is not a model" "config.json" "$verto" quantize --model "$tmp/none" -o "$tmp/x"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all quantize checks passed"
