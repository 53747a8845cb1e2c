#!/usr/bin/env bash
# Install the TypeScript SDK's npm packages (pinned in sdk/typescript/package-lock.json:
# @bufbuild/protobuf, @connectrpc/connect*, protoc-gen-es, typescript) and build it into
# sdk/typescript/dist with tsc. npm ci only when the lock changed; the build always runs
# (a type error in the hand-written layer or a missing RPC fails it).
set -euo pipefail
cd "$(dirname "$0")/../sdk/typescript"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required for the TypeScript SDK (apt-get install -y npm)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc -p .
