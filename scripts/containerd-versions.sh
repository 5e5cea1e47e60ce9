#!/usr/bin/env bash
# Prints the containerd versions the tests use, one per line: <major.minor> <version> <suite> <bin dir>.
# 1.6 is the system's (bookworm); the others were unpacked by scripts/ensure-deps.sh from trixie and sid.
set -euo pipefail
cache=${TSSHIM_CACHE:-/var/cache/tsshim}
if command -v containerd >/dev/null; then
  v=$(containerd --version | awk '{ v = $3; sub(/^v/, "", v); sub(/[~+-].*/, "", v); print v }')
  echo "${v%.*} $v bookworm $(dirname "$(command -v containerd)")"
fi
for dir in "$cache"/containerd-*/; do
  [ -s "$dir/VERSION" ] || continue
  v=$(cat "$dir/VERSION")
  echo "${v%.*} $v $(cat "$dir/SUITE" 2>/dev/null || basename "$dir") ${dir}root/usr/bin"
done
