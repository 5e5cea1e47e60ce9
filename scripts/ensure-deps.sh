#!/usr/bin/env bash
# Installs what `npm test` and `npm run demo` need on a fresh Debian bookworm machine (run as root).
# Idempotent and quick when everything is present: apt is only consulted when something is missing.
#   - Debian packages: containerd (1.6), runc, busybox-static, util-linux, build tools for the addon,
#     the CNI plugins and iproute2 (the conformance suite's CRI run: a bridge in its own network namespace)
#   - containerd 1.7 and 2.x unpacked from the archive's trixie and sid suites into $TSSHIM_CACHE
#     (no system upgrade: those suites are pinned at priority 1)
#   - dockerd and the docker CLI (docker.io + docker-cli) from trixie, unpacked into $TSSHIM_CACHE/docker-trixie
#     (bookworm's 20.10 cannot select a shim v2 runtime by runtimeType)
#   - node_modules (npm install from the lock) and dist/ (npm run build) when missing or stale
#   - the busybox rootfs and OCI image fixture (fixtures/build.sh)
# Env: TSSHIM_CACHE (default /var/cache/tsshim), TSSHIM_SKIP_BUILD=1 to leave dist/ alone.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${TSSHIM_CACHE:-/var/cache/tsshim}
say() { echo "ensure-deps: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root (it installs Debian packages and runs containerd)"; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o DPkg::Lock::Timeout=300)
apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  say "apt-get update"
  # Another apt may hold the lists lock for a while (teammates, unattended jobs): retry.
  local try
  for try in 1 2 3 4 5; do
    if apt-get "${apt_opts[@]}" update >/dev/null; then apt_updated=1; return 0; fi
    say "apt-get update failed (attempt $try), retrying"; sleep 5
  done
  apt-get "${apt_opts[@]}" update
  apt_updated=1
}

# --- 1. Debian packages from the system's own suite ---------------------------------------------
# libsystemd0 and libcap2: the shared libraries trixie's dockerd links against (bookworm's versions suffice).
# strace: npm run bench counts the processes started per container with it.
# containernetworking-plugins, iproute2: the conformance suite's CRI run (a CNI bridge in its own network namespace).
packages=(containerd runc crun tmux busybox-static util-linux procps python3 make g++ tar gzip coreutils libsystemd0 libcap2 strace containernetworking-plugins iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update
  say "apt-get install ${missing[*]}"
  apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || { say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))"; exit 1; }

# One run at a time (teammates' npm test runs, CI): they share the cache, apt and dist/.
mkdir -p "$cache"
exec 9>"$cache/.ensure-deps.lock"
flock 9

# --- 2. Newer containerds from trixie and sid, unpacked, never installed -------------------------
newer_sources=/etc/apt/sources.list.d/tsshim-newer-containerd.sources
newer_pin=/etc/apt/preferences.d/tsshim-newer-containerd

debian_mirror() {
  # The mirror the system already uses for the main archive (not debian-security).
  local uri
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
        | grep -v -- '-security' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# True if a deb822 file other than ours already lists trixie and sid (main) of the archive.
suites_configured_elsewhere() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ "$f" = "$newer_sources" ] && continue
    grep -qE '^Suites:.*[[:space:]]trixie([[:space:]]|$)' "$f" 2>/dev/null \
      && grep -qE '^Suites:.*[[:space:]]sid([[:space:]]|$)' "$f" \
      && grep -qE '^Components:.*[[:space:]]main([[:space:]]|$)' "$f" && return 0
  done
  return 1
}

