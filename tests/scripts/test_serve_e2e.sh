#!/usr/bin/env bash
# verto serve end to end over loopback, with curl as the client.
#
# A tiny classifier (L2/H32, 64 positions, a 1000-token vocabulary built from
# the spam data) is fine-tuned for one epoch on 48 rows of data/spam. Then:
#   - every endpoint: /healthz, /v1/model, /v1/classify (single and "inputs"),
#     /v1/embed (cls / mean, normalize), /metrics;
#   - 40 texts (short, long enough to be truncated, non-ASCII) and 12 pairs
#     sent as 8 concurrent single requests at a time (so that they are batched
#     with each other) and as one "inputs" request: each result must equal
#     `verto predict` for the same text (run one text per forward pass),
#     number for number as printed, and
#     "truncated" must be true exactly for the texts over 64 tokens
#     (`verto tokenize` counts them); embeddings must equal `verto embed`;
#   - every kind of bad input gets its 4xx with {"error": "..."} and the
#     service keeps answering: invalid JSON, wrong types, missing, unknown and
#     repeated fields, empty text, invalid UTF-8, \u0000, a body over
#     --max-body-bytes (with Content-Length and chunked), an unknown path, a
#     wrong method;
#   - /metrics counts those answers by endpoint and status;
#   - SIGTERM with requests waiting in the batcher: they are answered (200,
#     correct), new connections are refused, the process exits 0.
# Under `make test-asan` (VT_BUILD=build-asan) the same runs against the
# sanitized binary, whose exit status includes LeakSanitizer's verdict.
set -euo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
command -v curl >/dev/null || { echo "error: test_serve_e2e.sh needs curl (Debian package curl)" >&2; exit 1; }
[ -x "$verto" ] || { echo "error: $verto not built" >&2; exit 1; }
tmp=$(mktemp -d)
. "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

# ---- a small fine-tuned classifier ----
head -n 48 data/spam/train.jsonl >"$tmp/train.jsonl"
head -n 12 data/spam/dev.jsonl >"$tmp/dev.jsonl"
"$py" -c 'import json,sys
with open(sys.argv[2], "w") as f:
    for l in open(sys.argv[1]): f.write(json.loads(l)["text"] + "\n")' "$tmp/train.jsonl" "$tmp/corpus.txt"
echo '{"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
       "max_position_embeddings": 64, "vocab_size": 1000}' >"$tmp/cfg.json"
"$verto" vocab --size 1000 -o "$tmp/vocab.txt" "$tmp/corpus.txt" >/dev/null
"$verto" init --config-json "$tmp/cfg.json" --vocab "$tmp/vocab.txt" -o "$tmp/base" >/dev/null
"$verto" finetune --init "$tmp/base" --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" -o "$tmp/model" \
    --epochs 1 --lr 1e-3 --batch-size 8 --max-seq-length 64 >/dev/null 2>&1
model=$tmp/model

# ---- inputs and what verto predict / embed / tokenize say about them ----
"$py" - "$tmp" <<'PY'
import json, random, sys
tmp = sys.argv[1]
random.seed(7)
rows = [json.loads(l)["text"] for l in open("data/spam/test.jsonl")]
texts = [r[:random.randint(3, 300)] for r in rows[:30]]
texts += [r[:3000] for r in rows[30:36]]                 # truncated to 64 tokens
texts += ["Caf\u00e9 na\u00efve \u201cquoted\u201d \u00e9t\u00e9 \u4e2d\u6587 \U0001F600!", "a", "[CLS] x [SEP]",
          "tab\there \"quoted\" back\\slash"]
pairs = [{"text": rows[40 + i][:random.randint(3, 200)], "text_b": rows[60 + i][:random.randint(3, 400)]}
         for i in range(12)]
with open(f"{tmp}/texts.jsonl", "w") as f:
    for t in texts: f.write(json.dumps({"text": t}) + "\n")
