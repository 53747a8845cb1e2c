#!/usr/bin/env bash
# Fail when gen/ differs from what proto/ generates (edited proto, not regenerated).
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
