#!/usr/bin/env bash
# Regenerate gen/ (Python) and sdk/typescript/gen/ (TypeScript) from proto/ with buf (the
# only writer of both). The TypeScript plugin comes from the SDK's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python scripts/sync_google_protos.py
buf generate
buf generate --template buf.gen.ts.yaml