with open(f"{tmp}/pairs.jsonl", "w") as f:
    for p in pairs: f.write(json.dumps(p) + "\n")
with open(f"{tmp}/lines.txt", "w") as f:            # for verto embed / tokenize: one text per line
    for t in texts: f.write(t.replace("\n", " ").replace("\r", " ") + "\n")
with open(f"{tmp}/lines.jsonl", "w") as f:
    for t in open(f"{tmp}/lines.txt").read().split("\n")[:-1]: f.write(json.dumps({"text": t}) + "\n")
for name, items in (("texts", [{"text": t} for t in texts]), ("pairs", pairs)):
    for i, it in enumerate(items):
        json.dump(it, open(f"{tmp}/{name}.{i}.json", "w"))
    json.dump({"inputs": items}, open(f"{tmp}/{name}.batch.json", "w"))
PY
"$verto" tokenize --vocab "$model" --input "$tmp/lines.txt" >"$tmp/tokens.txt"
# No padding in the references: a text padded to a longer neighbour in its
# batch can round differently in the last digit, so "what verto predict gives
# for a text" is its result in a batch of its own length. verto predict runs
# with --batch-size 1; verto embed (batches of 32) gets the texts grouped by
# token length, each group filled up to a multiple of 32 lines.
"$verto" predict --model "$model" --batch-size 1 --jsonl --input "$tmp/texts.jsonl" >"$tmp/predict_texts.jsonl"
"$verto" predict --model "$model" --batch-size 1 --jsonl --input "$tmp/pairs.jsonl" >"$tmp/predict_pairs.jsonl"
"$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
lines = open(f"{tmp}/lines.txt").read().split("\n")[:-1]
lengths = [len(l.split()) for l in open(f"{tmp}/tokens.txt")]
groups = {}
for i, k in enumerate(lengths): groups.setdefault(k, []).append(i)
order = []
for k in sorted(groups):
    g = groups[k]
    order += g + [g[0]] * (-len(g) % 32)
open(f"{tmp}/embed_in.txt", "w").write("".join(lines[i] + "\n" for i in order))
json.dump({i: order.index(i) for i in range(len(lines))}, open(f"{tmp}/embed_map.json", "w"))
PY
"$verto" embed --model "$model" --input "$tmp/embed_in.txt" >"$tmp/embed_cls.grouped"
"$verto" embed --model "$model" --pooling mean --normalize --input "$tmp/embed_in.txt" >"$tmp/embed_mean.grouped"
for p in cls mean; do
    "$py" -c 'import json,sys
m = json.load(open(sys.argv[1])); out = open(sys.argv[2]).read().split("\n")
open(sys.argv[3], "w").write("".join(out[m[str(i)]] + "\n" for i in range(len(m))))' \
        "$tmp/embed_map.json" "$tmp/embed_$p.grouped" "$tmp/embed_$p.txt"
done

# ---- the server ----
start_server() { # log, extra options...
    local log=$1; shift
    "$verto" serve --model "$model" --port 0 "$@" 2>"$log" & # a later --model wins
    server_pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" -w '%{http_code}' | grep -q 200 && break
        kill -0 "$server_pid" 2>/dev/null || { echo "error: verto serve exited:"; cat "$log"; exit 1; }
        sleep 0.1
    done
    url=http://127.0.0.1:$port
    curl -s -o /dev/null -w '%{http_code}' "$url/healthz" | grep -q 200 || { echo "error: never ready"; cat "$log"; exit 1; }
}
# status of a request: status_of OUTFILE curl-args...
status_of() { local out=$1; shift; curl -s -o "$out" -w '%{http_code}' "$@"; }

echo "--- endpoints"
start_server "$tmp/server.log" --max-body-bytes 65536 --max-wait-ms 2
check "GET /healthz is 200 {\"status\": \"ok\"}" \
    test "$(status_of "$tmp/h.json" "$url/healthz")$(cat "$tmp/h.json")" = '200{"status": "ok"}'
