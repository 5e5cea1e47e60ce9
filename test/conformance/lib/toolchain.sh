# shellcheck shell=bash
# Everything the suite needs that Debian ships, unpacked (never installed)
# into a cache outside the repository, keyed by package version:
#   $CACHE/containerd-<ver>/root   sid's golang-github-containerd-containerd-dev
#                                  (it ships integration/client), the golang-*
#                                  packages its install would pull, sid's Go, and
#                                  sid's containerd (containerd, ctr, the Go shim)
#   $CACHE/containerd-<ver>/bin    client.test, runc-fp and cri.test (the CRI
#                                  integration tests, package integration), built
#                                  offline in GOPATH mode
#   $CACHE/registry-<ver>/root     Debian's docker-registry
# `apt-get install -t sid` would pull sid's libc: we only download and unpack.
# Sourced by scripts/conformance.sh; sets CT_* variables.

CT_DEV_PACKAGE=golang-github-containerd-containerd-dev

ct_log() { echo "conformance: $*" >&2; }

# The version the named suite offers for a package (empty if none; madison pads versions to one width).
ct_suite_version() {
  apt-cache madison "$1" | awk -F' [|] ' -v s=" $2/" 'index($3, s) {gsub(/ /, "", $2); print $2; exit}'
}

# ct_unpack DIR PKG=VER... : download into DIR/debs, unpack into DIR/root.
ct_unpack() {
  local dir=$1; shift
  rm -rf "$dir/debs" "$dir/root" && mkdir -p "$dir/debs" "$dir/root"
  (cd "$dir/debs" && apt-get download -q "$@" >"$dir/download.log" 2>&1) \
    || { cat "$dir/download.log" >&2; return 1; }
  local deb
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
  rm -rf "$dir/debs"
}

# The golang-* packages (with versions) that installing the dev package and
# golang-go from sid would pull, resolved against an empty dpkg status so the
# answer does not depend on what this machine has installed.
ct_resolve_go_packages() {
  local version=$1 empty
  empty=$(mktemp)
  apt-get -s -q --no-install-recommends -o Dir::State::status="$empty" -t sid \
    install "$CT_DEV_PACKAGE=$version" golang-go 2>/dev/null \
    | awk '$1 == "Inst" && $2 ~ /^golang-/ { v = $3; gsub(/[()]/, "", v); print $2 "=" v }'
  rm -f "$empty"
}

ct_go() {
  nice env -u GOROOT GOPATH="$CT_ROOT/usr/share/gocode" GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off \
    GOFLAGS= GOCACHE="$CT_DIR/gocache" "$CT_GO" "$@"
}

# ct_go_sources CACHE: sid's Go and the Go sources of containerd with every golang-* package it
# needs, unpacked once into CACHE/containerd-<ver>; sets CT_VERSION, CT_DIR, CT_ROOT and CT_GO.
# Also used by scripts/ttrpc-go-peer.sh (Go's ttrpc for the ttrpc-ts interop tests).
ct_go_sources() {
  local cache=$1
  CT_VERSION=$(ct_suite_version "$CT_DEV_PACKAGE" sid)
  [[ -n $CT_VERSION ]] || { ct_log "sid offers no $CT_DEV_PACKAGE (apt-get update?)"; return 1; }
  CT_DIR=$cache/containerd-$CT_VERSION
  CT_ROOT=$CT_DIR/root
  if [[ ! -e $CT_DIR/.unpacked ]]; then
    ct_log "resolving $CT_DEV_PACKAGE $CT_VERSION and its golang-* dependencies from sid"
    local ctrd_version
    ctrd_version=$(ct_suite_version containerd sid)
    [[ $ctrd_version == "$CT_VERSION" ]] || ct_log "note: sid's containerd is $ctrd_version, the tests are $CT_VERSION"
    mkdir -p "$CT_DIR"
    ct_resolve_go_packages "$CT_VERSION" >"$CT_DIR/packages.txt"
    echo "containerd=$ctrd_version" >>"$CT_DIR/packages.txt"
    ct_log "downloading and unpacking $(wc -l <"$CT_DIR/packages.txt") packages into $CT_DIR"
    # shellcheck disable=SC2046
    ct_unpack "$CT_DIR" $(cat "$CT_DIR/packages.txt")
    touch "$CT_DIR/.unpacked"
  fi
  CT_GO=$(ls -d "$CT_ROOT"/usr/lib/go-1.*/bin/go | sort -V | tail -1)
}

# conformance_toolchain CACHE
conformance_toolchain() {
  local cache=$1
  ct_go_sources "$cache" || return 1
  CT_BIN=$CT_DIR/bin
  CT_CTRD_BIN=$CT_ROOT/usr/bin
  if [[ ! -x $CT_BIN/client.test || ! -x $CT_BIN/runc-fp ]]; then
    local t0=$SECONDS pkg=github.com/containerd/containerd/v2/integration
    ct_log "building the suite with $("$CT_GO" version | cut -d' ' -f3) in GOPATH mode (cold: a few minutes)"
    mkdir -p "$CT_BIN"
    ct_go test -c -o "$CT_BIN/client.test.tmp" "$pkg/client"
    ct_go build -o "$CT_BIN/runc-fp.tmp" "$pkg/failpoint/cmd/runc-fp"
    mv "$CT_BIN/client.test.tmp" "$CT_BIN/client.test"
    mv "$CT_BIN/runc-fp.tmp" "$CT_BIN/runc-fp"
    ct_log "built in $((SECONDS - t0)) s"
  fi
  if [[ ! -x $CT_BIN/cri.test ]]; then
    local t0=$SECONDS
    ct_log "building the CRI integration tests (cold: about a minute)"
    ct_go test -c -o "$CT_BIN/cri.test.tmp" github.com/containerd/containerd/v2/integration
    mv "$CT_BIN/cri.test.tmp" "$CT_BIN/cri.test"
    ct_log "built in $((SECONDS - t0)) s"
  fi
  CT_SRC=$CT_ROOT/usr/share/gocode/src/github.com/containerd/containerd/v2/integration/client
  CT_CRI_SRC=${CT_SRC%/client}

  local reg_version
  reg_version=$(apt-cache policy docker-registry | awk '/Candidate:/ {print $2}')
  CT_REGISTRY_DIR=$cache/registry-$reg_version
  if [[ ! -e $CT_REGISTRY_DIR/.unpacked ]]; then
    ct_log "downloading docker-registry $reg_version"
    ct_unpack "$CT_REGISTRY_DIR" "docker-registry=$reg_version"
    touch "$CT_REGISTRY_DIR/.unpacked"
  fi
  CT_REGISTRY=$CT_REGISTRY_DIR/root/usr/bin/docker-registry
  CT_REGISTRY_VERSION=$reg_version
}
