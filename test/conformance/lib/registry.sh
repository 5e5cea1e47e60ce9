# shellcheck shell=bash
# The suites' registry, inside a run's private namespaces: Debian's docker-registry
# with TLS on loopback (storage private to the run) holding the stand-in images, and
# the CONNECT proxy that maps only the suites' registry hosts to it. Sourced by
# inner.sh and cri-inner.sh; sets CF_PROXY_PORT.
# Inputs (environment): CF_RUN_DIR CF_REGISTRY CF_PKI CF_IMAGES CF_HOSTS CF_HERE

cf_free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

cf_start_registry() {
  local registry_port
  mkdir -p "$CF_RUN_DIR/registry"
  registry_port=$(cf_free_port)
  cat >"$CF_RUN_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $CF_RUN_DIR/registry
http:
  addr: 127.0.0.1:$registry_port
  tls:
    certificate: $CF_PKI/server.pem
    key: $CF_PKI/server.key
YML
  "$CF_REGISTRY" serve "$CF_RUN_DIR/registry.yml" >"$CF_RUN_DIR/registry.log" 2>&1 &
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$registry_port") 2>/dev/null && break
    sleep 0.1
  done
  node "$CF_HERE/registry/push.mjs" "$CF_IMAGES" "$registry_port" "$CF_PKI/ca.pem"

  # shellcheck disable=SC2086
  node "$CF_HERE/registry/proxy.mjs" "$CF_RUN_DIR/proxy.port" "$registry_port" $CF_HOSTS 2>"$CF_RUN_DIR/proxy.log" &
  for _ in $(seq 100); do [[ -s $CF_RUN_DIR/proxy.port ]] && break; sleep 0.1; done
  CF_PROXY_PORT=$(cat "$CF_RUN_DIR/proxy.port")
}
