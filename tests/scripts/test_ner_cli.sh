#!/usr/bin/env bash
# Token classification (NER) through finetune, eval and predict, against
# transformers and seqeval.
#
# Data: sentences of tests/data/pretrain/sotu_sample.txt tagged in IOB2 by a
# small gazetteer (places, organisations, months, numbers), as CoNLL files
# (train) and JSONL (dev), 200 training sentences and the rest (about 60) for dev.
# For BERT (WordPiece) and RoBERTa (byte-level BPE, words marked as after a
# space only by the tokenizer's own add_prefix_space, as transformers 5 does):
#  - verto finetune --task token-classification writes a directory that
#    transformers loads with AutoModelForTokenClassification with no missing or
#    unexpected keys;
#  - verto eval --json equals seqeval (default mode) on the words' predictions
#    transformers makes with that model (each word labelled by its first
#    token, the sentence encoded with is_split_into_words and truncated to the
#    fine-tuned length): the same predictions, so the figures agree to 1e-12;
#  - verto predict --aggregation S on raw sentences (and on lines of accents,
#    CJK, emoji and punctuation runs) equals the token-classification pipeline
#    with aggregation_strategy=S, for S in none (per token: labels, indices),
#    simple (the default), first, average and max: the same entity groups,
#    words and character offsets, scores within 1e-5 (fp32 forward passes of
#    two implementations; the pipeline averages in float32); for texts longer than the
#    model reads at once, the pipeline's postprocess is given the logits of
#    verto's windows computed by transformers (half-overlapping windows, each
#    token from the window where it is farthest from an edge), since the
#    pipeline's own stride chunks merge entities by another rule;
#  - (BERT) serve's /v1/token-classification answers each text as predict does,
#    also with "aggregation_strategy" none and average; an unknown strategy is a 400.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

