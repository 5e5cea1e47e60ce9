#!/usr/bin/env bash
# npm test: ensure dependencies, lint (full runs only: scripts/lint.sh, a finding ends the run), then run
# vitest (all projects) inside a private mount namespace with a tmpfs over /run/containerd (and /run/netns),
# so the test containerds, their shims and runc share nothing with the host and leave nothing on it. Extra
# arguments go to vitest: `npm test -- test/e2e/foo`. Then (full runs only) the conformance suite,
# scripts/conformance.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

bash scripts/ensure-deps.sh

# Lint first: Biome, knip and tsc. Skipped when vitest was given a filter (a quick loop on one file),
# or with TSSHIM_SKIP_LINT=1.
if [ "$#" -eq 0 ] && [ "${TSSHIM_SKIP_LINT:-0}" != 1 ]; then
  bash scripts/lint.sh || { echo "npm test: stopped, lint has findings (listed above)" >&2; exit 1; }
fi

# The mount points must exist before they can be covered (on the host these are empty directories).
mkdir -p /run/containerd /run/netns
status=0
unshare --mount --propagation private -- bash -c '
  set -euo pipefail
  mount -t tmpfs -o mode=0711 tsshim-e2e-run /run/containerd
  mount -t tmpfs -o mode=0755 tsshim-e2e-netns /run/netns
  exec npx vitest run "$@"
' vitest "$@" || status=$?

# containerd's own client integration suite against tsshim and the Go shim (issue #6); it has its
# own private namespaces. Skipped when vitest was given a filter (a quick loop), or with
# TSSHIM_SKIP_CONFORMANCE=1.
if [ "$#" -eq 0 ] && [ "${TSSHIM_SKIP_CONFORMANCE:-0}" != 1 ]; then
  bash scripts/conformance.sh || status=$?
fi
exit "$status"
