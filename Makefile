# The two commands: `make demo` (the main job) and `make test` (the whole suite).
# Both install what they need on a fresh machine with Python 3.11, make, git and apt.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: demo up test venv system-deps console-assets sdk-typescript ui gen baseline clean

## demo: the mesh + two workers on the embedded storage run the example pipeline end to end
demo: venv console-assets
	$(BIN)/python -m services.mesh demo

## up: start the local mesh and keep it running until Ctrl-C
up: venv
	$(BIN)/python -m services.mesh up

## test: lint, contract checks and the whole pytest suite (what CI runs)
test: venv system-deps console-assets sdk-typescript ui
	scripts/check.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## system-deps: Debian packages the tests need (installed only when missing)
system-deps:
	@scripts/system_deps.sh

## console-assets: DuckDB-WASM 1.28.0 for the browser console (npm, served locally)
console-assets:
	@scripts/system_deps.sh npm
	@scripts/install_console_assets.sh

## sdk-typescript: the TypeScript SDK's npm packages, built into sdk/typescript/dist
sdk-typescript:
	@scripts/system_deps.sh npm
	@scripts/install_sdk_typescript.sh

## ui: the web UI (preact + dagre over the TypeScript SDK), bundled by esbuild for /ui/
ui: sdk-typescript
	@scripts/install_ui.sh

## gen: regenerate gen/ and sdk/typescript/gen/ from proto/
gen: venv sdk-typescript
	scripts/gen.sh

## baseline: freeze the current contracts as the buf breaking-check baseline
baseline: venv
	$(BIN)/python scripts/sync_google_protos.py
	$(BIN)/buf build --exclude-source-info -o proto_baseline/arco_v1.binpb

clean:
	rm -rf $(VENV) .arco .mypy_cache .ruff_cache .pytest_cache
