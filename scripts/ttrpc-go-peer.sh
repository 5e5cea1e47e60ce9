#!/usr/bin/env bash
# Builds a Go peer of the ttrpc-ts interop tests against Go's ttrpc as Debian ships it, offline in GOPATH
# mode, and prints the peer's path and the Go ttrpc version it was built with:
#   scripts/ttrpc-go-peer.sh [1.2|1.1]   ->   <path to go-peer> <ttrpc deb version>
# 1.2 (default): test/interop/go-peer with sid's golang-github-containerd-ttrpc-dev and sid's Go, the
#   conformance suite's toolchain (test/conformance/lib/toolchain.sh: downloaded and unpacked once into
#   the cache, never installed).
# 1.1: test/interop/go-peer-1.1 (unary only) with bookworm's ttrpc, its golang-*-dev dependencies and
#   bookworm's Go, unpacked the same way into the cache.
# A peer is cached by the hash of its source and the ttrpc version. Needs apt access to Debian's archive
# (sid: the suites scripts/ensure-deps.sh configures at priority 1).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}
series=${1:-1.2}
log() { echo "ttrpc-go-peer: $*" >&2; }

source "$repo/test/conformance/lib/apt-newer.sh"
source "$repo/test/conformance/lib/toolchain.sh"

TTRPC_DEV=golang-github-containerd-ttrpc-dev

# bookworm_go_sources: bookworm's ttrpc 1.1 with the golang-* packages installing it and golang-go would
# pull (resolved against an empty dpkg status), unpacked into $cache/ttrpc-go-bookworm-<ver>.
bookworm_go_sources() {
  local version empty
  version=$(ct_suite_version "$TTRPC_DEV" bookworm)
  [[ -n $version ]] || { log "no $TTRPC_DEV in bookworm (is bookworm in apt's sources? apt-get update?)"; return 1; }
  CT_DIR=$cache/ttrpc-go-bookworm-$version
  CT_ROOT=$CT_DIR/root
  if [[ ! -e $CT_DIR/.unpacked ]]; then
    mkdir -p "$CT_DIR"
    empty=$(mktemp)
    apt-get -s -q --no-install-recommends -o Dir::State::status="$empty" -t bookworm install "$TTRPC_DEV=$version" golang-go 2>/dev/null \
      | awk '$1 == "Inst" && $2 ~ /^golang-/ { v = $3; gsub(/[()]/, "", v); print $2 "=" v }' >"$CT_DIR/packages.txt"
    rm -f "$empty"
    log "downloading and unpacking $(wc -l <"$CT_DIR/packages.txt") bookworm packages into $CT_DIR"
    # shellcheck disable=SC2046
    ct_unpack "$CT_DIR" $(cat "$CT_DIR/packages.txt")
    touch "$CT_DIR/.unpacked"
  fi
  CT_GO=$(ls -d "$CT_ROOT"/usr/lib/go-1.*/bin/go | sort -V | tail -1)
}

mkdir -p "$cache"
case $series in
  1.2)
    # Unpacking shares the conformance suite's cache: take its lock only when something is missing, so
    # a long conformance run (which holds it throughout) does not hold up a warm build.
    version=$(ct_suite_version "$CT_DEV_PACKAGE" sid || true)
    if [[ -z $version || ! -e $cache/containerd-$version/.unpacked ]]; then
      [[ $(id -u) == 0 ]] || { log "the Go toolchain is not unpacked yet and fetching it needs root (or run scripts/conformance.sh once)"; exit 2; }
      exec 9>"$cache/.lock"
      flock -n 9 || { log "waiting for $cache/.lock (a conformance run?)"; flock 9; }
      conformance_ensure_newer_suites
      ct_go_sources "$cache" || {
        log "could not fetch sid's Go and $TTRPC_DEV: needs Debian's archive with the sid suite (scripts/ensure-deps.sh configures it)"
        exit 2
      }
      exec 9>&-
    else
      ct_go_sources "$cache"
    fi
    source_dir=$repo/test/interop/go-peer
    ;;
  1.1)
    exec 9>"$cache/.ttrpc-go-bookworm.lock"
    flock 9
    bookworm_go_sources || { log "could not fetch bookworm's Go and $TTRPC_DEV from Debian's archive"; exit 2; }
    exec 9>&-
    source_dir=$repo/test/interop/go-peer-1.1
    ;;
  *) log "unknown ttrpc series $series (1.2 or 1.1)"; exit 2 ;;
esac

ttrpc_version=$(awk -F= -v p="$TTRPC_DEV" '$1 == p {print $2}' "$CT_DIR/packages.txt")
[[ -n $ttrpc_version && -d $CT_ROOT/usr/share/gocode/src/github.com/containerd/ttrpc ]] \
  || { log "$TTRPC_DEV is not among $CT_DIR/packages.txt"; exit 2; }
key=$(cat "$source_dir"/*.go | sha256sum | cut -c1-16)
out=$cache/ttrpc-go-peer/$ttrpc_version-$key
if [[ ! -x $out/go-peer ]]; then
  mkdir -p "$out"
  exec 8>"$out/.lock"
  flock 8
  if [[ ! -x $out/go-peer ]]; then
    log "building with $("$CT_GO" version | cut -d' ' -f3) and ttrpc $ttrpc_version (GOPATH mode, offline)"
    (cd "$source_dir" && ct_go build -o "$out/go-peer.tmp" .) >&2
    mv "$out/go-peer.tmp" "$out/go-peer"
  fi
fi
echo "$out/go-peer $ttrpc_version"
