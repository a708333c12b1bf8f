# Two set-up commands: `make run` and `make test`. Both create .venv and install on first use.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The first Python 3.11+ on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 \
	&& $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)

.PHONY: run test lint format migrate bench clean install system

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The CJK font of the posters and Chromium for the browser tests (Debian packages, when missing).
system:
	@scripts/system-packages.sh

migrate: $(STAMP)
	$(BIN)/alembic upgrade head

run: migrate system
	@scripts/run.sh

test: $(STAMP) system
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
	rm -rf $(VENV) var .pytest_cache .hypothesis .ruff_cache