check "GET /v1/model names the model, its labels and sizes" "$py" -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["labels"] == ["ham", "spam"] and m["num_labels"] == 2, m
assert m["hidden_size"] == 32 and m["num_hidden_layers"] == 2 and m["max_seq_length"] == 64, m
assert m["architecture"] == "BertForSequenceClassification" and m["name"] == "model" and m["parameters"] > 0, m
' <(curl -sf "$url/v1/model")
check "HEAD /healthz is 200" test "$(curl -s -o /dev/null -I -w '%{http_code}' "$url/healthz")" = 200

check "docs/openapi.yaml parses and documents every endpoint" "$py" -c '
import yaml
d = yaml.safe_load(open("docs/openapi.yaml"))
assert d["openapi"].startswith("3.") and set(d["paths"]) == {"/v1/classify", "/v1/embed", "/v1/question-answering", "/v1/token-classification", "/v1/explain", "/", "/healthz", "/v1/model", "/metrics"}'

echo "--- results equal verto predict / verto embed"
for set in texts pairs; do
    n=$(wc -l <"$tmp/$set.jsonl")
    seq 0 $((n - 1)) | xargs -P 8 -I{} curl -sf -o "$tmp/$set.{}.out" -d @"$tmp/$set.{}.json" "$url/v1/classify"
    curl -sf -o "$tmp/$set.batch.out" --data-binary @"$tmp/$set.batch.json" "$url/v1/classify"
done
# expected truncation: more than 64 tokens with [CLS] and [SEP]
compare_classify() { # set, n
    "$py" - "$tmp" "$1" "$2" <<'PY'
import json, sys
tmp, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = [json.loads(l, parse_float=str) for l in open(f"{tmp}/predict_{name}.jsonl")]
assert len(want) == n, (len(want), n)
single = [json.loads(open(f"{tmp}/{name}.{i}.out").read(), parse_float=str) for i in range(n)]
batch = json.loads(open(f"{tmp}/{name}.batch.out").read(), parse_float=str)["results"]
bad = 0
for i in range(n):
    for got in (single[i], dict(batch[i])):
        t = got.pop("truncated")
        assert isinstance(t, bool), got
        if got != want[i]:
            bad += 1
            print(f"    input {i}: serve {got} != predict {want[i]}")
sys.exit(1 if bad else 0)
PY
}
check "40 texts (8 concurrent singles, and one inputs request) equal verto predict exactly" \
    compare_classify texts "$(wc -l <"$tmp/texts.jsonl")"
check "12 text pairs equal verto predict exactly" compare_classify pairs "$(wc -l <"$tmp/pairs.jsonl")"
check "\"truncated\" is true exactly for the texts over 64 tokens" "$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
ntok = [len(l.split()) for l in open(f"{tmp}/tokens.txt")]
batch = json.load(open(f"{tmp}/texts.batch.out"))["results"]
assert len(ntok) == len(batch), (len(ntok), len(batch))
for i, (k, r) in enumerate(zip(ntok, batch)):
    assert r["truncated"] == (k > 64), (i, k, r["truncated"])
assert sum(r["truncated"] for r in batch) >= 6
PY
curl -sf -o "$tmp/embed_cls.out" --data-binary @"$tmp/texts.batch.json" "$url/v1/embed"
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["pooling"]="mean"; d["normalize"]=True; json.dump(d, open(sys.argv[2],"w"))' \
    "$tmp/texts.batch.json" "$tmp/texts.mean.json"
