#!/usr/bin/env bash
# verto explain against Captum's LayerIntegratedGradients and a NumPy
# attention rollout on random BERT, RoBERTa and DistilBERT classifiers
# (single-label, multi-label, regression; tolerances in
# tests/scripts/explain_reference.py), and its bad-input errors.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

"$py" tests/scripts/explain_reference.py "$verto" "$tmp" || failures=$((failures + 1))

fails_with() { # fails_with MESSAGE COMMAND...: a non-zero exit and MESSAGE on stderr
    local want=$1; shift
    ! "$@" >/dev/null 2>"$tmp/err" && grep -q -- "$want" "$tmp/err"
}
check "an unknown --target is refused" fails_with "neither a label" "$verto" explain --model "$tmp/bert" --target nope hi
check "an unknown --method is refused" fails_with "integrated-gradients or rollout" "$verto" explain --model "$tmp/bert" --method shap hi
check "riemann with 1 step is refused" fails_with "at least 2 steps" "$verto" explain --model "$tmp/bert" --rule riemann_left --steps 1 hi
check "a directory without a classifier is refused" fails_with "error:" "$verto" explain --model "$tmp/raw-bpe" hi
html_page() { # the page holds the words escaped, their attributions, and nothing fetched from elsewhere
    "$verto" explain --model "$tmp/bert" --steps 8 --html "$tmp/page.html" 'free <money> & more' >/dev/null &&
        grep -q 'data-attribution' "$tmp/page.html" && grep -q '>&lt;<' "$tmp/page.html" &&
        ! grep -Eq '(src|href)="?(https?:)?//' "$tmp/page.html"
}
check "--html writes a self-contained page" html_page

# Headless Chromium: the --html page's pixels, and serve's page for people.
chrome=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=20000)
text="Free money!!! Click here now to claim your prize"
"$verto" explain --model "$tmp/bert" --html "$tmp/page.html" "$text" >"$tmp/explain.json"
"${chrome[@]}" --window-size=1000,500 --screenshot="$tmp/page.png" "file://$tmp/page.html" >/dev/null 2>&1
html_pixels() { # the strongest green and red words are painted where they should be, in reading order
    "$py" - "$tmp/explain.json" "$tmp/page.png" <<'PY'
import json, sys
import numpy as np
from PIL import Image
e = json.load(open(sys.argv[1]))
img = np.asarray(Image.open(sys.argv[2]).convert("RGB")).astype(int)
words = e["words"]
top = max(abs(w["attribution"]) for w in words)
def colour(a):  # explain --html's rule: white mixed with green / red by 0.8 |a| / max
    c = (22, 163, 74) if a >= 0 else (220, 38, 38)
    share = 0.8 * abs(a) / top
    return [int(np.floor(255 + (v - 255) * share + 0.5)) for v in c]
found = []
for w in (max(words, key=lambda w: w["attribution"]), min(words, key=lambda w: w["attribution"])):
    hit = np.all(img == colour(w["attribution"]), axis=-1)
    ys, xs = np.nonzero(hit)
    print(f"    {w['text']!r} ({w['attribution']:+.3f}) painted {tuple(colour(w['attribution']))} on {hit.sum()} pixels")
    if hit.sum() < 20 * len(w["text"]):
        sys.exit(f"{w['text']!r}: too few pixels of its colour")
    found.append((w["start"], xs.mean(), ys.mean()))
(s0, x0, y0), (s1, x1, y1) = sorted(found)
if abs(y0 - y1) < 5 and not x0 < x1:
    sys.exit("the two words are painted out of reading order")
PY
}
check "--html in Chromium: the words' colours on the screenshot" html_pixels

