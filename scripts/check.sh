#!/usr/bin/env bash
# The whole test suite, in CI order. Run through `make test` (which prepares the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONPATH="$PWD/gen:$PWD${PYTHONPATH:+:$PYTHONPATH}"

step() { printf '\n==> %s\n' "$*"; }

step "google protos from googleapis-common-protos"
python scripts/sync_google_protos.py
step "buf lint";             buf lint
step "buf format";           buf format --diff --exit-code
step "buf breaking";         buf breaking --against proto_baseline/arco_v1.binpb
step "gen/ drift";           scripts/check_gen.sh
step "ruff";                 ruff check .
step "ruff format";          ruff format --check .
step "mypy (strict)";        mypy arco_core arco_runtime arco_sdk services gateway
step "import-linter";        lint-imports
step "pytest"
set +e
python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests, but the suite expects tests: failing" >&2
  exit 1
fi
exit "$code"
