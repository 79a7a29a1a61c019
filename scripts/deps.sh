#!/usr/bin/env bash
# Makes sure the system packages xagw needs are present.
#
#   scripts/deps.sh build   libxml2 headers and pkg-config (cgo XSD validation)
#   scripts/deps.sh test    the above plus a PostgreSQL server for the store tests
#
# As root the missing Debian packages are installed with apt-get; otherwise the
# script names exactly what is missing and how to install it, and fails.
set -euo pipefail

want=(libxml2-dev pkg-config gcc)
if [ "${1:-build}" = test ]; then
  want+=(postgresql)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "deps: missing Debian packages: ${missing[*]}" >&2
echo "deps: install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
