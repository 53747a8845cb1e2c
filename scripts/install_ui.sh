#!/usr/bin/env bash
# Install the web UI's npm packages (pinned in gateway/ui/package-lock.json: preact,
# @dagrejs/dagre, esbuild, typescript), type-check it against the TypeScript SDK and bundle
# it with esbuild into gateway/ui/public/dist/app.js, which the gateway serves at /ui/.
# The SDK (sdk/typescript/dist, scripts/install_sdk_typescript.sh) must be built first:
# the UI imports it through tsconfig paths. npm ci only when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/../gateway/ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required for the web UI (apt-get install -y npm)" >&2
  exit 1
fi
if [ ! -f ../../sdk/typescript/dist/src/index.js ]; then
  echo "the TypeScript SDK is not built: run scripts/install_sdk_typescript.sh first" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc -p .
node_modules/.bin/esbuild src/main.tsx --bundle --minify --format=esm --target=es2022 \
  --tsconfig=tsconfig.json --outfile=public/dist/app.js --log-level=warning
