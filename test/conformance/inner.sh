#!/bin/bash
# One run of containerd's integration/client suite, as PID 1 of a private PID
# and mount namespace (started by scripts/conformance.sh through
# `unshare -m -p -f --mount-proc --propagation private`). When this script
# exits, the kernel kills whatever is left in the namespace (registry, proxy,
# containerd, shims, containers) and the mounts go with it.
#
# A tmpfs over /run gives the run its own /run/containerd (shim sockets, runc
# state) and the suite's fixed /run/containerd-test, invisible to the host; one
# on a fresh directory in /tmp is the suite's TMPDIR (short paths: some tests put
# a unix socket in t.TempDir(), and a socket path must stay under 108 bytes).
# Not a tmpfs over all of /tmp: the repository (and dist/) may live there.
# As PID 1, bash also reaps the shims that daemonize and get reparented here,
# so the suite's ps-based leak checks see no zombies.
#
# Inputs (environment): CF_RUN_DIR CF_RUNTIME CF_SUITE_PATH CF_TEST_BIN CF_TEST_SRC
# CF_TIMEOUT CF_ONLY CF_EXTRA_ARGS CF_REGISTRY CF_PKI CF_IMAGES CF_HOSTS CF_HERE
# Output: $CF_RUN_DIR/test.log (go test -v output), exit-code, seconds, tests.list.
set -euo pipefail

log() { echo "conformance[$CF_LABEL]: $*" >&2; }

mount -t tmpfs -o mode=0755 tmpfs /run
suite_tmp=$(mktemp -d /tmp/tsct.XXXX)
mount -t tmpfs -o mode=1777 tmpfs "$suite_tmp"
export TMPDIR=$suite_tmp
mkdir -p /run/containerd /run/lock
suite_root=/var/lib/containerd-test   # fixed by the suite (client_unix.go)

# shellcheck source=lib/registry.sh
source "$CF_HERE/lib/registry.sh"

# 1-2. The registry, TLS on loopback, and the proxy that maps only the suite's registry hosts to it.
cf_start_registry
proxy_port=$CF_PROXY_PORT

# 3. The suite. It starts its own containerd (first on PATH: 2.1) and pulls
# through the proxy; both trust only our CA.
args=(-test.v -test.root -test.timeout="$CF_TIMEOUT")
[[ -n ${CF_ONLY:-} ]] && args+=(-test.run "$CF_ONLY")
# shellcheck disable=SC2206
args+=(${CF_EXTRA_ARGS:-})
log "running the suite with TEST_RUNTIME=$CF_RUNTIME (log: $CF_RUN_DIR/test.log)"
cd "$CF_TEST_SRC"
# The tests this run should report on, so that tests a crash or a timeout never
# let start still show up (as failures).
"$CF_TEST_BIN" -test.short -test.list "${CF_ONLY:-.}" 2>/dev/null | grep -E '^Test' >"$CF_RUN_DIR/tests.list" || true
started=$SECONDS
set +e
env -u NO_PROXY -u no_proxy -u http_proxy -u HTTP_PROXY -u https_proxy \
  TMPDIR="$suite_tmp" PATH="$CF_SUITE_PATH" TEST_RUNTIME="$CF_RUNTIME" \
  HTTPS_PROXY="http://127.0.0.1:$proxy_port" SSL_CERT_FILE="$CF_PKI/ca.pem" \
  "$CF_TEST_BIN" "${args[@]}" </dev/null 2>&1 \
  | tee "$CF_RUN_DIR/test.log" | grep --line-buffered -E '^\s*--- FAIL' >&2
status=${PIPESTATUS[0]}
set -e
echo "$status" >"$CF_RUN_DIR/exit-code"
echo $((SECONDS - started)) >"$CF_RUN_DIR/seconds"

# 4. Leave nothing on the host's disk: the suite removes its root itself
# unless it was killed (timeout); our scratch dirs go too.
if [[ -d $suite_root ]]; then
  grep -o " $suite_root[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$suite_root"
fi
rm -rf "$CF_RUN_DIR/registry"
exit 0
