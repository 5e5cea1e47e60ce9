#!/bin/bash
# npm run conformance [-- --go] [-- --only REGEX] [-- --timeout DURATION]
#
# Runs containerd's own integration/client suite (Debian sid's
# golang-github-containerd-containerd-dev) with TEST_RUNTIME=io.containerd.tsshim.v2,
# once against dist/containerd-shim-tsshim-v2 and once against
# containerd-shim-runc-v2 standing in under the same name, offline, and prints
# both side by side. Exits non-zero when a failure is not in
# test/conformance/expected-failures.txt.
#   --go           only the Go shim run (proves the harness)
#   --tsshim       only the tsshim run
#   --only REGEX   passed to the suite as -test.run, for quick loops
#   --timeout D    the suite's -test.timeout (default 20m)
# Cache (Debian packages, the built suite, images, CA):
# ${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}. Needs root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$repo/test/conformance
cache=${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}
runtime=io.containerd.tsshim.v2
shim_name=containerd-shim-tsshim-v2
modes=(tsshim go)
only=''
timeout=20m

while (($#)); do
  case $1 in
    --go) modes=(go) ;;
    --tsshim) modes=(tsshim) ;;
    --only) only=${2:?--only needs a regular expression}; shift ;;
    --timeout) timeout=${2:?--timeout needs a duration such as 20m}; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "conformance: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "conformance: $*" >&2; }
[[ $(id -u) == 0 ]] || { log "needs root (it starts containerd and runs containers)"; exit 2; }

if [[ ${modes[0]} == tsshim && ! -x $repo/dist/$shim_name ]]; then
  log "$repo/dist/$shim_name is missing: run 'npm run build' first (or use --go)"
  exit 2
fi

# Host tools from bookworm (installed normally, never from the newer suites).
missing=()
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' || missing+=(busybox-static)
command -v runc >/dev/null || missing+=(runc)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get install -y -q "${missing[@]}" >/dev/null
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -n 9 || { log "another conformance run holds $cache/.lock; waiting"; flock 9; }

# shellcheck source=../test/conformance/lib/apt-newer.sh
source "$here/lib/apt-newer.sh"
# shellcheck source=../test/conformance/lib/toolchain.sh
source "$here/lib/toolchain.sh"
# shellcheck source=../test/conformance/lib/pki.sh
source "$here/lib/pki.sh"

t0=$SECONDS
conformance_ensure_newer_suites
conformance_toolchain "$cache"

# Stand-in images, rebuilt when their builder or busybox changes.
busybox_version=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo unknown)
images_key=$(cat "$here"/images/*.mjs <(echo "$busybox_version") | sha256sum | cut -c1-16)
images=$cache/images-$images_key
if [[ ! -s $images/images.json ]]; then
  rm -rf "$cache"/images-*
  node "$here/images/build.mjs" "$images.tmp"
  rm -rf "$images" && mv "$images.tmp" "$images"
fi
hosts=$(node -e 'for (const r of Object.keys(require(process.argv[1]))) console.log(r.split("/")[0])' "$images/images.json" | sort -u | tr '\n' ' ')
# shellcheck disable=SC2086
conformance_pki "$cache/pki" $hosts
log "prepared in $((SECONDS - t0)) s"

# Checkpoint tests need a CRIU that works on this kernel: trixie's, which
# scripts/ensure-deps.sh unpacks (bookworm's CRIU 3.17 fails `criu check` here).
# Without one the suite skips them, and this says so.
criu_bin=${TSSHIM_CACHE:-/var/cache/tsshim}/criu-trixie/bin
suite_path_tail=$CT_CTRD_BIN:$CT_BIN:$criu_bin:$PATH
extra_args=''
if ! PATH=$suite_path_tail criu check >/dev/null 2>&1; then
  extra_args=-no-criu
  log "no working criu on PATH (run scripts/ensure-deps.sh): checkpoint tests will be skipped (-no-criu)"
fi

runs=$cache/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$runs"
ln -sfn "$runs" "$cache/runs/latest"

for mode in "${modes[@]}"; do
  run_dir=$runs/$mode
  mkdir -p "$run_dir/wrap"
  if [[ $mode == go ]]; then target=$CT_CTRD_BIN/containerd-shim-runc-v2; else target=$repo/dist/$shim_name; fi
  # The suite finds the runtime's shim by name on PATH: ours, or the Go shim as ours.
  printf '#!/bin/sh\nexec %q "$@"\n' "$target" >"$run_dir/wrap/$shim_name"
  chmod +x "$run_dir/wrap/$shim_name"
  t1=$SECONDS
  unshare -m -p -f --mount-proc --propagation private env \
    CF_LABEL="$mode" CF_RUN_DIR="$run_dir" CF_RUNTIME="$runtime" CF_HERE="$here" \
    CF_SUITE_PATH="$run_dir/wrap:$suite_path_tail" CF_EXTRA_ARGS="$extra_args" \
    CF_TEST_BIN="$CT_BIN/client.test" CF_TEST_SRC="$CT_SRC" CF_TIMEOUT="$timeout" CF_ONLY="$only" \
    CF_REGISTRY="$CT_REGISTRY" CF_PKI="$cache/pki" CF_IMAGES="$images" CF_HOSTS="$hosts" \
    bash "$here/inner.sh" || log "$mode: the namespace exited with status $?"
  # The suite's TMPDIR was a tmpfs on a fresh /tmp/tsct.* directory; it went with the namespace.
  find /tmp -maxdepth 1 -type d -name 'tsct.????' -empty -delete 2>/dev/null || true
  log "$mode: run took $((SECONDS - t1)) s"
done

header="containerd integration/client $CT_VERSION (Debian sid), containerd $("$CT_CTRD_BIN/containerd" --version | awk '{print $3}'), $(runc --version | head -1), TEST_RUNTIME=$runtime${only:+, -test.run '$only'}"
report=(node "$here/report/report.mjs" --expected "$here/expected-failures.txt" --markdown "$runs/table.md" --header "$header")
for mode in "${modes[@]}"; do report+=("--$mode" "$runs/$mode"); done
log "logs and table.md in $runs"
"${report[@]}"
