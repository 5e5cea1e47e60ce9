# shellcheck shell=bash
# A private CA and a server certificate for the local registry, valid for the
# registry hosts the suite pulls from and 127.0.0.1. The test process (and the
# containerd it starts) trust only this CA, through SSL_CERT_FILE.
# Regenerated when the host list changes. Sourced by scripts/conformance.sh.

# conformance_pki DIR HOST... -> DIR/{ca.pem,server.pem,server.key}
conformance_pki() {
  local dir=$1; shift
  local want="$*"
  if [[ -s $dir/server.pem && -s $dir/hosts && "$(cat "$dir/hosts")" == "$want" ]]; then
    return 0
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  local san="IP:127.0.0.1,DNS:localhost" h
  for h in "$@"; do san+=",DNS:$h"; done
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=tsshim conformance CA' \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj '/CN=tsshim conformance registry' \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -out "$dir/server.pem" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san") 2>/dev/null
  rm -f "$dir/server.csr" "$dir/ca.key" "$dir/ca.srl"
  echo "$want" >"$dir/hosts"
}
