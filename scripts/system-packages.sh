#!/usr/bin/env bash
# The few things the project needs from the operating system rather than from PyPI, installed when
# missing (Debian/Ubuntu, as root or with sudo):
#   fonts-droid-fallback  a CJK font (one plain TrueType file) the village posters embed
#   fonts-dejavu-core     DejaVu Sans, for the digits and Latin letters the CJK font lacks
#   chromium              the browser the mini-program mock's browser tests drive (headless)
# Anything that cannot be installed is reported, not fatal: the posters then say the font is
# missing, and the browser tests say they were skipped.
set -uo pipefail
PACKAGES=(fonts-droid-fallback fonts-dejavu-core chromium)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "NOTICE: cannot install ${missing[*]} (no apt-get here); install them by hand." >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "NOTICE: cannot install ${missing[*]} (not root, no sudo); install them by hand." >&2
    exit 0
  fi
fi
echo "installing ${missing[*]} (Debian packages)..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || echo "NOTICE: installing ${missing[*]} failed; install them by hand." >&2
fi
exit 0