curl -sf -o "$tmp/embed_mean.out" --data-binary @"$tmp/texts.mean.json" "$url/v1/embed"
curl -sf -o "$tmp/embed_one.out" -d @"$tmp/texts.0.json" "$url/v1/embed"
compare_embed() { # served, verto embed output
    "$py" - "$1" "$2" "$tmp/texts.0.json" <<'PY'
import json, sys
got = json.loads(open(sys.argv[1]).read(), parse_float=str)["results"]
want = [json.loads(l, parse_float=str) for l in open(sys.argv[2])]
assert len(got) == len(want) and all(g["embedding"] == w for g, w in zip(got, want)), "embeddings differ"
assert all(len(g["embedding"]) == 32 for g in got)
PY
}
check "/v1/embed (cls) equals verto embed" compare_embed "$tmp/embed_cls.out" "$tmp/embed_cls.txt"
check "/v1/embed (mean, normalize) equals verto embed --pooling mean --normalize" \
    compare_embed "$tmp/embed_mean.out" "$tmp/embed_mean.txt"
check "/v1/embed single text gives {\"embedding\", \"truncated\"}" "$py" -c '
import json, sys
d = json.loads(open(sys.argv[1]).read(), parse_float=str)
w = json.loads(open(sys.argv[2]).readline(), parse_float=str)
assert d["embedding"] == w and d["truncated"] is False and set(d) == {"embedding", "truncated"}, d' \
    "$tmp/embed_one.out" "$tmp/embed_cls.txt"

echo "--- bad input gets a 4xx with {\"error\": ...}"
bad() { # description, expected status, curl args...
    local what=$1 want=$2; shift 2
    local got
    got=$(status_of "$tmp/bad.out" "$@" || true)
    if [ "$got" = "$want" ] && "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)==["error"] and d["error"]' "$tmp/bad.out" 2>/dev/null; then
        echo "  ok: $what -> $got $(cat "$tmp/bad.out")"
    else
        echo "  FAILED: $what -> $got (want $want) $(head -c 300 "$tmp/bad.out")"
        failures=$((failures + 1))
    fi
}
C=$url/v1/classify
bad "invalid JSON" 400 -d '{"text": "x"' "$C"
bad "not JSON at all" 400 -d 'hello' "$C"
bad "trailing garbage" 400 -d '{"text": "x"} {}' "$C"
bad "empty body" 400 -X POST "$C"
bad "a JSON array" 400 -d '["x"]' "$C"
bad "text of the wrong type" 400 -d '{"text": 5}' "$C"
bad "text_b of the wrong type" 400 -d '{"text": "a", "text_b": ["b"]}' "$C"
bad "inputs not an array" 400 -d '{"inputs": {"text": "a"}}' "$C"
bad "an input not an object" 400 -d '{"inputs": ["a"]}' "$C"
bad "empty inputs" 400 -d '{"inputs": []}' "$C"
bad "missing text" 400 -d '{"text_b": "a"}' "$C"
bad "missing text in an input" 400 -d '{"inputs": [{"text": "a"}, {"text_b": "b"}]}' "$C"
bad "unknown field" 400 -d '{"text": "a", "lang": "en"}' "$C"
bad "unknown field in an input" 400 -d '{"inputs": [{"text": "a", "x": 1}]}' "$C"
bad "repeated field" 400 -d '{"text": "a", "text": "b"}' "$C"
bad "both text and inputs" 400 -d '{"text": "a", "inputs": [{"text": "b"}]}' "$C"
bad "empty text" 400 -d '{"text": ""}' "$C"
bad "empty text in an input" 400 -d '{"inputs": [{"text": "a"}, {"text": ""}]}' "$C"
bad "empty text_b" 400 -d '{"text": "a", "text_b": ""}' "$C"
bad "an escaped NUL" 400 -d '{"text": "a\u0000b"}' "$C"
bad "a lone surrogate escape" 400 -d '{"text": "a\udc00b"}' "$C"
printf '{"text": "caf\xc3 \xff\xfe"}' >"$tmp/invalid_utf8.json"
bad "invalid UTF-8" 400 --data-binary @"$tmp/invalid_utf8.json" "$C"
printf '{"text": "\xed\xa0\x80"}' >"$tmp/surrogate.json"
bad "UTF-8 encoded surrogate" 400 --data-binary @"$tmp/surrogate.json" "$C"
printf '{"text": "\xc0\xaf"}' >"$tmp/overlong.json"
bad "overlong UTF-8" 400 --data-binary @"$tmp/overlong.json" "$C"
bad "embed: pooling not cls/mean" 400 -d '{"text": "a", "pooling": "max"}' "$url/v1/embed"
bad "embed: normalize not a boolean" 400 -d '{"text": "a", "normalize": "yes"}' "$url/v1/embed"
bad "classify: pooling is an unknown field" 400 -d '{"text": "a", "pooling": "cls"}' "$C"
"$py" -c 'import json,sys; open(sys.argv[1],"w").write(json.dumps({"text": "spam " * 14000}))' "$tmp/big.json"
bad "body over --max-body-bytes (Content-Length)" 413 --data-binary @"$tmp/big.json" "$C"
bad "body over --max-body-bytes (chunked)" 413 -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big.json" "$C"
bad "unknown path" 404 "$url/v1/nothing"
bad "unknown path (POST)" 404 -d '{"text": "a"}' "$url/classify"
bad "wrong method on /v1/classify" 405 "$C"
bad "wrong method on /healthz" 405 -X DELETE "$url/healthz"
bad "wrong method on /metrics" 405 -d 'x' "$url/metrics"
check "405 names the allowed method (Allow: POST)" \
    sh -c "curl -s -i -X PUT '$C' | tr -d '\r' | grep -qx 'Allow: POST'"
