#!/usr/bin/env bash
# Directories as transformers 5 writes them, and as verto writes them:
#   - a classifier saved by transformers (model.save_pretrained +
#     BertTokenizerFast.save_pretrained: tokenizer.json and
#     tokenizer_config.json, no vocab.txt): verto predict equals the
#     transformers text-classification pipeline's probabilities (1e-5);
#   - verto init and verto finetune write tokenizer.json beside vocab.txt:
#     tokenizers.Tokenizer.from_file and AutoTokenizer load it and encode 200
#     texts (accents, CJK, emoji, pairs) with the ids BertTokenizerFast gives;
#   - verto tokenize --tokenizer tokenizer.json --json prints the ids and
#     character offsets tokenizers gives;
#   - a tokenizer.json verto cannot honour (a UnicodeScripts pre-tokenizer) stops verto predict with
#     one error naming the file and the component.
set -uo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

"$py" - "$tmp" <<'PY'
import json, sys
from pathlib import Path
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast, pipeline
from transformers.utils import logging
logging.set_verbosity_error()
tmp = Path(sys.argv[1])
tok = BertTokenizerFast("tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True)
torch.manual_seed(5)
cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, num_labels=3,
                 id2label={0: "neg", 1: "neutral", 2: "pos"}, label2id={"neg": 0, "neutral": 1, "pos": 2},
                 initializer_range=0.3)
model = BertForSequenceClassification(cfg).eval()
d = tmp / "hf"
model.save_pretrained(d)
tok.save_pretrained(d)
assert not (d / "vocab.txt").exists(), sorted(p.name for p in d.iterdir())
words = "Free money offer MEETING tomorrow project report click now winner lunch the a of".split()
g = torch.Generator().manual_seed(3)
texts = [" ".join(words[i] for i in torch.randint(0, len(words), (int(k),), generator=g).tolist())
         for k in torch.randint(1, 12, (20,), generator=g)]