ensure_newer_suites_configured() {
  local mirror want_sources want_pin
  mirror=$(debian_mirror)
  want_sources="# Added by tsshim scripts/ensure-deps.sh: only to download newer containerd packages (pinned at 1 below).
Types: deb
URIs: $mirror
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
  want_pin="# Added by tsshim scripts/ensure-deps.sh: never upgrade anything from trixie or sid.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: *
Pin: release n=sid
Pin-Priority: 1
"
  # The pin must be in place before the sources, or an apt run in between could see sid at 500.
  if [ "$(cat "$newer_pin" 2>/dev/null)" != "$want_pin" ]; then
    printf '%s' "$want_pin" >"$newer_pin"
  fi
  local need_update=0
  if suites_configured_elsewhere; then
    # Someone (a teammate's script, the image) already lists both suites: a second copy only makes apt warn.
    rm -f "$newer_sources"
  elif [ "$(cat "$newer_sources" 2>/dev/null)" != "$want_sources" ]; then
    printf '%s' "$want_sources" >"$newer_sources"
    need_update=1
  fi
  # The lists may be missing even if the sources were there (apt-get clean, a fresh image).
  local known
  known=$(apt-cache madison containerd 2>/dev/null || true)
  grep -q ' trixie/' <<<"$known" && grep -q ' sid/' <<<"$known" || need_update=1
  if [ "$need_update" = 1 ]; then apt_updated=0; apt_update; fi
}

fetch_containerd_from() {
  local suite=$1 dir="$cache/containerd-$1"
  local tmp
  ensure_newer_suites_configured
  tmp=$(mktemp -d "$cache/.fetch-$suite.XXXXXX")
  chmod 755 "$tmp" # apt downloads as the _apt user
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  say "downloading containerd/$suite"
  (cd "$tmp" && apt-get "${apt_opts[@]}" download "containerd/$suite" >/dev/null)
  local deb
  deb=$(ls "$tmp"/containerd_*.deb)
  mkdir -p "$tmp/unpacked/root"
  dpkg -x "$deb" "$tmp/unpacked/root"
  local b
  for b in containerd ctr containerd-shim-runc-v2; do
    [ -x "$tmp/unpacked/root/usr/bin/$b" ] || { say "$deb has no usr/bin/$b"; return 1; }
  done
  # Go binaries: static or glibc-compatible with bookworm. Prove they run here before caching them.
  local version_line
  version_line=$("$tmp/unpacked/root/usr/bin/containerd" --version) \
    || { say "containerd from $suite does not run on this system"; return 1; }
  "$tmp/unpacked/root/usr/bin/ctr" --version >/dev/null
  "$tmp/unpacked/root/usr/bin/containerd-shim-runc-v2" -v >/dev/null
  dpkg-deb -f "$deb" Version >"$tmp/unpacked/DEB_VERSION"
  # Upstream version, e.g. 1.7.24 from "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+b4".
  awk '{ v = $3; sub(/^v/, "", v); sub(/[~+-].*/, "", v); print v }' <<<"$version_line" >"$tmp/unpacked/VERSION"
  echo "$suite" >"$tmp/unpacked/SUITE"
  rm -rf "$dir"
  mv "$tmp/unpacked" "$dir"
}

mkdir -p "$cache"
for suite in trixie sid; do
  dir="$cache/containerd-$suite"
  if ! [ -s "$dir/VERSION" ] || ! [ -x "$dir/root/usr/bin/containerd" ]; then
    fetch_containerd_from "$suite"
  fi
  say "containerd from $suite: $(cat "$dir/VERSION") (Debian $(cat "$dir/DEB_VERSION")) in $dir/root/usr/bin"
done
say "containerd from bookworm: $(containerd --version | awk '{print $3}') in /usr/bin"

