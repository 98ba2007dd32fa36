#!/usr/bin/env bash
# verto pretrain --objective clm and verto perplexity, against PyTorch/transformers:
# - the first four steps (warmup 1, so the first moves nothing) (full batch: the shards hold exactly the batch's
#   blocks, a few of 32 tokens, so the order inside it does not matter) give the losses and
#   gradient norms of GPT2LMHeadModel + torch.optim.AdamW (no decay on biases
#   and LayerNorms, as transformers' Trainer) + clip_grad_norm_ +
#   get_linear_schedule_with_warmup on the same weights and blocks, within
#   1e-4 relative (f32 sums in another order over ~10^5 terms);
# - a from-scratch run of 40 steps lowers the loss by more than 1 nat, and
#   metrics.jsonl holds tokens_per_sec and held-out perplexity = exp(eval_loss);
# - --resume from checkpoint-3 of a 6-step run gives steps 4..6 the losses of
#   the uninterrupted run, bit for bit; batch 2 x --grad-accum 2 the losses of
#   batch 4 (1e-5 relative); under mpirun 2 ranks x batch 2 those of 1 rank x
#   batch 4 (1e-5 relative; skipped without MPI); SIGTERM stops a run with a
#   checkpoint that loads and that --resume continues;
# - --precision bf16 follows fp32's losses within 2e-2 over 10 steps continued
#   from the trained model (from the initial one the logits are too flat to tell);
# - the written directory loads in GPT2LMHeadModel with no missing or
#   unexpected keys, and verto perplexity on it equals the guide's loop run
#   with transformers ("Perplexity of fixed-length models") within 1e-4
#   relative, for stride = max_length and stride < max_length;
# - errors: --objective mlm for GPT-2, a directory that is not GPT-2, a stride
#   over the max length, a max length over n_positions,
#   invalid UTF-8, an empty text, a missing file: a non-zero status and a message naming the cause.
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
. "$root/tests/scripts/check.sh"
corpus="$root/tests/data/pretrain/sotu_sample.txt"

# A byte-level BPE and a small GPT-2 without dropout (so that runs compare exactly).
"$V" vocab --type bpe --size 400 --special-tokens '<|endoftext|>' -o tok.json "$corpus" >/dev/null || exit 1
cat > small.json <<'JSON'
{"model_type": "gpt2", "vocab_size": 400, "n_positions": 64, "n_embd": 48, "n_layer": 2, "n_head": 3,
 "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "bos_token_id": 0, "eos_token_id": 0}
JSON
"$V" init --config-json small.json --tokenizer tok.json --seed 5 -o init >/dev/null || exit 1
# A few documents, a handful of blocks of 32: one full batch (the order inside it does not matter).
python3 - "$corpus" <<'PY' || exit 1
import sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file("tok.json")
docs = [d.strip() for d in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if d.strip()]
out, n = [], 0
for d in docs:
    out.append(d)
    n += len(tok.encode(d).ids) + 1
    if n >= 128: break
open("few.txt", "w", encoding="utf-8").write("\n\n".join(out) + "\n")
PY
"$V" prepare-pretraining --objective clm --tokenizer init -o few --max-seq-length 32 few.txt >/dev/null 2>&1 &&
"$V" prepare-pretraining --objective clm --tokenizer init -o shards --max-seq-length 64 "$corpus" >/dev/null 2>&1 ||
    { echo "  FAILED: setup"; exit 1; }
blocks=$(python3 -c "import json; print(json.load(open('few/manifest.json'))['instances'])")
ok() { echo "  ok: $1"; }
bad() { echo "  FAILED: $1"; failures=$((failures + 1)); }

run_quiet() { "$@" >out.txt 2>&1 || { cat out.txt; return 1; }; }
run() { "$V" pretrain --objective clm --log-every 1 "$@" >/dev/null 2>err.txt || { cat err.txt; return 1; }; }
losses() { python3 -c "import json,sys; print(' '.join(repr(r['loss']) for r in map(json.loads, open(sys.argv[1])) if 'loss' in r))" "$1"; }
# same_losses A B tol [from]: the loss of every step of B from `from` equals A's at that step within tol relative.
same_losses() {
    python3 - "$@" <<'PY'
import json, sys
a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
first = int(sys.argv[4]) if len(sys.argv) > 4 else 1
def read(p):
    return {r["step"]: r["loss"] for r in map(json.loads, open(p)) if "loss" in r}
la, lb = read(a), read(b)
steps = [s for s in lb if s >= first]
worst = max(abs(la[s] - lb[s]) / abs(la[s]) for s in steps)
print(f"    steps {steps[0]}..{steps[-1]}: worst relative difference {worst:.3g} (tolerance {tol:g})")
sys.exit(0 if steps and worst <= tol else 1)
PY
}

check "4 full-batch steps ($blocks blocks of 32)" run --model init --data few -o ref4 --steps 4 --batch-size "$blocks" --lr 1e-3 \
    --warmup-steps 1 --clip 1.0 --weight-decay 0.01
python3 - "$blocks" <<'PY'
import json, math, sys
import torch
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel, get_linear_schedule_with_warmup
torch.manual_seed(0)
tok = Tokenizer.from_file("tok.json")
ids = []
for d in [d for d in open("few.txt", encoding="utf-8").read().split("\n\n") if d.strip()]:
    e = tok.encode(d.strip("\n")).ids
    if e: ids += e + [0]
n = len(ids) // 32
x = torch.tensor(ids[: n * 32]).view(n, 32)
model = GPT2LMHeadModel.from_pretrained("init")
model.train()
decay = [p for name, p in model.named_parameters() if not ("bias" in name or "ln_" in name)]
no_decay = [p for name, p in model.named_parameters() if "bias" in name or "ln_" in name]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
sched = get_linear_schedule_with_warmup(opt, 1, 4)
ref = []
for step in range(4):
    opt.zero_grad()
    loss = model(input_ids=x, labels=x).loss
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step()
    ref.append((loss.item(), norm.item()))
got = [(r["loss"], r["grad_norm"]) for r in map(json.loads, open("ref4/metrics.jsonl")) if "loss" in r]
worst = max(max(abs(a - b) / abs(b) for a, b in zip(g, r)) for g, r in zip(got, ref))
print(f"    {n} blocks; verto (loss, grad_norm) {got}\n    torch {ref}\n    worst relative difference {worst:.3g} (tolerance 1e-4)")
sys.exit(0 if len(got) == 4 and n == int(sys.argv[1]) and worst <= 1e-4 else 1)
PY
check "first 4 steps' losses and gradient norms equal GPT2LMHeadModel + AdamW's" test $? = 0

check "from scratch: 40 steps with held-out perplexity" run --model init --data shards -o scratch --steps 40 \
    --batch-size 4 --lr 3e-3 --eval-data shards --eval-every 20 --eval-blocks 8
python3 - <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open("scratch/metrics.jsonl")]
train = [r for r in rows if "loss" in r]
evals = [r for r in rows if r.get("eval")]
ok = len(train) == 40 and train[-1]["loss"] < train[0]["loss"] - 1.0 and all(r["tokens_per_sec"] > 0 for r in train)
ok &= [r["step"] for r in evals] == [20, 40] and all(abs(math.exp(r["eval_loss"]) - r["perplexity"]) <= 1e-4 * r["perplexity"] for r in evals)
print(f"    loss {train[0]['loss']:.4f} -> {train[-1]['loss']:.4f}; held-out perplexity {[r['perplexity'] for r in evals]}")
sys.exit(0 if ok else 1)
PY
check "the loss falls by more than 1 nat; eval lines hold perplexity = exp(eval_loss)" test $? = 0

