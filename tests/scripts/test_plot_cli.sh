#!/usr/bin/env bash
# verto plot: curves drawn where they belong, checked on pixels. Two synthetic
# runs (loss a straight line 1 + 0.004 step, and a step from 2 to 4 at step
# 500) are drawn as SVG and as HTML, rendered by headless Chromium, and the
# screenshots are probed at known points of each curve (its colour there) and
# off them (background), with positions computed from the plot's own layout
# attributes (tests/scripts/plot_pixels.py). Then a real fine-tuning run's
# metrics.jsonl against time, and the bad inputs: malformed lines (file:line),
# empty files, NaN/inf (skipped and counted), unknown metrics, bad options.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$(pwd)/$build/verto"
here="$(cd "$(dirname "$0")" && pwd)"
data="$(pwd)/data/spam"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$here/check.sh"
cd "$tmp" || exit 1

expect_error() { # what, fragment, command...: non-zero exit and an "error: " line containing fragment
    local what=$1 fragment=$2; shift 2
    if "$@" >out.txt 2>err.txt; then echo "  FAILED: $what (exit 0)"; failures=$((failures + 1)); return; fi
    check "$what: $(head -c 160 err.txt)" grep -q "^error: .*$fragment" err.txt
}

mkdir -p runs/line runs/step
python3 - <<'PY'
import json
with open("runs/line/metrics.jsonl", "w") as f:
    for s in range(0, 1001, 10):
        f.write(json.dumps({"step": s, "loss": 1 + 0.004 * s, "lr": 1e-4, "elapsed_s": 0.5 * s}) + "\n")
    f.write('{"step": 1000, "loss": nan, "lr": inf, "elapsed_s": 500.5}\n')  # as printf writes them
with open("runs/step/metrics.jsonl", "w") as f:
    for s in range(0, 1001, 10):
        f.write(json.dumps({"step": s, "loss": 2.0 if s < 500 else 4.0, "lr": 1e-4, "elapsed_s": 0.5 * s}) + "\n")
PY

command -v chromium >/dev/null || { echo "error: chromium is not installed (scripts/ensure-deps.sh installs it)"; exit 1; }
shoot() { # FILE PNG: a screenshot as wide as the SVG and as tall
    local height
    height=$(grep -o '<svg [^>]*height="[0-9]*"' "$1" | grep -o 'height="[0-9]*"' | grep -o '[0-9]*')
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --window-size="760,$height" --screenshot="$tmp/$2" "file://$tmp/$1" >chromium.log 2>&1
    [ -s "$2" ] || { cat chromium.log; return 1; }
}

