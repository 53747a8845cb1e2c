#!/usr/bin/env bash
# Regenerate gen/ from proto/ with buf (the only writer of gen/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python scripts/sync_google_protos.py
buf generate