check "6 steps, checkpoints every 3" run --model init --data shards -o full --steps 6 --batch-size 4 --save-every 3 --lr 1e-3
check "the same, interrupted after checkpoint-3" run --model init --data shards -o cut --steps 6 --batch-size 4 --save-every 3 --lr 1e-3
rm -rf cut/checkpoint-6
python3 -c "import sys; l=open('cut/metrics.jsonl').readlines()[:3]; open('cut/metrics.jsonl','w').writelines(l)"
check "--resume from checkpoint-3" run --model init --data shards -o cut --steps 6 --batch-size 4 --save-every 3 --lr 1e-3 --resume
check "resumed steps 4..6 equal the uninterrupted run's exactly" same_losses full/metrics.jsonl cut/metrics.jsonl 0 4
# SIGTERM mid-run: a checkpoint that loads, no final model, exit status 0, and --resume goes on from it.
"$V" pretrain --objective clm --log-every 1 --model init --data shards -o sig --steps 100000 --batch-size 4 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '"step": 3,' sig/metrics.jsonl 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"; wait "$pid"; rc=$?
check "SIGTERM: exit status 0 (got $rc)" test "$rc" -eq 0
ckpt=$(ls -d sig/checkpoint-* 2>/dev/null | head -1)
check "SIGTERM: checkpoint ${ckpt:-missing} loads" "$V" summary --model "${ckpt:-none}"
check "SIGTERM: no final model written" test ! -e sig/model.safetensors
stopped_at=${ckpt##*-}
check "--resume after SIGTERM runs 2 more steps" run --model init --data shards -o sig --steps $((${stopped_at:-0} + 2)) --batch-size 4 --resume
check "the resumed run logs step $((${stopped_at:-0} + 2)) and writes the model" \
    eval "grep -q '\"step\": $((${stopped_at:-0} + 2)),' sig/metrics.jsonl && test -e sig/model.safetensors"
check "batch 2 x --grad-accum 2" run --model init --data shards -o accum --steps 6 --batch-size 2 --grad-accum 2 --lr 1e-3
check "accumulated losses equal batch 4's" same_losses full/metrics.jsonl accum/metrics.jsonl 1e-5

if command -v mpirun >/dev/null && ldd "$V" 2>/dev/null | grep libmpi >/dev/null; then  # not grep -q: with pipefail, ldd killed by SIGPIPE would read as no MPI
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1 -x OMPI_MCA_btl_vader_single_copy_mechanism)
    [ "${VT_SANITIZED:-0}" = 1 ] && MPIRUN+=(-x "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0")
    check "2 ranks x batch 2" run_quiet "${MPIRUN[@]}" "$V" pretrain --objective clm --log-every 1 --model init \
        --data shards -o mpi --steps 6 --batch-size 2 --lr 1e-3
    check "2 ranks x batch 2 give 1 rank x batch 4's losses" same_losses full/metrics.jsonl mpi/metrics.jsonl 1e-5
