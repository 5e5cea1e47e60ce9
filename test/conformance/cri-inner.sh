#!/bin/bash
# One run of containerd's CRI integration tests (package integration), as PID 1
# of private mount, PID and network namespaces (started by scripts/conformance.sh
# through `unshare -m -p -n -f --mount-proc --propagation private`). Unlike the
# client suite, these tests talk to a containerd that is already running: this
# script runs one (containerd 2.1 from the same Debian source as the tests) with a
# CRI handler `tsshim` whose runtime_type is io.containerd.tsshim.v2 (the
# default handler too), `restrict_oom_score_adj = true` (a test's containerd may
# not lower its own OOM score), a CNI bridge living only in this network
# namespace, and the suites' local registry. Tests that restart containerd kill it
# by name; the loop below starts it again, as upstream's keepalive does.
# When this script exits, the kernel kills whatever is left in the namespaces.
#
# Inputs (environment): as inner.sh, plus CF_CTRD_BIN (containerd's directory),
# CF_HANDLER (the handler name), CF_SKIP (a -test.skip regular expression, may be empty).
# Output: $CF_RUN_DIR/test.log, containerd.log, exit-code, seconds, tests.list.
set -euo pipefail

log() { echo "conformance[$CF_LABEL]: $*" >&2; }

# Descriptors inherited from whoever started the run (a CI runner's pipes, a
# terminal's) would reach containerd and every shim, and the tests that count a
# shim's pipes would count them too.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  # (255 is the descriptor bash reads this script from.)
  if ((fd > 2 && fd != 255)); then eval "exec $fd>&-" 2>/dev/null || true; fi
done

mount -t tmpfs -o mode=0755 tmpfs /run
suite_tmp=$(mktemp -d /tmp/tsct.XXXX)
mount -t tmpfs -o mode=1777 tmpfs "$suite_tmp"
export TMPDIR=$suite_tmp
mkdir -p /run/containerd /run/lock "$suite_tmp/root"
ip link set lo up
# Tests read the CNI configuration from the default directory, and host-local's
# allocations from its default /var/lib/cni; tests that start a containerd of
# their own use the defaults too. Both are tmpfs here, gone with the namespace
# (scripts/conformance.sh makes sure the mount points exist).
mount -t tmpfs -o mode=0755 tmpfs /etc/cni/net.d
mount -t tmpfs -o mode=0755 tmpfs /var/lib/cni

# shellcheck source=lib/registry.sh
source "$CF_HERE/lib/registry.sh"
cf_start_registry

# The pods' network: a bridge with host-local addresses (v4 and v6, as upstream's
# CI). Nothing of it exists outside this namespace.
cat >/etc/cni/net.d/10-tsshim-conformance.conflist <<JSON
{
  "cniVersion": "1.0.0",
  "name": "tsshim-conformance",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "promiscMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.88.0.0/16" }], [{ "subnet": "2001:4860:4860::/64" }]],
        "routes": [{ "dst": "0.0.0.0/0" }, { "dst": "::/0" }]
      }
    },
    { "type": "loopback" }
  ]
}
JSON

config=$CF_RUN_DIR/containerd.toml
cat >"$config" <<TOML
version = 3
root = "$suite_tmp/root"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  drain_exec_sync_io_timeout = "10s"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "$CF_HANDLER"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.$CF_HANDLER]
      runtime_type = "$CF_RUNTIME"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "/etc/cni/net.d"
[plugins."io.containerd.snapshotter.v1.overlayfs"]
  slow_chown = true
[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = "/run/nri-test.sock"
  plugin_path = "/no/pre-launched/nri/plugins"
TOML

# containerd (and the shims it starts) find the shim under test first on PATH,
# pull through the proxy and trust only our CA.
ctrd_env=(env -u NO_PROXY -u no_proxy -u http_proxy -u HTTP_PROXY -u https_proxy
  PATH="$CF_SUITE_PATH" HTTPS_PROXY="http://127.0.0.1:$CF_PROXY_PORT" SSL_CERT_FILE="$CF_PKI/ca.pem")
stop_file=$suite_tmp/stop
(
  while [[ ! -e $stop_file ]]; do
    "${ctrd_env[@]}" "$CF_CTRD_BIN/containerd" --log-level debug --config "$config" </dev/null || true
    sleep 1
  done
) >>"$CF_RUN_DIR/containerd.log" 2>&1 &
for _ in $(seq 300); do
  "$CF_CTRD_BIN/ctr" --address /run/containerd/containerd.sock version >/dev/null 2>&1 && break
  sleep 0.1
done

args=(-test.v -test.timeout="$CF_TIMEOUT" -runtime-handler "$CF_HANDLER" -containerd-bin containerd
  -cri-endpoint unix:///run/containerd/containerd.sock)
if [[ -n ${CF_ONLY:-} ]]; then args+=(-test.run "$CF_ONLY"); fi
if [[ -n ${CF_SKIP:-} ]]; then args+=(-test.skip "$CF_SKIP"); fi
log "running the CRI tests with handler $CF_HANDLER (log: $CF_RUN_DIR/test.log)"
cd "$CF_TEST_SRC"
# The tests this run should report on (see inner.sh); -test.list ignores -test.skip.
"$CF_TEST_BIN" -test.list "${CF_ONLY:-.}" 2>/dev/null | grep -E '^Test' | grep -vE "${CF_SKIP:-^$}" >"$CF_RUN_DIR/tests.list" || true
started=$SECONDS
set +e
"${ctrd_env[@]}" "$CF_TEST_BIN" "${args[@]}" </dev/null 2>&1 \
  | tee "$CF_RUN_DIR/test.log" | grep --line-buffered -E '^\s*--- FAIL' >&2
status=${PIPESTATUS[0]}
set -e
echo "$status" >"$CF_RUN_DIR/exit-code"
echo $((SECONDS - started)) >"$CF_RUN_DIR/seconds"
touch "$stop_file"
rm -rf "$CF_RUN_DIR/registry"
exit 0
