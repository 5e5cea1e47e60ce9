# shellcheck shell=bash
# Makes Debian's trixie and sid suites known to apt at Pin-Priority 1, so that
# `apt-get download` can fetch from them while nothing is ever installed from
# them by accident. If another file (scripts/ensure-deps.sh writes
# tsshim-newer-containerd.sources) already lists both suites we add no second
# copy. Sourced by scripts/conformance.sh; needs root.

# True if a deb822 source file other than ours lists trixie and sid of main.
ct_suites_listed_elsewhere() {
  local ours=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ $f == "$ours" ]] && continue
    grep -qE '^Suites:.*[[:space:]]trixie([[:space:]]|$)' "$f" 2>/dev/null \
      && grep -qE '^Suites:.*[[:space:]]sid([[:space:]]|$)' "$f" \
      && grep -qE '^Components:.*[[:space:]]main([[:space:]]|$)' "$f" && return 0
  done
  return 1
}

conformance_ensure_newer_suites() {
  local sources=/etc/apt/sources.list.d/tsshim-newer.sources
  local pref=/etc/apt/preferences.d/tsshim-newer.pref
  local base=/etc/apt/sources.list.d/debian.sources
  local changed=0
  # The pin goes in first, so no apt run in between can see sid at priority 500.
  if [[ ! -e $pref ]]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 1\n\nPackage: *\nPin: release n=sid\nPin-Priority: 1\n' >"$pref"
  fi
  if [[ ! -e $sources ]] && ! ct_suites_listed_elsewhere "$sources"; then
    # The machine's own Debian mirror and keyring (its first, non-security stanza).
    local uris signed
    uris=$(awk '/^URIs:/ {print $2}' "$base" 2>/dev/null | grep -v -- -security | head -n1)
    signed=$(awk '/^Signed-By:/ {print $2; exit}' "$base" 2>/dev/null)
    printf 'Types: deb\nURIs: %s\nSuites: trixie sid\nComponents: main\nSigned-By: %s\n' \
      "${uris:-http://deb.debian.org/debian}" "${signed:-/usr/share/keyrings/debian-archive-keyring.gpg}" >"$sources"
    changed=1
  fi
  # Update when we just added the suites or when sid's package list is absent.
  if ((changed)) || ! apt-cache madison golang-github-containerd-containerd-dev 2>/dev/null | grep -q ' sid/'; then
    apt-get update -qq
  fi
}
