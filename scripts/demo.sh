#!/usr/bin/env bash
# npm run demo: runs a busybox container through tsshim under a private containerd 1.6, in a private mount
# namespace (tmpfs over /run/containerd), and cleans everything up on exit.
# TSSHIM_DEMO_RUNTIME=io.containerd.runc.v2 runs the same with containerd's Go shim, for comparison.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runtime=${TSSHIM_DEMO_RUNTIME:-io.containerd.tsshim.v2}

if [ "${TSSHIM_DEMO_IN_NAMESPACE:-0}" != 1 ]; then
  bash "$repo/scripts/ensure-deps.sh"
  if [ "$runtime" = io.containerd.tsshim.v2 ] && ! [ -x "$repo/dist/containerd-shim-tsshim-v2" ]; then
    echo "demo: $repo/dist/containerd-shim-tsshim-v2 was not built (npm run build)" >&2
    exit 1
  fi
  mkdir -p /run/containerd
  exec unshare --mount --propagation private -- env TSSHIM_DEMO_IN_NAMESPACE=1 bash "$0" "$@"
fi

# --- inside the private mount namespace ----------------------------------------------------------
mount -t tmpfs -o mode=0711 tsshim-demo-run /run/containerd
fixture=$(bash "$repo/fixtures/build.sh")
image=$(node -p 'JSON.parse(process.argv[1]).image' "$fixture")
archive=$(node -p 'JSON.parse(process.argv[1]).imageArchive' "$fixture")

dir=$(mktemp -d /tmp/tsshim-demo-XXXXXX)
address=$dir/c.sock
namespace=demo
containerd_pid=
ctr() { command ctr --address "$address" --namespace "$namespace" "$@"; }
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

# Pids of the processes started with `-address <our socket>`: the shims of our containerd.
# (A daemon that began as a spare has one title string as its command line: matched as a word.)
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' '\n' 2>/dev/null <"$p/cmdline" | tr ' ' '\n' | grep -qx -- "$address" && echo "${p#/proc/}"
  done
  return 0
}

# Pids of all descendants of the given pids (the containers under a shim).
descendants() {
  local table frontier=" $* " next found=
  table=$(ps -eo pid=,ppid=)
  while [ "$frontier" != "  " ]; do
    next=$(awk -v f="$frontier" 'index(f, " " $2 " ") { print $1 }' <<<"$table" | tr '\n' ' ')
    found="$found $next"
    frontier=" $next "
  done
  echo $found
}

cleanup() {
  local status=$? pids
  trap - EXIT
  set +e
  if [ -n "$containerd_pid" ] && kill -0 "$containerd_pid" 2>/dev/null; then
    for id in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$id" >/dev/null 2>&1 || true; done
    kill "$containerd_pid" 2>/dev/null || true
    wait "$containerd_pid" 2>/dev/null || true
  fi
  pids=$(our_shims)
  [ -z "$pids" ] || kill -9 $pids $(descendants $pids) 2>/dev/null
  # Deepest first; the namespace's mounts vanish with it anyway, this keeps /tmp clean right now.
  grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  if [ "$status" != 0 ]; then echo "demo: failed; containerd's log:" >&2; tail -n 40 "$dir/containerd.log" >&2 || true; fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$address"
[ttrpc]
  address = "$address.ttrpc"
[debug]
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
TOML

# dist/ first on PATH: that is where containerd finds containerd-shim-tsshim-v2.
PATH="$repo/dist:$PATH" containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do
  grep -q 'successfully booted' "$dir/containerd.log" && break
  kill -0 "$containerd_pid" 2>/dev/null || { echo "demo: containerd exited" >&2; exit 1; }
  sleep 0.1
done
echo "demo: containerd $(containerd --version | awk '{print $3}') running in $dir (private mount namespace), runtime $runtime"

step ctr image import "$archive"
ctr image import "$archive" >/dev/null
ctr image ls

step ctr run --rm --runtime "$runtime" "$image" demo echo "hello from tsshim"
ctr run --rm --runtime "$runtime" "$image" demo echo "hello from tsshim"

step ctr run --rm --runtime "$runtime" "$image" demo sh -c '"uname -a; grep PRETTY /etc/os-release; id; exit 3"'
set +e
ctr run --rm --runtime "$runtime" "$image" demo sh -c 'uname -a; grep PRETTY /etc/os-release; id; exit 3'
echo "(exit status $?)"
set -e

step ctr run -d --runtime "$runtime" "$image" sleeper sleep 600 '&&' ctr tasks ls
ctr run -d --runtime "$runtime" "$image" sleeper sleep 600
ctr tasks ls
# The sleeper's shim is its parent (the subreaper), whichever way it began.
task_pid=$(ctr tasks ls | awk '$1 == "sleeper" {print $2}')
shim=$(awk '{print $4}' "/proc/$task_pid/stat" 2>/dev/null || true)
if [ -n "$shim" ]; then
  echo "shim: pid $shim, $(awk '/VmRSS/ {print $2, $3}' "/proc/$shim/status") RSS: $(tr '\0' ' ' <"/proc/$shim/cmdline")"
fi
step ctr tasks kill -s SIGKILL sleeper '&&' ctr tasks delete sleeper
ctr tasks kill -s SIGKILL sleeper
for _ in $(seq 50); do ctr tasks ls | grep -q 'sleeper.*STOPPED' && break; sleep 0.1; done
ctr tasks delete sleeper
ctr containers delete sleeper
echo
echo "demo: done"
