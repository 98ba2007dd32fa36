#!/usr/bin/env bash
# verto auto, real runs with small numbers:
#   - the shipped spam sample with a 30-second budget: the baseline runs (its
#     time counted), nothing else fits, and the report says so; best/ is the
#     baseline; the dev and test figures in report.json equal `verto eval
#     --json` on OUT/best (exactly: the same binary on the same files);
#   - a small cut of the spam sample (80/24/30 emails, the first 400 bytes of
#     each; the 80 whole emails as --unlabelled text) with a random BERT-tiny
#     encoder without heads (as sentence-transformers ship) as --init and a
#     90-second budget: continued pretraining is considered, not refused for
#     the missing MLM head (on a 2-core machine 20 steps do not fit, and the
#     report says so); fine-tuning
#     candidates run; the chosen one has the best dev macro F1 (then accuracy) of the finished
#     ones (dev only: test figures appear for the chosen one and the baseline
#     only); its report figures equal eval on OUT/best; predict reads OUT/best;
#     the whole run stays within the budget plus the 15-s grace of a stopped
#     step and start-up (+20 s);
#   - bad input: no --dev, a label only in dev (naming dev's file and line), a
#     missing --budget-minutes, an --init that is not a directory, an
#     unreadable --unlabelled file: a non-zero status and a message saying what.
set -euo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"
spam=data/spam

# report.json's DEV_OR_TEST eval of the chosen candidate equals eval --json on OUT/best
same_as_eval() { # OUT KEY DATA
    "$verto" eval --model "$1/best" --data "$3" --json > "$tmp/eval.json" &&
    "$py" - "$1/report.json" "$2" "$tmp/eval.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
chosen = next(c for c in r["candidates"] if c["name"] == r["chosen"])
want = json.load(open(sys.argv[3]))
got = chosen[sys.argv[2]]
if got != want:
    sys.exit(f"report {sys.argv[2]} {got.get('accuracy')} != eval {want.get('accuracy')}")
PY
}

# the cut of the spam sample used below (and, for sanitised binaries, which take over 30 s for the
# baseline on the whole sample, in the first run too)
"$py" - "$spam" "$tmp" <<'PY'
import json, sys
for name, n in (("train", 80), ("dev", 24), ("test", 30)):
    rows = [json.loads(l) for l in open(f"{sys.argv[1]}/{name}.jsonl")][:n]
    with open(f"{sys.argv[2]}/{name}.jsonl", "w") as f:
        for r in rows: f.write(json.dumps({"text": r["text"][:400], "label": r["label"]}) + "\n")
    if name == "train":
        open(f"{sys.argv[2]}/text.txt", "w").write("\n\n".join(r["text"] for r in rows))
PY
first=$spam
[ "${VT_SANITIZED:-0}" = 1 ] && first=$tmp
echo "$first, 30-second budget: a baseline-only report that says why"
out=$tmp/spam
"$verto" auto --train $first/train.jsonl --dev $first/dev.jsonl --test $first/test.jsonl --budget-minutes 0.5 \
    -o "$out" > "$tmp/spam.out" 2> "$tmp/spam.err" || { cat "$tmp/spam.err"; exit 1; }
check "report files written" test -s "$out/report.md" -a -s "$out/report.html" -a -s "$out/report.json" -a -s "$out/dev-accuracy.svg"
check "the baseline is chosen" "$py" -c "import json,sys; r=json.load(open('$out/report.json')); sys.exit(r['chosen'] != 'baseline')"
check "the report says why only the baseline ran" grep -q "baseline only" "$out/report.md"
check "best/ is the baseline's directory" grep -q verto-tfidf-lr "$out/best/config.json"
check "report's dev figures = eval --json on best" same_as_eval "$out" dev_eval $first/dev.jsonl
check "report's test figures = eval --json on best" same_as_eval "$out" test_eval $first/test.jsonl
check "progress shown on stderr" grep -q "^\[auto 0:" "$tmp/spam.err"

echo "a small cut of spam, a random BERT-tiny encoder (no heads) as --init, a 90-second budget"
"$verto" vocab --size 1000 -o "$tmp/vocab.txt" "$tmp/text.txt" > /dev/null
"$verto" init --config tiny --vocab "$tmp/vocab.txt" -o "$tmp/tiny-mlm" --seed 1 > /dev/null
"$py" -c "from transformers import BertModel; BertModel.from_pretrained('$tmp/tiny-mlm').save_pretrained('$tmp/tiny')" 2>/dev/null
cp "$tmp"/tiny-mlm/{vocab.txt,tokenizer.json,tokenizer_config.json} "$tmp/tiny/"
out=$tmp/small
start=$(date +%s)
"$verto" auto --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" --test "$tmp/test.jsonl" --init "$tmp/tiny" \
    --unlabelled "$tmp/text.txt" --budget-minutes 1.5 -o "$out" > "$tmp/small.out" 2> "$tmp/small.err" || { cat "$tmp/small.err"; exit 1; }
