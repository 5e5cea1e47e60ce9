# Sourced by scripts/ensure-deps.sh (uses its say, apt_update, apt_opts, cache and
# ensure_newer_suites_configured). Makes a working CRIU for checkpoint/restore tests.
#
# bookworm's CRIU 3.17 fails `criu check` on this kernel (vdso symtable). trixie's CRIU 4.1.1
# works, but needs glibc 2.38: it is unpacked with trixie's libc and started through trixie's
# own loader, by a `criu` wrapper in $cache/criu-trixie/bin (docs/architecture.md §11.6). Nothing is
# installed over the system's libraries.

criu_dir="$cache/criu-trixie"
# trixie packages whose bookworm versions are too old for criu 4.1.1 (the rest come from bookworm).
criu_trixie_debs=(criu libcompel1 libc6 libgnutls30t64 libnettle8t64 libhogweed6t64 libp11-kit0 libtasn1-6 libidn2-0 libunistring5 libgmp10 libffi8)
# iptables: CRIU locks the network namespace with iptables-restore while it dumps.
criu_bookworm_packages=(libbsd0 libnet1 libnftables1 libnl-3-200 libprotobuf-c1 libuuid1 libmnl0 libnftnl11 libjansson4 libxtables12 libedit2 iptables)

criu_wrapper() {
  cat <<WRAP
#!/bin/sh
# criu 4.1.1 from Debian trixie, run through trixie's loader and libc (installed by scripts/criu.sh).
root='$criu_dir/root'
exec "\$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
  --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" \\
  "\$root/usr/sbin/criu" "\$@"
WRAP
}

ensure_criu() {
  local missing=() p
  for p in "${criu_bookworm_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_update
    say "apt-get install ${missing[*]} (for criu)"
    apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ -x "$criu_dir/bin/criu" ] && [ -s "$criu_dir/VERSION" ]; then
    say "criu from trixie: $(cat "$criu_dir/VERSION") in $criu_dir/bin (criu check: $(cat "$criu_dir/CHECK"))"
    return 0
  fi
  ensure_newer_suites_configured
  local tmp
  tmp=$(mktemp -d "$cache/.fetch-criu.XXXXXX")
  chmod 755 "$tmp"
  say "downloading criu and its newer libraries from trixie"
  (cd "$tmp" && apt-get "${apt_opts[@]}" download "${criu_trixie_debs[@]/%//trixie}" >/dev/null)
  mkdir -p "$tmp/unpacked/root" "$tmp/unpacked/bin"
  local deb
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/unpacked/root"; done
  dpkg-deb -f "$tmp"/criu_*.deb Version >"$tmp/unpacked/VERSION"
  rm -rf "$criu_dir"
  mv "$tmp/unpacked" "$criu_dir"
  rm -rf "$tmp"
  criu_wrapper >"$criu_dir/bin/criu"
  chmod 755 "$criu_dir/bin/criu"
  # Record what `criu check` says on this kernel; the tests report it rather than guess.
  if "$criu_dir/bin/criu" check >"$criu_dir/check.log" 2>&1; then echo "Looks good" >"$criu_dir/CHECK"
  else echo "failed (see $criu_dir/check.log)" >"$criu_dir/CHECK"; fi
  say "criu from trixie: $(cat "$criu_dir/VERSION") in $criu_dir/bin (criu check: $(cat "$criu_dir/CHECK"))"
}
