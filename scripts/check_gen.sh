#!/usr/bin/env bash
# Fail when gen/ or sdk/typescript/gen/ differs from what proto/ generates (edited proto,
# not regenerated).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python scripts/sync_google_protos.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Generate into a scratch copy so the check never rewrites the working tree.
sed "s#out: gen#out: $tmp/gen#" buf.gen.yaml > "$tmp/buf.gen.yaml"
buf generate --template "$tmp/buf.gen.yaml"
if ! diff -r -q "$tmp/gen" gen >/dev/null 2>&1; then
  echo "gen/ is out of date with proto/; run scripts/gen.sh" >&2
  diff -r -q "$tmp/gen" gen >&2 || true
  exit 1
fi
echo "gen/ is up to date"
# The TypeScript SDK (when this tree has it: its plugin is an npm package of the SDK).
if [ -f buf.gen.ts.yaml ]; then
  plugin="$PWD/sdk/typescript/node_modules/.bin/protoc-gen-es"
  if [ ! -x "$plugin" ]; then
    echo "protoc-gen-es missing: run scripts/install_sdk_typescript.sh" >&2
    exit 1
  fi
  sed -e "s#out: sdk/typescript/gen#out: $tmp/ts#" -e "s#local: sdk/typescript/#local: $PWD/sdk/typescript/#" \
    buf.gen.ts.yaml > "$tmp/buf.gen.ts.yaml"
  buf generate --template "$tmp/buf.gen.ts.yaml"
  if ! diff -r -q "$tmp/ts" sdk/typescript/gen >/dev/null 2>&1; then
    echo "sdk/typescript/gen/ is out of date with proto/; run scripts/gen.sh" >&2
    diff -r -q "$tmp/ts" sdk/typescript/gen >&2 || true
    exit 1
  fi
  echo "sdk/typescript/gen/ is up to date"
fi
