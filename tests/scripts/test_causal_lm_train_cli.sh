#!/usr/bin/env bash
# verto finetune --task causal-lm's training loop: checkpoints, exact
# --resume, a clean stop on SIGTERM, and MPI, on a tiny GPT-2 with a
# byte-level BPE:
# - a LoRA run (dropout, two targets) and a full fine-tuning run resumed from a
#   checkpoint inside an epoch and from one at an epoch's end write the same
#   result, byte for byte, as the run that went through (the data order and
#   dropout of every micro-batch follow from the seed and its position, the
#   optimizer's state is in the checkpoint);
# - SIGTERM stops a run after the update in progress with status 0, a
#   checkpoint, a message saying how to continue and no result files; --resume
#   finishes it, and metrics.jsonl then holds every update once, in order;
# - under mpirun, 2 ranks x batch 2 follow 1 rank x batch 2 x --grad-accum 2
#   (the same rows in each update with the same dropout masks, drawn by the
#   rows' place in the epoch's order; the gradient the mean of the two
#   micro-batches' either way; 22 examples, so the epoch's last update has
#   rows on one rank only): every logged loss within 1e-5 relative and the final
#   adapter within 1e-5 of the largest weight (sums in another order);
# - --resume without a checkpoint, or with another adapter rank: a non-zero
#   status and a message naming the directory.
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
. "$root/tests/scripts/check.sh"
failures=0

python3 "$root/tests/scripts/gpt2_bpe.py" "$root/tests/data/tokenizer/mixed.txt" 300 bpe.json
python3 "$root/tests/scripts/clm_examples.py" .
"$V" init --config gpt2-tiny --tokenizer bpe.json --seed 4 -o base > /dev/null || { echo "  FAILED: init"; exit 1; }

# 24 examples in batches of 4: 6 updates an epoch, 18 in all; checkpoints at 4, 6 (epoch end), 8, 12, 16
lora=(--lora-rank 4 --lora-dropout 0.1 --lora-targets c_attn,c_fc)
run() { # OUT EXTRA... (the same options every time; its output into OUT.txt)
    local out=$1; shift
    "$V" finetune --task causal-lm --model base --train train.jsonl --epochs 3 --batch-size 4 --lr 3e-3 --seed 7 \
        --warmup-ratio 0.2 --save-every 4 --keep-checkpoints 10 -o "$out" "$@" > "$out.txt" 2>&1
}
check "a LoRA run with checkpoints" run A "${lora[@]}"
check "checkpoints inside and at the end of epochs" test -f A/checkpoint-4/adapter_model.safetensors \
    -a -f A/checkpoint-6/trainer_state.safetensors -a -f A/checkpoint-8/adapter_config.json -a -d A/checkpoint-16
for at in 8 6; do
    mkdir -p "R$at" && cp -r "A/checkpoint-$at" "R$at/"
    check "resumed from update $at" run "R$at" "${lora[@]}" --resume
    check "... the same adapter, byte for byte" cmp A/adapter_model.safetensors "R$at/adapter_model.safetensors"
done
check "full fine-tuning with checkpoints" run F --lora-rank 0
mkdir -p F4 && cp -r F/checkpoint-4 F4/
check "full fine-tuning resumed from update 4" run F4 --lora-rank 0 --resume
check "... the same model, byte for byte" cmp F/model.safetensors F4/model.safetensors

# SIGTERM: 20 epochs (120 updates) stopped after the first logged update, then resumed
"$V" finetune --task causal-lm --model base --train train.jsonl --epochs 20 --batch-size 4 --lr 1e-3 --seed 7 \
    "${lora[@]}" -o S > S.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s S/metrics.jsonl ] && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM: status 0" test "$rc" -eq 0
check "... a message saying how to continue" grep -q "stopped by signal 15 after update .*--resume continues" S.txt
check "... a checkpoint and no result files" sh -c 'ls -d S/checkpoint-* > /dev/null && test ! -e S/adapter_model.safetensors'
"$V" finetune --task causal-lm --model base --train train.jsonl --epochs 20 --batch-size 4 --lr 1e-3 --seed 7 \
    "${lora[@]}" -o S --resume > S2.txt 2>&1
check "--resume finishes the stopped run" test -f S/adapter_model.safetensors
check "metrics.jsonl holds updates 1..120 once, in order" python3 - <<'PY'
import json
steps = [r["step"] for r in map(json.loads, open("S/metrics.jsonl")) if "loss" in r]
assert steps == list(range(1, 121)), steps[:10]
PY

if command -v mpirun >/dev/null && ldd "$V" 2>/dev/null | grep libmpi >/dev/null; then  # not grep -q: with pipefail, ldd killed by SIGPIPE would read as no MPI
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1 -x OMPI_MCA_btl_vader_single_copy_mechanism)
    [ "${VT_SANITIZED:-0}" = 1 ] && MPIRUN+=(-x "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0")
    head -n 22 train.jsonl > train22.jsonl
    same=(--model base --train train22.jsonl --epochs 2 --lr 3e-3 --seed 7 --lora-rank 4 --lora-dropout 0.1
          --lora-targets c_attn,c_fc --warmup-ratio 0.2)
    check "1 rank x batch 2 x accumulation 2" sh -c "OMP_NUM_THREADS=1 '$V' finetune --task causal-lm ${same[*]} \
        --batch-size 2 --grad-accum 2 -o one > one.txt 2>&1"
    check "2 ranks x batch 2" sh -c "${MPIRUN[*]} '$V' finetune --task causal-lm ${same[*]} --batch-size 2 -o two \
        > two.txt 2>&1"
    check "... the same losses (1e-5) and adapter (1e-5 of the largest weight)" python3 - <<'PY'
import json
from safetensors.numpy import load_file
def losses(d):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(f"{d}/metrics.jsonl")) if "loss" in r]
a, b = losses("one"), losses("two")
assert len(a) == len(b) == 12 and [s for s, _ in a] == [s for s, _ in b], (a, b)
worst = max(abs(x - y) / abs(x) for (_, x), (_, y) in zip(a, b))
wa, wb = load_file("one/adapter_model.safetensors"), load_file("two/adapter_model.safetensors")
assert wa.keys() == wb.keys()
scale = max(abs(v).max() for v in wa.values())
diff = max(abs(wa[k] - wb[k]).max() for k in wa) / scale
print(f"    losses: max relative difference {worst:.2e}; adapter: {diff:.2e} of the largest weight")
assert worst <= 1e-5 and diff <= 1e-5
PY
else
    echo "  skipped: MPI (verto built without it or mpirun missing)"
fi

fails_naming "--resume without a checkpoint" "--resume: empty holds no checkpoint" \
    "$V" finetune --task causal-lm --model base --train train.jsonl -o empty --resume
fails_naming "--resume with another rank" "R8/checkpoint-16 holds an adapter of rank 4" \
    "$V" finetune --task causal-lm --model base --train train.jsonl --epochs 3 --batch-size 4 --lora-rank 2 -o R8 --resume

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all causal-LM training checks passed"
