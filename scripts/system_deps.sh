#!/usr/bin/env bash
# Install the Debian packages a target needs, only when they are missing.
#   scripts/system_deps.sh          the test suite: Chromium (browser tests) and npm
#   scripts/system_deps.sh npm      just npm (the console's DuckDB-WASM assets)
set -euo pipefail
PACKAGES=()
if [ "${1:-test}" = "test" ]; then
  PACKAGES+=(chromium)
fi
# npm may come with the machine's own Node.js rather than from Debian: only install it
# when no npm is on the PATH at all.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
