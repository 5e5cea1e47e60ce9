#!/bin/bash
# npm run conformance [-- --go] [-- --suite client|cri] [-- --only REGEX] [-- --timeout DURATION]
#
# Runs two of containerd's own test suites from Debian sid's
# golang-github-containerd-containerd-dev, offline: integration/client with
# TEST_RUNTIME=io.containerd.tsshim.v2, and the CRI integration tests (package
# integration) against a containerd whose CRI handler `tsshim` has runtime_type
# io.containerd.tsshim.v2. Each runs once against dist/containerd-shim-tsshim-v2
# and once against containerd-shim-runc-v2 standing in under the same name; all
# four are printed side by side. Exits non-zero when a failure is not in
# test/conformance/expected-failures.txt (client) or cri-expected-failures.txt (CRI);
# test/conformance/cri-skip.txt lists the CRI tests not run here, with reasons.
#   --go           only the Go shim runs (proves the harness)
#   --tsshim       only the tsshim runs
#   --shared       tsshim in shared mode (TSSHIM_SHIM_SHARING=namespace: one daemon per
#                  namespace); what fails only there is listed with its reason in
#                  test/conformance/shared-expected-failures.txt
#   --suite S      only the client or only the cri suite
#   --only REGEX   passed to the suites as -test.run, for quick loops
#   --timeout D    each suite's -test.timeout (default 20m)
# Cache (Debian packages, the built suite, images, CA):
# ${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}. Needs root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$repo/test/conformance
cache=${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}
runtime=io.containerd.tsshim.v2
shim_name=containerd-shim-tsshim-v2
modes=(tsshim go)
suites=(client cri)
only=''
timeout=20m

while (($#)); do
  case $1 in
    --go) modes=(go) ;;
    --tsshim) modes=(tsshim) ;;
    --shared) export TSSHIM_SHIM_SHARING=namespace ;;
    --suite)
      case ${2:-} in client|cri) suites=("$2") ;; *) echo "conformance: --suite needs client or cri" >&2; exit 2 ;; esac
      shift ;;
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

# The shim under test, as the name on PATH containerd looks for: ours, or the Go shim as ours.
wrap_shim() {
  local dir=$1 mode=$2 target
  mkdir -p "$dir"
  if [[ $mode == go ]]; then target=$CT_CTRD_BIN/containerd-shim-runc-v2; else target=$repo/dist/$shim_name; fi
  printf '#!/bin/sh\nexec %q "$@"\n' "$target" >"$dir/$shim_name"
  chmod +x "$dir/$shim_name"
}

has_suite() { [[ " ${suites[*]} " == *" $1 "* ]]; }

if has_suite client; then
  for mode in "${modes[@]}"; do
    run_dir=$runs/$mode
    wrap_shim "$run_dir/wrap" "$mode"
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
fi

if has_suite cri; then
  # The CRI tests not run here (cri-skip.txt), as one -test.skip expression.
  cri_skip=$(awk '!/^#/ && NF { printf "%s%s", sep, $1; sep = "|" }' "$here/cri-skip.txt")
  if [[ -n $cri_skip ]]; then cri_skip="^($cri_skip)\$"; fi
  # Mount points for the run's private CNI configuration and state (empty on the host).
  mkdir -p /etc/cni/net.d /var/lib/cni
  for mode in "${modes[@]}"; do
    run_dir=$runs/cri-$mode
    wrap_shim "$run_dir/wrap" "$mode"
    t1=$SECONDS
    # Its own network namespace too: the pods' CNI bridge exists only there.
    unshare -m -p -n -f --mount-proc --propagation private env \
      CF_LABEL="cri-$mode" CF_RUN_DIR="$run_dir" CF_RUNTIME="$runtime" CF_HERE="$here" CF_HANDLER=tsshim \
      CF_SUITE_PATH="$run_dir/wrap:$suite_path_tail" CF_CTRD_BIN="$CT_CTRD_BIN" CF_SKIP="$cri_skip" \
      CF_TEST_BIN="$CT_BIN/cri.test" CF_TEST_SRC="$CT_CRI_SRC" CF_TIMEOUT="$timeout" CF_ONLY="$only" \
      CF_REGISTRY="$CT_REGISTRY" CF_PKI="$cache/pki" CF_IMAGES="$images" CF_HOSTS="$hosts" \
      bash "$here/cri-inner.sh" || log "cri-$mode: the namespace exited with status $?"
    find /tmp -maxdepth 1 -type d -name 'tsct.????' -empty -delete 2>/dev/null || true
    log "cri-$mode: run took $((SECONDS - t1)) s"
  done
fi

expected=$here/expected-failures.txt
if [[ ${TSSHIM_SHIM_SHARING:-} == namespace ]]; then
  expected=$runs/expected-failures.txt
  cat "$here/expected-failures.txt" "$here/shared-expected-failures.txt" >"$expected"
fi
header="containerd $CT_VERSION tests (Debian sid): integration/client with TEST_RUNTIME=$runtime, CRI integration with handler tsshim (runtime_type $runtime); containerd $("$CT_CTRD_BIN/containerd" --version | awk '{print $3}'), $(runc --version | head -1)${only:+, -test.run '$only'}"
report=(node "$here/report/report.mjs" --markdown "$runs/table.md" --header "$header"
  --expected "$expected" --cri-expected "$here/cri-expected-failures.txt" --cri-skip "$here/cri-skip.txt")
for mode in "${modes[@]}"; do
  if has_suite client; then report+=("--$mode" "$runs/$mode"); fi
  if has_suite cri; then report+=("--cri-$mode" "$runs/cri-$mode"); fi
done
log "logs and table.md in $runs"
"${report[@]}"