"$py" - "$tmp" <<'PY'
import json, re, sys
tmp = sys.argv[1]
GAZ = {"LOC": ["United States", "America", "Iraq", "Afghanistan", "Europe", "China", "Washington"],
       "ORG": ["Congress", "Senate", "House", "United Nations", "NATO", "Social Security"],
       "DATE": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December"]}
spans = sorted(((p.split(), t) for t, ps in GAZ.items() for p in ps), key=lambda x: -len(x[0]))
sents = []
for line in open("tests/data/pretrain/sotu_sample.txt", encoding="utf-8"):
    words = re.findall(r"\w+(?:'\w+)?|[^\w\s]", line)
    if not 4 <= len(words) <= 60:
        continue
    tags, i = ["O"] * len(words), 0
    while i < len(words):
        hit = next(((p, t) for p, t in spans if words[i:i + len(p)] == p), None)
        if hit:
            p, t = hit
            tags[i:i + len(p)] = ["B-" + t] + ["I-" + t] * (len(p) - 1)
            i += len(p)
        elif re.fullmatch(r"\d[\d,.]*", words[i]):
            tags[i] = "B-NUM"
            i += 1
        else:
            i += 1
    sents.append((words, tags))
tagged = [s for s in sents if any(t != "O" for t in s[1])]
train, dev = tagged[:200], tagged[200:]
with open(f"{tmp}/train.conll", "w") as f:
    f.write("-DOCSTART- -X- -X- O\n\n")
    for words, tags in train:
        f.write("".join(f"{w} X X {t}\n" for w, t in zip(words, tags)) + "\n")
with open(f"{tmp}/dev.jsonl", "w") as f:
    for words, tags in dev:
        f.write(json.dumps({"tokens": words, "tags": tags}) + "\n")
with open(f"{tmp}/dev.txt", "w") as f:  # raw text: the words joined as a sentence would be written
    for words, _ in dev[:40]:
        f.write(re.sub(r" ([,.;:!?')])", r"\1", " ".join(words)) + "\n")
    long = " ".join(" ".join(w) for w, _ in dev[40:52])
    f.write(long + "\n")  # longer than 64 tokens: read as windows
    # accents, CJK, emoji, punctuation runs: whole words, subwords and unknown tokens for the word strategies
    odd = ["Café naïve résumé: the Congress of the United States met in Washington in January!!!",
           "東京 and 北京天安门 — Europe, China... NATO?!? 1,234.5 ❤️🇺🇸 (Iraq) [Afghanistan] \"America\"",
           "Ångström's Straße, İstanbul... Social Security -- the Senate; the House. e\u0301te\u0301 Zoë Ærø"]
    for line in odd:
        f.write(line + "\n")
    f.write(" ".join(odd * 3) + " " + " ".join(dev[52][0]) + "\n")  # a long one of them: windows
print(f"    {len(train)} training and {len(dev)} dev sentences")
PY
# A RoBERTa tokenizer: a byte-level BPE trained by tokenizers on the same text.
"$py" - "$tmp" <<'PY'
import sys
import transformers as tf
from tokenizers import ByteLevelBPETokenizer
from transformers.utils import logging
logging.set_verbosity_error()
tmp = sys.argv[1]
bpe = ByteLevelBPETokenizer()
bpe.train(["tests/data/pretrain/sotu_sample.txt"], vocab_size=1200, min_frequency=2,
          special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
bpe.save_model(tmp)
tf.RobertaTokenizer.from_pretrained(tmp, model_max_length=64).save_pretrained(f"{tmp}/roberta-tok")
PY
"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/bert-init" >/dev/null
"$verto" init --config roberta-tiny --tokenizer "$tmp/roberta-tok" -o "$tmp/roberta-init" >/dev/null

for fam in bert roberta; do
    echo "--- $fam"
    d=$tmp/$fam-ner
    check "$fam: finetune --task token-classification (CoNLL train, JSONL dev)" sh -c "'$verto' finetune \
        --task token-classification --init '$tmp/$fam-init' --train '$tmp/train.conll' --dev '$tmp/dev.jsonl' -o '$d' \
        --epochs 4 --batch-size 8 --lr 1e-3 --max-seq-length 64 >'$tmp/ft.log'"
    check "$fam: eval --json" sh -c "'$verto' eval --model '$d' --data '$tmp/dev.jsonl' --json >'$tmp/$fam-eval.json'"
    check "$fam: eval --mode strict" sh -c "'$verto' eval --model '$d' --data '$tmp/dev.jsonl' --mode strict >/dev/null"
    check "$fam: predict" sh -c "'$verto' predict --model '$d' --input '$tmp/dev.txt' >'$tmp/$fam-pred.jsonl'"
    for agg in none simple first average max; do
        check "$fam: predict --aggregation $agg" sh -c \
            "'$verto' predict --model '$d' --aggregation $agg --input '$tmp/dev.txt' >'$tmp/$fam-pred-$agg.jsonl'"
    done
    check "$fam: predict's default is --aggregation simple" cmp "$tmp/$fam-pred.jsonl" "$tmp/$fam-pred-simple.jsonl"
    check "$fam: transformers loads it; eval equals seqeval on its predictions; predict equals its pipeline" \
        "$py" - "$d" "$tmp/dev.jsonl" "$tmp/$fam-eval.json" "$tmp/dev.txt" "$tmp/$fam-pred" <<'PY'
import json, sys, warnings
import torch
import seqeval.metrics as sm
import transformers as tf
from transformers.utils import logging
logging.set_verbosity_error()
d, dev, ev, texts, preds = sys.argv[1:6]
warnings.filterwarnings("ignore", message="Tokenizer does not support real words")  # RoBERTa: the fallback rule
model, info = tf.AutoModelForTokenClassification.from_pretrained(d, output_loading_info=True)
assert not any(info.values()), info
tok = tf.AutoTokenizer.from_pretrained(d)
model.eval()
print(f"    {type(model).__name__} + {type(tok).__name__}, no missing or unexpected keys")
rows = [json.loads(l) for l in open(dev)]
gold, pred = [], []
for r in rows:
    enc = tok(r["tokens"], is_split_into_words=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        ids = model(**enc).logits[0].argmax(-1).tolist()
    words, seen = ["O"] * len(r["tokens"]), set()
    for i, w in enumerate(enc.word_ids()):
        if w is not None and w not in seen:
            seen.add(w)
            words[w] = model.config.id2label[ids[i]]
    gold.append(r["tags"])
    pred.append(words)
report = json.load(open(ev))
want = {"f1": sm.f1_score(gold, pred), "precision": sm.precision_score(gold, pred),
        "recall": sm.recall_score(gold, pred), "accuracy": sm.accuracy_score(gold, pred)}
assert want["f1"] > 0.3, want  # it learnt something: the predictions below are not all "O"
for k, v in want.items():
    assert abs(report[k] - v) <= 1e-12, (k, report[k], v)
print("    eval: " + ", ".join(f"{k} {report[k]:.4f} (seqeval {v:.4f})" for k, v in want.items()))
# The pipeline's own postprocess over the logits of verto's windows (a text that fits: one window, the
# model's logits as the pipeline computes them): windows of 62 tokens stepping by 31, each token's logits
# from the window where it is farthest from an edge (the first such window on ties).
pipe = tf.pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple")
tok.model_max_length = 10**6  # preprocess: the whole text, which window_logits reads in windows
def window_logits(ids):
    n, w = len(ids) - 2, 62
    step = w // 2
    m = 1 if n <= w else 1 + -(-(n - w) // step)
    out, depth = torch.zeros(len(ids), model.config.num_labels), [-1] * len(ids)
    for j in range(m):
        ww = min(n, w)
        start = min(j * step, n - ww)
        row = [ids[0]] + ids[1 + start:1 + start + ww] + [ids[-1]]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([row])).logits[0]
        for i in range(len(row)):
            at = i if i == 0 else len(ids) - 1 if i == len(row) - 1 else 1 + start + i - 1
            d = 0 if i in (0, len(row) - 1) else min(i - 1, ww - i)
            if d > depth[at]:
                depth[at], out[at] = d, logits[i]
    return out
lines = open(texts).read().split("\n")[:-1]
logits = []
for text in lines:
    inputs = next(iter(pipe.preprocess(text, is_split_into_words=False)))
    logits.append((inputs, window_logits(inputs["input_ids"][0].tolist())))
windows = sum(x["input_ids"].shape[1] > 64 for x, _ in logits)
assert windows >= 2
KEYS = {"none": ("entity", "index", "word", "start", "end")}
for agg in ("none", "simple", "first", "average", "max"):
    got = [json.loads(l) for l in open(f"{preds}-{agg}.jsonl")]
    assert len(got) == len(lines)
    keys = KEYS.get(agg, ("entity_group", "word", "start", "end"))
    worst, n = 0.0, 0
    for text, g, (inputs, lg) in zip(lines, got, logits):
        outputs = dict(inputs)
        outputs.update({"logits": lg[None], "word_ids": None, "word_to_chars_map": None})
        w = pipe.postprocess([outputs], aggregation_strategy=tf.pipelines.token_classification.AggregationStrategy(agg))
        assert [tuple(e[k] for k in keys) for e in g] == [tuple(e[k] for k in keys) for e in w], (agg, text, g, w)
        worst = max([worst] + [abs(a["score"] - float(b["score"])) for a, b in zip(g, w)])
        n += len(g)
    print(f"    predict --aggregation {agg}: {n} entities in {len(lines)} texts ({windows} read as windows) "
          f"as the pipeline's, scores within {worst:.2g}")
    assert n > 0
    assert worst <= 1e-5
PY
done

echo "--- serve (BERT)"
start_server "$tmp/bert-ner" "$tmp/server.log"
"$py" -c 'import json,sys; print(json.dumps({"inputs": [{"text": t} for t in open(sys.argv[1]).read().split("\n")[:-1]]}))' \
    "$tmp/dev.txt" >"$tmp/req.json"
curl -s --data-binary @"$tmp/req.json" "http://127.0.0.1:$port/v1/token-classification" >"$tmp/served.json"
for agg in none average; do
    "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); r["aggregation_strategy"]=sys.argv[2]; print(json.dumps(r))' \
        "$tmp/req.json" "$agg" >"$tmp/req-$agg.json"
    curl -s --data-binary @"$tmp/req-$agg.json" "http://127.0.0.1:$port/v1/token-classification" >"$tmp/served-$agg.json"
done
curl -s -o "$tmp/badagg.json" -w '%{http_code}' --data-binary '{"text": "a", "aggregation_strategy": "mean"}' \
    "http://127.0.0.1:$port/v1/token-classification" >"$tmp/badagg.code"
curl -s -o "$tmp/pair.json" -w '%{http_code}' --data-binary '{"inputs": [{"text": "a", "text_b": "b"}]}' \
    "http://127.0.0.1:$port/v1/token-classification" >"$tmp/pair.code"
curl -s "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
stop_server
check "serve /v1/model says token-classification" grep -q '"task": "token-classification"' "$tmp/model.json"
check "serve /v1/token-classification equals verto predict (windows included)" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1]))["results"]; want = [json.loads(l) for l in open(sys.argv[2])]
assert served == want, (len(served), len(want))' "$tmp/served.json" "$tmp/bert-pred.jsonl"
check "serve refuses a pair with 400" grep -qx 400 "$tmp/pair.code"
for agg in none average; do
    check "serve with \"aggregation_strategy\": \"$agg\" equals verto predict --aggregation $agg" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1]))["results"]; want = [json.loads(l) for l in open(sys.argv[2])]
assert served == want, (len(served), len(want))' "$tmp/served-$agg.json" "$tmp/bert-pred-$agg.jsonl"
done
check "serve refuses an unknown aggregation_strategy with 400 naming the field" \
    sh -c "grep -qx 400 '$tmp/badagg.code' && grep -q aggregation_strategy '$tmp/badagg.json'"
check "predict refuses an unknown --aggregation" \
    sh -c "! '$verto' predict --model '$tmp/bert-ner' --aggregation mean x 2>'$tmp/agg.err' && grep -q aggregation '$tmp/agg.err'"

if [ "$failures" -ne 0 ]; then echo "test_ner_cli: $failures check(s) failed"; exit 1; fi
echo "test_ner_cli: all checks passed"
