#!/usr/bin/env bash
# Builds the Go peer of the ttrpc-ts interop tests (test/interop/go-peer) against Go's ttrpc as Debian
# ships it, offline in GOPATH mode, and prints the peer's path and the Go ttrpc version it was built with:
#   <path to go-peer> <ttrpc deb version>
# The Go toolchain and sources are the conformance suite's (test/conformance/lib/toolchain.sh: sid's Go
# and golang-*-dev packages, downloaded and unpacked once into the cache, never installed). The peer is
# cached by the hash of its source and the ttrpc version. Needs apt access to Debian sid (the suites
# scripts/ensure-deps.sh configures at priority 1).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TSSHIM_CONFORMANCE_CACHE:-/var/cache/tsshim/conformance}
log() { echo "ttrpc-go-peer: $*" >&2; }

source "$repo/test/conformance/lib/apt-newer.sh"
source "$repo/test/conformance/lib/toolchain.sh"

mkdir -p "$cache"
# Unpacking shares the conformance suite's cache: take its lock only when something is missing, so a
# long conformance run (which holds it throughout) does not hold up a warm build.
version=$(ct_suite_version "$CT_DEV_PACKAGE" sid || true)
if [[ -z $version || ! -e $cache/containerd-$version/.unpacked ]]; then
  [[ $(id -u) == 0 ]] || { log "the Go toolchain is not unpacked yet and fetching it needs root (or run scripts/conformance.sh once)"; exit 2; }
  exec 9>"$cache/.lock"
  flock -n 9 || { log "waiting for $cache/.lock (a conformance run?)"; flock 9; }
  conformance_ensure_newer_suites
  ct_go_sources "$cache" || {
    log "could not fetch sid's Go and golang-github-containerd-ttrpc-dev: needs Debian's archive with the sid suite (scripts/ensure-deps.sh configures it)"
    exit 2
  }
  exec 9>&-
else
  ct_go_sources "$cache"
fi

ttrpc_version=$(awk -F= '$1 == "golang-github-containerd-ttrpc-dev" {print $2}' "$CT_DIR/packages.txt")
[[ -n $ttrpc_version && -d $CT_ROOT/usr/share/gocode/src/github.com/containerd/ttrpc ]] \
  || { log "golang-github-containerd-ttrpc-dev is not among $CT_DIR/packages.txt"; exit 2; }
source_dir=$repo/test/interop/go-peer
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
