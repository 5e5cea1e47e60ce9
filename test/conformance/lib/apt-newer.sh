# shellcheck shell=bash
# Makes Debian's trixie and sid suites known to apt at Pin-Priority 1, so that
# `apt-get download` can fetch from them while nothing is ever installed from
# them by accident. Same file names and content as scripts/ensure-deps.sh
# writes, so whichever runs first wins and the other leaves it alone.
# Sourced by scripts/conformance.sh; needs root.

conformance_ensure_newer_suites() {
  local sources=/etc/apt/sources.list.d/tsshim-newer.sources
  local pref=/etc/apt/preferences.d/tsshim-newer.pref
  local base=/etc/apt/sources.list.d/debian.sources
  local changed=0
  if [[ ! -e $sources ]]; then
    # Reuse the URIs and keyring of the machine's own Debian source (first stanza).
    local uris signed
    uris=$(awk '/^URIs:/ {print $2; exit}' "$base" 2>/dev/null)
    signed=$(awk '/^Signed-By:/ {print $2; exit}' "$base" 2>/dev/null)
    : "${uris:=http://deb.debian.org/debian}"
    : "${signed:=/usr/share/keyrings/debian-archive-keyring.gpg}"
    printf 'Types: deb\nURIs: %s\nSuites: trixie sid\nComponents: main\nSigned-By: %s\n' "$uris" "$signed" >"$sources"
    changed=1
  fi
  if [[ ! -e $pref ]]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 1\n\nPackage: *\nPin: release n=sid\nPin-Priority: 1\n' >"$pref"
    changed=1
  fi
  # Update when we just added the suites or when sid's package list is absent.
  if ((changed)) || ! compgen -G '/var/lib/apt/lists/*_dists_sid_*Packages*' >/dev/null; then
    apt-get update -qq
  fi
}
