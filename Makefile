# Two set-up commands: `make run` and `make test`. Both create .venv and install on first use.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The dashboard's browser assets (echarts) from package-lock.json, installed again when it changes.
NODE_STAMP := node_modules/.installed-stamp
# The first Python 3.11+ on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 \
	&& $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)

.PHONY: run test lint format migrate bench clean install system

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 20) is required for the dashboard's charts" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The CJK font of the posters and Chromium for the browser tests (Debian packages, when missing).
system:
	@scripts/system-packages.sh

migrate: $(STAMP)
	$(BIN)/alembic upgrade head

run: migrate system $(NODE_STAMP)
	@scripts/run.sh

test: $(STAMP) $(NODE_STAMP) system
	@scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# `make bench` runs every benchmark; `make bench BENCH=recon` (or several names) only those.
bench: $(STAMP)
	@bench/run.sh $(BENCH)

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis .ruff_cache
