# Two set-up commands: `make run` and `make test`. Both create .venv and install on first use.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
# The dashboard's browser assets (echarts) from package-lock.json, installed again when it changes.
NODE_STAMP := node_modules/.installed-stamp
# The first Python 3.11+ on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 \
	&& $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)

.PHONY: run test lint format migrate bench clean install system lock

install: $(STAMP) $(NODE_STAMP)

# Exact versions with their hashes (requirements.lock, made by `make lock`): a download that differs from
# what was locked fails the install. The project itself is installed in place, without dependencies, and
# `pip check` fails when pyproject.toml asks for something the lock does not hold (run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	@touch $(STAMP)

# Pin the dependencies again after changing them in pyproject.toml (or to take newer releases:
# `make lock LOCK_ARGS=--upgrade`, or `LOCK_ARGS="--upgrade-package flask"`).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet $(LOCK_ARGS) -o $(LOCK)

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
