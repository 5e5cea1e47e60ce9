#!/usr/bin/env bash
# npm run bench: tsshim (per container, shared, cold) against containerd's Go shim (containerd-shim-runc-v2)
# under one private containerd at a time (1.6, then 2.1). Ensures dependencies, bundles bench/main.ts with
# esbuild into a temp .mjs, and runs it in a private mount namespace with a tmpfs over /run/containerd, so
# nothing touches the host's containerd. Results go to bench/results/latest.{json,svg,md}.
# Arguments go to the bench: `npm run bench -- --quick --containerd 2.1` (`-- --help` lists them).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

bash scripts/ensure-deps.sh

work=$(mktemp -d /tmp/tsshim-bench-build-XXXXXX)
trap 'rm -rf "$work"' EXIT
# paths.ts finds the repository from its own import.meta.url; in a bundle that would be the temp file.
node_modules/.bin/esbuild bench/main.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --alias:ttrpc-ts=./packages/ttrpc-ts/src/index.ts "--define:import.meta.url=\"file://$repo/test/e2e/harness/paths.ts\"" --outfile="$work/bench.mjs"

mkdir -p /run/containerd
status=0
unshare --mount --propagation private -- bash -c '
  set -euo pipefail
  mount -t tmpfs -o mode=0711 tsshim-bench-run /run/containerd
  exec node "$0" "$@"
' "$work/bench.mjs" "$@" || status=$?
exit "$status"