check "still serving after the bad input (healthz, and a classification equal to predict)" "$py" -c '
import json, sys
got = json.loads(open(sys.argv[1]).read(), parse_float=str); got.pop("truncated")
assert got == json.loads(open(sys.argv[2]).readline(), parse_float=str)' \
    <(curl -sf -d @"$tmp/texts.0.json" "$C") "$tmp/predict_texts.jsonl"

echo "--- metrics"
curl -sf "$url/metrics" >"$tmp/metrics.txt"
check "/metrics is Prometheus text with counts by endpoint and status, latency and batch histograms, in-flight" "$py" - "$tmp/metrics.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
samples = {}
for line in text.splitlines():
    if line.startswith("#"):
        assert re.match(r"# (HELP|TYPE) verto_\w+ ", line), line
        continue
    m = re.match(r'^(verto_\w+)(\{[^}]*\})? (\S+)$', line)
    assert m, line
    samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
def get(k): return samples.get(k, 0)
# 40 + 12 single requests, 2 "inputs" requests, 1 after the bad input
assert get('verto_requests_total{endpoint="/v1/classify",status="200"}') == 55, get('verto_requests_total{endpoint="/v1/classify",status="200"}')
assert get('verto_requests_total{endpoint="/v1/classify",status="400"}') == 25
assert get('verto_requests_total{endpoint="/v1/classify",status="413"}') == 2
assert get('verto_requests_total{endpoint="/v1/classify",status="405"}') >= 2
assert get('verto_requests_total{endpoint="other",status="404"}') == 2
assert get('verto_requests_total{endpoint="/v1/embed",status="200"}') == 3
assert get('verto_requests_total{endpoint="/healthz",status="405"}') == 1
assert get('verto_request_duration_seconds_count{endpoint="/v1/classify"}') == 84
assert get('verto_request_duration_seconds_bucket{endpoint="/v1/classify",le="+Inf"}') == \
       get('verto_request_duration_seconds_count{endpoint="/v1/classify"}')
# inputs through the model: classify 2 x (40 + 12) + 1, embed 40 + 40 + 1
assert get("verto_batch_size_sum") == 186 and 1 <= get("verto_batch_size_count") <= 186, get("verto_batch_size_sum")
assert get("verto_requests_in_flight") == 1   # this very request
assert get("verto_model_ready") == 1 and "verto_queued_inputs" in text
PY
kill -TERM "$server_pid"
rc=0; wait "$server_pid" || rc=$?
check "SIGTERM when idle: exit 0" test "$rc" = 0
check "the server log has no sanitizer report" sh -c "! grep -q 'Sanitizer' '$tmp/server.log'"