start_server "$tmp/bert" "$tmp/serve.log"
curl -s "http://127.0.0.1:$port/v1/classify" -d "{\"text\": \"$text\"}" >"$tmp/classify.json"
curl -s "http://127.0.0.1:$port/v1/explain" -d "{\"text\": \"$text\"}" >"$tmp/serve-explain.json"
check "/v1/explain equals verto explain" "$py" -c "
import json, sys
a, b = json.load(open('$tmp/explain.json')), json.load(open('$tmp/serve-explain.json'))
sys.exit(a != b)"
check "/v1/explain refuses an unknown target" sh -c "curl -s -w '%{http_code}' 'http://127.0.0.1:$port/v1/explain' \
    -d '{\"text\": \"x\", \"target\": \"nope\"}' | grep -q '400\$'"
check "/v1/explain refuses 2000 steps" sh -c "curl -s -w '%{http_code}' 'http://127.0.0.1:$port/v1/explain' \
    -d '{\"text\": \"x\", \"steps\": 2000}' | grep -q '400\$'"
"${chrome[@]}" --dump-dom "http://127.0.0.1:$port/?text=$("$py" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$text")" \
    >"$tmp/dom.html" 2>/dev/null
page_answer() { # the page shows /v1/classify's label and /v1/explain's words in their colours
    "$py" - "$tmp/dom.html" "$tmp/classify.json" "$tmp/serve-explain.json" <<'PY'
import json, re, sys
dom, c, e = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
answer = re.search(r'<div id="answer">([^<]*)</div>', dom)
want = f"{c['label']} ({c['score']:.4f})"
if not answer or answer.group(1) != want:
    sys.exit(f"the page's answer is {answer and answer.group(1)!r}, /v1/classify's {want!r}")
spans = re.findall(r'<span class="w"[^>]*data-attribution="([^"]*)"[^>]*background: rgb\((\d+), (\d+), (\d+)\)[^>]*>([^<]*)</span>', dom)
top = max(abs(w["attribution"]) for w in e["words"])
if len(spans) != len(e["words"]):
    sys.exit(f"{len(spans)} highlighted words on the page, {len(e['words'])} from /v1/explain")
for (a, r, g, b, word), w in zip(spans, e["words"]):
    c = (22, 163, 74) if w["attribution"] >= 0 else (220, 38, 38)
    share = 0.8 * abs(w["attribution"]) / top
    rgb = [int(v) for v in (r, g, b)]
    if word != w["text"] or rgb != [int(255 + (v - 255) * share + 0.5) for v in c]:
        sys.exit(f"{word!r} {rgb}: /v1/explain says {w['text']!r} {w['attribution']}")
print(f"    the page shows {want} and {len(spans)} words coloured as /v1/explain's attributions")
PY
}
check "GET / in Chromium: the label and the highlighted words" page_answer
stop_server

same_json() { "$py" -c "import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))" "$1" "$2"; }
ner_text="Alice flew from Paris to Tokyo with Bob."
qa_line='{"question": "Who flew to Tokyo?", "context": "Alice flew from Paris to Tokyo with Bob last week."}'
"$verto" explain --model "$tmp/ner" "$ner_text" >"$tmp/ner-cli.json"
echo "$qa_line" | "$verto" explain --model "$tmp/qa" >"$tmp/qa-cli.json"
start_server "$tmp/ner" "$tmp/serve-ner.log"
curl -s "http://127.0.0.1:$port/v1/explain" -d "{\"text\": \"$ner_text\"}" >"$tmp/ner-serve.json"
check "/v1/explain of a token classifier equals verto explain's entities" same_json "$tmp/ner-cli.json" "$tmp/ner-serve.json"
stop_server
start_server "$tmp/qa" "$tmp/serve-qa.log"
curl -s "http://127.0.0.1:$port/v1/explain" -d "$qa_line" >"$tmp/qa-serve.json"
check "/v1/explain of a question-answering model equals verto explain's answer" same_json "$tmp/qa-cli.json" "$tmp/qa-serve.json"
check "/v1/explain of a question-answering model refuses a text" sh -c "curl -s -w '%{http_code}' \
    'http://127.0.0.1:$port/v1/explain' -d '{\"text\": \"x\"}' | grep -q '400\$'"
stop_server
[ "$failures" -eq 0 ]