else
    echo "  skipped: MPI (verto built without it or mpirun missing)"
fi

check "bf16, 10 steps continued from the trained model" run --model scratch --data shards -o bf16 --steps 10 --batch-size 4 --lr 1e-3 --precision bf16
check "fp32, 10 steps continued from the trained model" run --model scratch --data shards -o fp32 --steps 10 --batch-size 4 --lr 1e-3
check "bf16 follows fp32's losses within 2e-2" same_losses fp32/metrics.jsonl bf16/metrics.jsonl 2e-2

head -c 6000 "$corpus" > text.txt
for win in "64 64" "64 24" "40 16"; do
    set -- $win
    out=$("$V" perplexity --model scratch --max-length "$1" --stride "$2" --json text.txt 2>err.txt) || cat err.txt
    python3 - "$1" "$2" "$out" <<'PY'
import json, sys
import torch
from transformers import AutoTokenizer, GPT2LMHeadModel
L, S, got = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3] or "{}")
model, info = GPT2LMHeadModel.from_pretrained("scratch", output_loading_info=True)
assert not any(info.values()), info
model.eval()
tokenizer = AutoTokenizer.from_pretrained("scratch")
encodings = tokenizer(open("text.txt", encoding="utf-8").read(), return_tensors="pt")
# The guide's loop, as written there.
max_length, stride = L, S
seq_len = encodings.input_ids.size(1)
nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
for begin_loc in range(0, seq_len, stride):
    end_loc = min(begin_loc + max_length, seq_len)
    trg_len = end_loc - prev_end_loc
    input_ids = encodings.input_ids[:, begin_loc:end_loc]
    target_ids = input_ids.clone()
    target_ids[:, :-trg_len] = -100
    with torch.no_grad():
        outputs = model(input_ids, labels=target_ids)
        neg_log_likelihood = outputs.loss
    num_valid_tokens = (target_ids != -100).sum().item()
    batch_size = target_ids.size(0)
    num_loss_tokens = num_valid_tokens - batch_size
    nll_sum += neg_log_likelihood * num_loss_tokens
    n_tokens += num_loss_tokens
    prev_end_loc = end_loc
    if end_loc == seq_len:
        break
ppl = torch.exp(nll_sum / n_tokens).item()
rel = abs(got.get("perplexity", 0) - ppl) / ppl
print(f"    max_length {L}, stride {S}: verto {got.get('perplexity')}, transformers {ppl:.8g} over {seq_len} tokens "
      f"(relative difference {rel:.2g}, tolerance 1e-4)")
sys.exit(0 if rel <= 1e-4 and got.get("tokens") == seq_len else 1)
PY
    check "perplexity --max-length $1 --stride $2 equals the guide's loop with transformers" test $? = 0
done

# Errors.
expect_fail() { # what pattern command...
    local what=$1 pattern=$2; shift 2
    if "$@" >/dev/null 2>err.txt; then bad "$what: exit 0"; return; fi
    if grep -q -- "$pattern" err.txt; then ok "$what: $(head -1 err.txt)"; else bad "$what: $(cat err.txt)"; fi
}
expect_fail "--objective mlm for GPT-2" "trains with --objective clm" "$V" pretrain --objective mlm --model init --data shards -o x
expect_fail "not a GPT-2 directory" "shards is not a GPT-2 directory" "$V" pretrain --objective clm --model shards --data shards -o x
printf 'ok \xff\xfe bad\n' > bad.txt
expect_fail "invalid UTF-8" "bad.txt: invalid UTF-8 at byte 3" "$V" perplexity --model scratch bad.txt
expect_fail "stride over the max length" "stride 9 must be within 1..8" "$V" perplexity --model scratch --max-length 8 --stride 9 text.txt
expect_fail "max length over n_positions" "must be within 2..64" "$V" perplexity --model scratch --max-length 65 text.txt
: > empty.txt
expect_fail "empty text" "too few to score" "$V" perplexity --model scratch empty.txt
expect_fail "missing file" "nope.txt" "$V" perplexity --model scratch nope.txt
[ "$failures" -eq 0 ]