echo "--- SIGTERM with requests waiting in the batcher"
start_server "$tmp/drain.log" --max-batch 64 --max-wait-ms 3000
for i in 0 1 2 3 4; do curl -s -o "$tmp/drain.$i.out" -w '%{http_code}' -d @"$tmp/texts.$i.json" "$url/v1/classify" >"$tmp/drain.$i.code" & done
queued=0
for _ in $(seq 1 100); do
    queued=$(curl -s "$url/metrics" | awk '$1 == "verto_queued_inputs" {print $2}')
    [ "$queued" = 5 ] && break
    sleep 0.05
done
check "5 requests wait in the batcher (verto_queued_inputs 5)" test "$queued" = 5
kill -TERM "$server_pid"
sleep 0.3
check "after SIGTERM, new connections are refused" sh -c "! curl -s -o /dev/null --max-time 2 '$url/healthz'"
rc=0; wait "$server_pid" || rc=$?
wait # the curl clients
check "after SIGTERM, the server exits 0" test "$rc" = 0
check "the 5 waiting requests were answered 200, equal to verto predict" "$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
want = [json.loads(l, parse_float=str) for l in open(f"{tmp}/predict_texts.jsonl")]
for i in range(5):
    assert open(f"{tmp}/drain.{i}.code").read() == "200", i
    got = json.loads(open(f"{tmp}/drain.{i}.out").read(), parse_float=str)
    got.pop("truncated")
    assert got == want[i], (i, got, want[i])
PY
check "the log says it finished them" grep -q "SIGTERM: finishing 5 request" "$tmp/drain.log"
check "the drain log has no sanitizer report" sh -c "! grep -q 'Sanitizer' '$tmp/drain.log'"

echo "--- start-up failures"
start_server "$tmp/base.log" --model "$tmp/base"
check "a model without a classifier (BertForPreTraining): /v1/classify is 400" \
    test "$(status_of "$tmp/base.out" -d '{"text": "a"}' "$url/v1/classify")" = 400
check "... and /v1/embed serves its encoder (equal to verto embed)" "$py" -c '
import json, subprocess, sys
got = json.loads(open(sys.argv[1]).read(), parse_float=str)["embedding"]
want = json.loads(subprocess.run([sys.argv[2], "embed", "--model", sys.argv[3], "hello there"], capture_output=True,
                                 text=True, check=True).stdout, parse_float=str)
assert got == want, (got[:3], want[:3])' <(curl -sf -d '{"text": "hello there"}' "$url/v1/embed") "$verto" "$tmp/base"
kill -TERM "$server_pid"
rc=0; wait "$server_pid" || rc=$?
check "... and exits 0 on SIGTERM" test "$rc" = 0
check "a missing model directory: exit 1 with an error" sh -c \
    "! '$verto' serve --model '$tmp/nope' --port 0 2>'$tmp/fail2.log' && grep -q '^error: ' '$tmp/fail2.log'"
check "a port in use: exit 1 with an error" sh -c \
    "'$py' -c 'import socket,subprocess,sys
s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(1); p=s.getsockname()[1]
r=subprocess.run([sys.argv[1],\"serve\",\"--model\",sys.argv[2],\"--port\",str(p)],capture_output=True,text=True,timeout=60)
sys.exit(0 if r.returncode==1 and r.stderr.startswith(\"error: cannot listen\") else 1)' '$verto' '$model'"

echo
if [ "$failures" -ne 0 ]; then echo "test_serve_e2e: $failures check(s) FAILED"; exit 1; fi
echo "test_serve_e2e: all checks passed"
