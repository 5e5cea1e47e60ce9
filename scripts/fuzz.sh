#!/usr/bin/env bash
# npm run fuzz: the ttrpc fuzzer (test/fuzz/ttrpc-fuzz.ts) with 10^5 frames against a live daemon under a
# private containerd. TSSHIM_FUZZ_FRAMES, TSSHIM_FUZZ_SEED (printed by every run) and TSSHIM_FUZZ_SECONDS
# (time bound; default frames/50 s) change the run; TSSHIM_CONTAINERD picks the containerd (default: the newest).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export TSSHIM_FUZZ_FRAMES="${TSSHIM_FUZZ_FRAMES:-100000}"
export TSSHIM_CONTAINERD="${TSSHIM_CONTAINERD:-2.1}"
exec bash "$repo/scripts/test.sh" test/e2e/fuzz.test.ts
