#!/usr/bin/env bash
# Token choice over GPT-2's vocabulary: verto's sampler and transformers'
# processors in the same run (bench/sampling_bench.c, bench/sampling_peer.py),
# one thread each. Usage: bench/sampling_compare.sh [BUILD] (default build).
set -euo pipefail
build=${1:-build}
make -s --no-print-directory BUILD="$build" "$build/bench/sampling_bench"
"$build/bench/sampling_bench" "${@:2}"
OMP_NUM_THREADS=1 python3 "$(dirname "$0")/sampling_peer.py" "${@:2}"