took=$(( $(date +%s) - start ))
cat "$tmp/small.out"
check "within the budget ($took s of 90 + 20)" test "$took" -le 110
check "chosen on dev only; test figures only for the chosen one and the baseline" "$py" - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
done = [c for c in r["candidates"] if c["state"] == "done"]
key = lambda c: (c["dev_eval"]["macro_f1"], c["dev_eval"]["accuracy"])  # macro F1, then accuracy
best = max(key(c) for c in done)
chosen = next(c for c in r["candidates"] if c["name"] == r["chosen"])
assert key(chosen) == best, "chosen is not the dev-best"
assert next(c for c in done if key(c) == best)["name"] == chosen["name"], "ties go to the earlier candidate"
for c in r["candidates"]:
    assert ("test_eval" in c) == (c["name"] in (r["chosen"], "baseline")), c["name"]
assert r["total_s"] <= r["budget_s"], "over budget"
PY
if [ "${VT_SANITIZED:-0}" != 1 ]; then # sanitised binaries are too slow for a candidate to finish in 90 s
    check "a fine-tuning candidate finished" grep -q '"state": "done"' <("$py" -c "
import json; r=json.load(open('$out/report.json'))
for c in r['candidates'][1:]: print(json.dumps({'state': c['state']}))")
fi
check "report's dev figures = eval --json on best" same_as_eval "$out" dev_eval "$tmp/dev.jsonl"
check "report's test figures = eval --json on best" same_as_eval "$out" test_eval "$tmp/test.jsonl"
every_candidate_as_eval() { # OUT DEV: each finished candidate's dev figures = eval --json on its directory
    "$py" -c "
import json; r = json.load(open('$1/report.json'))
for c in r['candidates']:
    if c['state'] == 'done': print(c['name'], c['model_dir'])" > "$tmp/cands.txt" || return 1
    while read -r name dir; do
        "$verto" eval --model "$dir" --data "$2" --json > "$tmp/c.json" || return 1
        "$py" -c "
import json, sys; r = json.load(open('$1/report.json'))
c = next(c for c in r['candidates'] if c['name'] == '$name')
sys.exit(c['dev_eval'] != json.load(open('$tmp/c.json')))" || { echo "    $name differs"; return 1; }
    done < "$tmp/cands.txt"
}
check "every finished candidate's dev figures = eval --json on its directory" every_candidate_as_eval "$out" "$tmp/dev.jsonl"
check "predict reads best/" sh -c "\"\$0\" predict --model \"\$1/best\" --jsonl --input \"\$2\" > /dev/null" "$verto" "$out" "$tmp/dev.jsonl"
check "the SVG is in the HTML report" grep -q "<svg" "$out/report.html"
check "continued pretraining considered (run, or why not)" grep -q "continued pretraining" "$out/report.md"
check "time left after the search: more pretraining and a candidate from it, or a note saying why not" \
    "$py" - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
notes = " ".join(r["notes"])
if "the search ended with" not in notes:
    sys.exit(0)  # the budget ran out first: nothing was left to spend
more = [c for c in r["candidates"] if c["name"].startswith("more1-")]
if more:
    assert "more MLM+NSP steps" in more[0]["recipe"], more[0]["recipe"]
    assert "more pretraining (round 1)" in notes, notes
else:
    assert "left unused" in notes or "more pretraining (round 1)" in notes, notes
# after a round's repeated setting, the settings tried around it on the new base run all their epochs
for k in range(1, 5):
    for c in [c for c in r["candidates"] if c["name"].startswith(f"more{k}-")][1:]:
        assert "epochs fit the time left" not in c.get("note", ""), c
PY
check "continued pretraining not refused for the missing MLM head" test -z "$(grep 'continued pretraining of --init not tried' "$out/report.md")"

echo "bad input"
fails_with() { # MESSAGE ARGS...
    local msg=$1; shift
    if "$verto" auto "$@" > "$tmp/bad.out" 2> "$tmp/bad.err"; then echo "    (succeeded)"; return 1; fi
    grep -q -- "$msg" "$tmp/bad.err" || { echo "    got: $(cat "$tmp/bad.err")"; return 1; }
}
printf '{"text": "a dev text", "label": "eggs"}\n' > "$tmp/dev-new-label.jsonl"
check "no --dev" fails_with "needs --dev" --train "$tmp/train.jsonl" --budget-minutes 1 -o "$tmp/x"
check "a label only in dev names dev's line" fails_with "dev-new-label.jsonl:1" --train "$tmp/train.jsonl" \
    --dev "$tmp/dev-new-label.jsonl" --budget-minutes 1 -o "$tmp/x"
check "no budget" fails_with "budget-minutes" --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" -o "$tmp/x"
check "--init not a directory" fails_with "not a directory" --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" \
    --init "$tmp/train.jsonl" --budget-minutes 1 -o "$tmp/x"
check "unreadable --unlabelled" fails_with "no-such.txt" --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" \
    --unlabelled "$tmp/no-such.txt" --budget-minutes 1 -o "$tmp/x"
check "nothing written on bad input" test ! -e "$tmp/x"
check "a budget too short for the baseline: a clear error" fails_with "the baseline did not finish" \
    --train $spam/train.jsonl --dev $spam/dev.jsonl --budget-minutes 0.02 -o "$tmp/y"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all auto checks passed"
