#!/usr/bin/env bash
# verto serve with a GPT-2 directory, POST /v1/completions end to end:
# - non-streamed and streamed (server-sent events) completions equal `verto
#   generate --json` with the same seed and options, for a prompt list too
#   (and with --precision bf16, greedy, equal to `verto generate --precision bf16`);
#   usage counts the prompt and generated tokens;
# - 8 concurrent clients (--max-batch 3: requests join and leave the running
#   batch between tokens) each get what they got alone;
# - hostile requests each get a 4xx (huge max_tokens, over the limit, past
#   n_positions, bad types, unknown fields, n > 1, 5 stop strings, invalid
#   UTF-8, GET), an unterminated body and a client that disconnects
#   mid-stream end cleanly: the slot is freed (the running gauge returns to
#   0) and the server still answers; /metrics counts requests and tokens;
# - SIGTERM stops it with status 0 (under ASan: nothing leaked).
set -uo pipefail
build=${VT_BUILD:-build}
root=$(pwd)
verto=$root/$build/verto
work=$(mktemp -d)
. "$root/tests/scripts/check.sh"
trap 'kill_server; rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

python3 "$root/tests/scripts/gpt2_bpe.py" "$root/tests/data/tokenizer/mixed.txt" 400 bpe.json
cat > cfg.json <<'JSON'
{"model_type": "gpt2", "vocab_size": 400, "n_positions": 128, "n_embd": 48, "n_layer": 3, "n_head": 4,
 "activation_function": "gelu_new", "initializer_range": 0.3, "bos_token_id": 0, "eos_token_id": 0}
JSON
check "init a GPT-2" "$verto" init --config-json cfg.json --tokenizer bpe.json --seed 11 -o m

# the references: verto generate with the options the requests use
printf 'Hello there\nThe quick brown fox\n日本語 🙂 text\n' > prompts.txt
"$verto" generate --model m --input prompts.txt --json --seed 5 --temperature 0.8 --top-k 30 --top-p 0.9 \
    --max-new-tokens 24 > ref_sampled.jsonl
"$verto" generate --model m --input prompts.txt --json --greedy --max-new-tokens 30 --stop "e" > ref_greedy.jsonl

start_server m "$work/serve.log" --max-batch 3 --max-new-tokens-limit 100
check "completions equal verto generate (sampled, greedy with a stop string, a prompt list, streamed, 8 concurrent clients)" \
    python3 - "$port" <<'PY'
import json, sys, threading, urllib.request
port = int(sys.argv[1])
url = f"http://127.0.0.1:{port}/v1/completions"
prompts = open("prompts.txt", encoding="utf-8").read().split("\n")[:-1]
sampled = [json.loads(l) for l in open("ref_sampled.jsonl")]
greedy = [json.loads(l) for l in open("ref_greedy.jsonl")]
reason = lambda r: "length" if r["finish_reason"] == "length" else "stop"

def post(body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as f:
        return f.read().decode()

def stream(body):
    text, finish, events = "", None, post(dict(body, stream=True)).split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]", events[-3:]
    for e in events[:-2]:
        assert e.startswith("data: "), e
        c = json.loads(e[6:])["choices"][0]
        text += c["text"]
        finish = c["finish_reason"] or finish
    return text, finish

s_opts = dict(max_tokens=24, seed=5, temperature=0.8, top_k=30, top_p=0.9)
g_opts = dict(max_tokens=30, temperature=0, stop="e")
for p, s, g in zip(prompts, sampled, greedy):
    a = json.loads(post(dict(s_opts, prompt=p, model="m")))
    assert a["object"] == "text_completion" and a["choices"][0]["logprobs"] is None
    c = a["choices"][0]
    assert (c["text"], c["finish_reason"]) == (s["text"], reason(s)), (c, s)
    assert a["usage"] == {"prompt_tokens": s["prompt_tokens"], "completion_tokens": len(s["token_ids"]),
                          "total_tokens": s["prompt_tokens"] + len(s["token_ids"])}, a["usage"]
    assert stream(dict(s_opts, prompt=p)) == (s["text"], reason(s))
    c = json.loads(post(dict(g_opts, prompt=p)))["choices"][0]
    assert (c["text"], c["finish_reason"]) == (g["text"], reason(g)), (c, g)
    assert stream(dict(g_opts, prompt=p)) == (g["text"], reason(g))
a = json.loads(post(dict(s_opts, prompt=prompts)))
assert [c["index"] for c in a["choices"]] == [0, 1, 2]
assert [c["text"] for c in a["choices"]] == [s["text"] for s in sampled]
print(f"    {len(prompts)} prompts: sampled, greedy + stop, streamed and as one list equal verto generate")

bodies = [dict(s_opts, prompt=prompts[i % 3], seed=i, max_tokens=10 + 3 * i, stream=i % 2 == 1) for i in range(8)]
alone = [stream(b) if b["stream"] else json.loads(post(b))["choices"][0]["text"] for b in bodies]
got = [None] * 8
def run(i):
    b = bodies[i]
    got[i] = stream(b) if b["stream"] else json.loads(post(b))["choices"][0]["text"]
threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
assert got == alone, (got, alone)
print("    8 concurrent clients (4 streamed) got what they got alone")
PY

status() { # BODY -> the HTTP status
    curl -s -o resp.txt -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "http://127.0.0.1:$port/v1/completions"
}
long=$(python3 -c 'print("word " * 120)')
for body in '{"prompt": "hi", "max_tokens": 1e300}' '{"prompt": "hi", "max_tokens": 99999999999}' \
    '{"prompt": "hi", "max_tokens": 101}' "{\"prompt\": \"$long\", \"max_tokens\": 60}" \
    '{"prompt": 5}' '{"prompt": []}' '{"prompt": [""]}' '{"prompt": "hi", "temperature": "hot"}' \
    '{"prompt": "hi", "temperature": -1}' '{"prompt": "hi", "top_p": 0}' '{"prompt": "hi", "top_p": 1e-60}' \
    '{"prompt": "hi", "n": 2}' \
    '{"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}' '{"prompt": "hi", "stop": [1]}' \
    '{"prompt": "hi", "stream": "yes"}' '{"prompt": "hi", "frequency": 1}' '{"prompt": "hi", "prompt": "x"}' \
    '{"prompt": "hi", "max_tokens": 0}' '{"prompt": "hi", "seed": -1}' '{"prompt": "hi", "logprobs": 3}' \
    '{"prompt": "hi"' '' "$(printf '{"prompt": "\xff"}')" '[1]'; do
    code=$(status "$body")
    check "400 for $(printf '%s' "$body" | head -c 70): $(head -c 120 resp.txt)" test "$code" = 400
done
code=$(curl -s -o resp.txt -w '%{http_code}' "http://127.0.0.1:$port/v1/completions")
check "GET /v1/completions: 405" test "$code" = 405

check "an unterminated body, a client that leaves mid-stream, a slow body: the server frees the slot and still answers" \
    python3 - "$port" <<'PY'
import json, socket, sys, time, urllib.request
port = int(sys.argv[1])
def metric(name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return int(next(l.split()[1] for l in text.splitlines() if l.startswith(name + " ")))
# promises 100 bytes, sends 10, goes away
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
s.close()
# streams 100 tokens, reads the first event, disconnects
body = json.dumps({"prompt": "Hello", "max_tokens": 100, "stream": True, "seed": 1}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
got = b""
while b"data: " not in got:
    got += s.recv(4096)
s.close()
for _ in range(100):
    if metric("verto_completion_running") == 0: break
    time.sleep(0.1)
assert metric("verto_completion_running") == 0, "the slot of the client that left is still running"
# a body sent byte by byte
s = socket.create_connection(("127.0.0.1", port))
body = json.dumps({"prompt": "Hi", "max_tokens": 3, "temperature": 0}).encode()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
for b in body:
    s.sendall(bytes([b])); time.sleep(0.005)
resp = b""
while True:
    part = s.recv(4096)
    if not part: break
    resp += part
assert b" 200 " in resp.split(b"\r\n")[0], resp[:100]
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", b'{"prompt": "ok", "max_tokens": 2}')
assert json.loads(urllib.request.urlopen(req, timeout=30).read())["usage"]["completion_tokens"] <= 2
print(f"    requests {metric('verto_completion_requests_total')}, tokens {metric('verto_completion_tokens_total')}")
assert metric("verto_completion_requests_total") > 10 and metric("verto_completion_tokens_total") > 100
PY
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
check "SIGTERM: exit status 0 ($rc)" test "$rc" = 0
grep -q "ERROR: \|runtime error" "$work/serve.log" && { echo "  FAILED: sanitizer report:"; cat "$work/serve.log"; failures=$((failures + 1)); }

# bf16 decode weights (--precision bf16): greedy completions equal verto generate --precision bf16
"$verto" generate --model m --input prompts.txt --json --greedy --max-new-tokens 20 --precision bf16 > ref_bf16.jsonl
start_server m "$work/serve_bf16.log" --max-batch 2 --precision bf16
check "--precision bf16: greedy completions equal verto generate --precision bf16" python3 - "$port" <<'PY'
import json, sys, urllib.request
url = f"http://127.0.0.1:{int(sys.argv[1])}/v1/completions"
prompts = open("prompts.txt", encoding="utf-8").read().split("\n")[:-1]
refs = [json.loads(l) for l in open("ref_bf16.jsonl")]
assert len(refs) == len(prompts)
for p, r in zip(prompts, refs):
    body = json.dumps(dict(prompt=p, max_tokens=20, temperature=0)).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    c = json.loads(urllib.request.urlopen(req, timeout=60).read())["choices"][0]
    assert c["text"] == r["text"], (c, r)
PY
stop_server
grep -q "ERROR: \|runtime error" "$work/serve_bf16.log" && { echo "  FAILED: sanitizer report:"; cat "$work/serve_bf16.log"; failures=$((failures + 1)); }
check "--precision int8 with a GPT-2 model: refused" bash -c "! '$verto' serve --model m --port 0 --precision int8 2> int8.txt && grep -q 'fp32 or bf16' int8.txt"
[ "$failures" -eq 0 ]