texts += ["Caf\u00e9 na\u00efve \u00e9t\u00e9 \u4e2d\u6587 \U0001F600!", " ".join(words * 8)]  # accents, CJK; truncated
(tmp / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
clf = pipeline("text-classification", model=str(d), tokenizer=str(d), top_k=None, truncation=True, max_length=64)
out = [{r["label"]: r["score"] for r in res} for res in clf(texts)]
json.dump(out, open(tmp / "want.json", "w"))
PY
[ -f "$tmp/want.json" ] || { echo "error: the transformers side failed"; exit 1; }

"$verto" predict --model "$tmp/hf" --max-seq-length 64 --input "$tmp/texts.txt" >"$tmp/got.jsonl"
check "verto predict reads a directory that holds tokenizer.json and no vocab.txt" test -s "$tmp/got.jsonl"
check "its probabilities equal the transformers pipeline's (1e-5)" "$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
want = json.load(open(f"{tmp}/want.json"))
got = [json.loads(l)["probs"] for l in open(f"{tmp}/got.jsonl")]
assert len(got) == len(want), (len(got), len(want))
worst = max(abs(g[k] - w[k]) for g, w in zip(got, want) for k in w)
print(f"    {len(got)} texts, largest difference {worst:.2e}")
assert worst <= 1e-5
PY

# verto tokenize --tokenizer FILE --json: ids and character offsets as tokenizers reports them
"$verto" tokenize --tokenizer "$tmp/hf/tokenizer.json" --json --input "$tmp/texts.txt" >"$tmp/tok.jsonl"
check "verto tokenize --json: ids and offsets equal tokenizers' (Tokenizer.from_file)" "$py" - "$tmp" <<'PY'
import json, sys
from tokenizers import Tokenizer
tmp = sys.argv[1]
fast = Tokenizer.from_file(f"{tmp}/hf/tokenizer.json")
fast.no_truncation()
texts = open(f"{tmp}/texts.txt", encoding="utf-8").read().split("\n")[:-1]
got = [json.loads(l) for l in open(f"{tmp}/tok.jsonl")]
assert len(got) == len(texts)
for t, g in zip(texts, got):
    e = fast.encode(t)
    assert g["ids"] == e.ids, (t, g["ids"], e.ids)
    assert [tuple(o) for o in g["offsets"]] == list(e.offsets), (t, g["offsets"], e.offsets)
PY

# ---- what verto writes ----
"$verto" init --config tiny --vocab tests/data/tokenizer/uncased/vocab.txt -o "$tmp/init" >/dev/null
check "verto init writes tokenizer.json beside vocab.txt" test -f "$tmp/init/tokenizer.json" -a -f "$tmp/init/vocab.txt"
printf '{"text": "free money now", "label": "pos"}\n{"text": "the meeting", "label": "neg"}\n{"text": "a report", "label": "neutral"}\n' \
    >"$tmp/train.jsonl"
"$verto" finetune --init "$tmp/hf" --train "$tmp/train.jsonl" --dev "$tmp/train.jsonl" -o "$tmp/ft" --epochs 1 \
    --batch-size 2 --max-seq-length 32 >/dev/null 2>&1
check "verto finetune from it writes tokenizer.json and vocab.txt" test -f "$tmp/ft/tokenizer.json" -a -f "$tmp/ft/vocab.txt"
check "tokenizers and AutoTokenizer read verto's tokenizer.json: the ids of BertTokenizerFast" "$py" - "$tmp" <<'PY'
import random, sys
from tokenizers import Tokenizer
from transformers import AutoTokenizer, BertTokenizerFast
from transformers.utils import logging
logging.set_verbosity_error()
tmp = sys.argv[1]
want = BertTokenizerFast("tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True)
lines = [l for l in open("tests/data/tokenizer/spamassassin_sample.txt", encoding="utf-8", errors="replace")][:150]
rng = random.Random(7)
extra = ["Caf\u00e9 na\u00efve \u00c9T\u00c9", "\u4e2d\u6587\u5b57 mixed", "emoji \U0001F600\U0001F680 here", "[CLS] in text [MASK]"]
texts = [l.rstrip("\n") for l in lines] + extra * 10
for d in ("init", "ft"):
    fast = Tokenizer.from_file(f"{tmp}/{d}/tokenizer.json")
    auto = AutoTokenizer.from_pretrained(f"{tmp}/{d}")
    for t in texts:
        ids = want(t)["input_ids"]
        assert fast.encode(t).ids == ids, (d, t, fast.encode(t).ids, ids)
        assert auto(t)["input_ids"] == ids, (d, t)
    a, b = rng.choice(texts), rng.choice(texts)
    assert auto(a, b)["input_ids"] == want(a, b)["input_ids"]
print(f"    {len(texts)} texts, 2 directories: identical")
PY

# ---- a tokenizer.json verto cannot honour ----
"$py" - "$tmp" <<'PY'
import json, shutil, sys
tmp = sys.argv[1]
shutil.copytree(f"{tmp}/hf", f"{tmp}/odd")
j = json.load(open(f"{tmp}/odd/tokenizer.json"))
j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}, {"type": "UnicodeScripts"}]}
json.dump(j, open(f"{tmp}/odd/tokenizer.json", "w"))
PY
"$verto" predict --model "$tmp/odd" "some text" >"$tmp/out" 2>"$tmp/err"
rc=$?
echo "    -> $(cat "$tmp/err")"
check "an unsupported component: non-zero exit" test $rc -ne 0
check "one error line naming the file and the component" \
    sh -c "test \$(wc -l <'$tmp/err') -eq 1 && grep -q 'odd/tokenizer.json: pre_tokenizer.pretokenizers.1.: UnicodeScripts is not supported' '$tmp/err'"

echo "test_hf_tokenizer_json: $failures failure(s)"
[ "$failures" -eq 0 ]
