#!/usr/bin/env bash
# npm run lint: Biome (lint rules and formatting, biome.jsonc), knip (unused files, exports and
# dependencies, knip.jsonc) and the type check. Every tool runs; any finding fails the run, and the
# last lines name the tools that found something. `npx biome check --write .` applies the formatting.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin=node_modules/.bin

failed=()
check() {
  local name=$1
  shift
  "$@" || failed+=("$name")
}
# The generated protobuf code is not tracked; knip and tsc follow imports into it.
node scripts/build.mjs --codegen-only >/dev/null || failed+=(codegen)
check biome "$bin/biome" check --error-on-warnings --no-errors-on-unmatched .
check knip "$bin/knip" --no-progress
check tsc "$bin/tsc" --noEmit -p .

if [ "${#failed[@]}" -gt 0 ]; then
  echo "lint: findings from ${failed[*]} (see above)" >&2
  exit 1
fi
echo "lint: no findings (biome, knip, tsc)" >&2