# --- 2b. dockerd and docker CLI from trixie, unpacked, never installed ------------------------------
fetch_docker_from() {
  local suite=$1 dir="$cache/docker-$1"
  local tmp
  ensure_newer_suites_configured
  tmp=$(mktemp -d "$cache/.fetch-docker-$suite.XXXXXX")
  chmod 755 "$tmp" # apt downloads as the _apt user
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  say "downloading docker.io/$suite and docker-cli/$suite"
  (cd "$tmp" && apt-get "${apt_opts[@]}" download "docker.io/$suite" "docker-cli/$suite" >/dev/null)
  mkdir -p "$tmp/unpacked/root"
  local deb
  for deb in "$tmp"/docker.io_*.deb "$tmp"/docker-cli_*.deb; do dpkg -x "$deb" "$tmp/unpacked/root"; done
  local b
  for b in usr/sbin/dockerd usr/bin/docker; do
    [ -x "$tmp/unpacked/root/$b" ] || { say "docker packages from $suite have no $b"; return 1; }
  done
  # Mostly static Go, but dockerd links libsystemd/libcap/...: prove both run here before caching them.
  local version_line
  version_line=$("$tmp/unpacked/root/usr/sbin/dockerd" --version) \
    || { say "dockerd from $suite does not run on this system (ldd $tmp/unpacked/root/usr/sbin/dockerd)"; return 1; }
  "$tmp/unpacked/root/usr/bin/docker" --version >/dev/null
  dpkg-deb -f "$(ls "$tmp"/docker.io_*.deb)" Version >"$tmp/unpacked/DEB_VERSION"
  # "Docker version 26.1.5+dfsg1, build 411e817" -> 26.1.5
  awk '{ v = $3; sub(/,$/, "", v); sub(/[~+-].*/, "", v); print v }' <<<"$version_line" >"$tmp/unpacked/VERSION"
  echo "$suite" >"$tmp/unpacked/SUITE"
  rm -rf "$dir"
  mv "$tmp/unpacked" "$dir"
}

docker_dir="$cache/docker-trixie"
if ! [ -s "$docker_dir/VERSION" ] || ! [ -x "$docker_dir/root/usr/sbin/dockerd" ] || ! [ -x "$docker_dir/root/usr/bin/docker" ]; then
  fetch_docker_from trixie
fi
say "docker from trixie: $(cat "$docker_dir/VERSION") (Debian $(cat "$docker_dir/DEB_VERSION")) in $docker_dir/root"

# --- 2b. A CRIU that works on this kernel, for checkpoint/restore ---------------------------------
# shellcheck source=scripts/criu.sh
source "$repo/scripts/criu.sh"
ensure_criu

# --- 3. node_modules and dist/ -------------------------------------------------------------------
cd "$repo"
# node_modules is current when it was installed from this exact package-lock.json (content, not mtime:
# a touched lock file must not wipe node_modules under teammates' running tests).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
installed_hash_file=node_modules/.tsshim-package-lock.sha256
if ! [ -f "$installed_hash_file" ] && [ -f node_modules/.package-lock.json ] \
   && ! [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "$lock_hash" >"$installed_hash_file" # installed before this script existed, and not older than the lock
fi
if [ "$(cat "$installed_hash_file" 2>/dev/null)" != "$lock_hash" ]; then
  # `npm install`, not `npm ci`: it installs what the lock says. The tracked lock is exactly what npm 11
  # writes back (every platform's optional packages included), so a fresh clone stays clean
  # (test/unit/package-lock.test.ts).
  say "npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$installed_hash_file"
fi

stamp=dist/.ensure-deps-built
build_inputs=(src packages/ttrpc-ts/src proto native scripts/build.mjs scripts/build-sea.mjs package.json package-lock.json tsconfig.json)
needs_build() {
  [ -f "$stamp" ] || return 0
  local inputs=() i
  for i in "${build_inputs[@]}"; do [ -e "$i" ] && inputs+=("$i"); done
  [ -n "$(find "${inputs[@]}" \( -path native/build -o -path src/api/gen \) -prune -o -newer "$stamp" -print -quit)" ]
}
if [ "${TSSHIM_SKIP_BUILD:-0}" = 1 ]; then
  say "TSSHIM_SKIP_BUILD=1: not building dist/"
elif needs_build; then
  say "npm run build"
  npm run --silent build
  touch "$stamp"
fi

# --- 4. Fixtures (cached by busybox version) -----------------------------------------------------
bash "$repo/fixtures/build.sh" >/dev/null
