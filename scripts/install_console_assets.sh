#!/usr/bin/env bash
# Install the console's npm packages (DuckDB-WASM 1.28.0 and its apache-arrow) into
# gateway/console/node_modules, from the committed package-lock.json. Served locally by
# the gateway; the page never loads anything from a CDN. Skips when already installed.
set -euo pipefail
cd "$(dirname "$0")/../gateway/console"
marker="node_modules/@duckdb/duckdb-wasm/package.json"
if [ -f "$marker" ] && grep -q '"version": "1.28.0"' "$marker" \
   && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required for the console assets (apt-get install -y npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