# Run 0 draws in palette colour 0 (#0072b2), run 1 in colour 1 (#d55e00) (include/verto/plot.h).
line_probes=(0:#0072b2:100:1.4 0:#0072b2:400:2.6 0:#0072b2:900:4.6)
step_probes=(0:#d55e00:100:2 0:#d55e00:400:2 0:#d55e00:600:4 0:#d55e00:900:4)
bg_probes=(0:-:100:3.5:bg 0:-:300:4.5:bg 0:-:700:1.5:bg 0:-:900:3.2:bg)

check "plot two runs as SVG" "$verto" plot runs/line runs/step/metrics.jsonl -o curves.svg --y loss --title "synthetic"
"$verto" plot runs/line runs/step -o curves.svg --y loss > plot.txt 2>&1
check "the NaN and inf values are skipped and counted" grep -q "runs/line/metrics.jsonl: 102 lines, 2 metrics, 2 NaN/inf/null values skipped" plot.txt
check "one panel (--y loss)" test "$(grep -c 'class="panel"' curves.svg)" -eq 1
check "the legend names the runs by directory" sh -c 'grep -q ">line</text>" curves.svg && grep -q ">step</text>" curves.svg'
check "axes from 0 to 1000 steps and 1 to 5" grep -q 'data-x-domain="0 1000" data-y-domain="1 5"' curves.svg
check "no external references" sh -c '! grep -Eq "(href|src)=|url\((http|file)|@import" curves.svg'
check "headless Chromium renders the SVG" shoot curves.svg curves.png
check "SVG: the line, the step and the background at known points" \
    python3 "$here/plot_pixels.py" curves.svg curves.png "${line_probes[@]}" "${step_probes[@]}" "${bg_probes[@]}"

check "plot as HTML against time" "$verto" plot runs/line runs/step -o curves.html --y loss --x time
check "time axis in minutes (500 s)" sh -c 'grep -q "time since the run started (min)" curves.html && grep -q "data-x-domain=\"0 10\"" curves.html'
check "headless Chromium renders the HTML" shoot curves.html curves_html.png
# 100 steps = 50 s = 0.8333 min.
check "HTML: the curves at known times" python3 "$here/plot_pixels.py" curves.html curves_html.png \
    0:#0072b2:0.83333333:1.4 0:#0072b2:7.5:4.6 0:#d55e00:3.3333333:2 0:#d55e00:7.5:4 0:-:5:1.3:bg

check "every metric by default: loss and lr panels" sh -c \
    "'$verto' plot runs/line -o all.svg >/dev/null && test \$(grep -c 'class=\"panel\"' all.svg) -eq 2"

# A real run: fine-tuning logs loss, lr, throughput, dev figures and elapsed_s.
head -48 "$data/train.jsonl" > train.jsonl
head -16 "$data/dev.jsonl" > dev.jsonl
cat > tiny.json <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 400, "hidden_size": 32,
 "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
 "type_vocab_size": 2}
JSON
python3 -c "
import json; open('plain.txt','w').write(''.join(json.loads(l)['text'] + '\n' for l in open('train.jsonl')))"
if "$verto" vocab --size 400 -o vocab.txt plain.txt >/dev/null 2>&1 &&
   "$verto" init --config-json tiny.json --vocab vocab.txt -o init >/dev/null 2>&1 &&
   "$verto" finetune --init init --train train.jsonl --dev dev.jsonl -o ft --epochs 2 --batch-size 16 \
       --max-seq-length 32 --threads 2 >ft.txt 2>&1; then
    check "a fine-tuning run plotted against time" "$verto" plot ft -o ft.html --x time --y loss,lr,tokens_per_sec,accuracy
    check "its panels: loss, lr, throughput, dev accuracy" sh -c \
        'test $(grep -c "class=\"panel\"" ft.html) -eq 4 && grep -q ">dev accuracy</text>" ft.html && grep -q ">throughput</text>" ft.html'
else
    echo "  FAILED: the tiny fine-tuning run:"; tail -5 ft.txt; failures=$((failures + 1))
fi

# Bad input.
printf '{"step": 1, "loss": 2}\n{"step": 2, "loss": 1.5\n' > broken.jsonl
expect_error "a malformed line names file:line" "broken.jsonl:2: not JSON" "$verto" plot broken.jsonl -o x.svg
printf '{"step": 1, "loss": 2}\n{"loss": 1.5}\n' > nostep.jsonl
expect_error "a line without step names file:line" 'nostep.jsonl:2: no finite number "step"' "$verto" plot nostep.jsonl -o x.svg
: > empty.jsonl
expect_error "an empty file" "empty.jsonl: no metrics lines" "$verto" plot empty.jsonl -o x.svg
printf '{"step": 1, "loss": 2}\n{"step": 2, "loss": \xff}\n' > binary.jsonl
expect_error "invalid UTF-8 names file:line" "binary.jsonl:2: invalid UTF-8" "$verto" plot binary.jsonl -o x.svg
expect_error "a missing run" "cannot open nowhere" "$verto" plot nowhere -o x.svg
expect_error "an unknown metric names those there are" "no run has a metric 'bleu' (they have: loss, lr)" \
    "$verto" plot runs/line --y bleu -o x.svg
printf '{"step": 1, "loss": 2}\n' > untimed.jsonl
expect_error "time without elapsed_s" 'not every line has "elapsed_s"' "$verto" plot untimed.jsonl --x time -o x.svg
expect_error "an output that is neither .svg nor .html" "must end in .svg or .html" "$verto" plot runs/line -o x.png
expect_error "--x other than step or time" "expected step or time" "$verto" plot runs/line --x epoch -o x.svg
expect_error "no runs" "at least one run" "$verto" plot -o x.svg
check "a failed plot writes nothing" test ! -e x.svg

echo "test_plot_cli: $failures failure(s)"
[ "$failures" -eq 0 ]
