# kassa — the two commands are `make run` and `make test`; everything else is what they use.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
NODE_TOOLS := node_modules/.installed

.PHONY: run test lint typecheck format bench clean help

help:
	@echo "make run    start kassa (API, worker, scheduler) on SQLite with the mock provider"
	@echo "make test   lint, type-check and run every test (SQLite, and PostgreSQL when reachable)"
	@echo "make bench  run the benchmarks in bench/ (PostgreSQL)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PYTHON=$(PYTHON) $(UV) sync --locked --quiet
	@touch $@

# anvil and solc for the chain tests, pinned in package.json / package-lock.json. Node.js is
# the one thing the system must provide; without it those tests are skipped (they fail in CI).
$(NODE_TOOLS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "Node.js not found: the chain tests need it (Debian: sudo apt-get install nodejs npm)"; \
	fi

run: $(VENV)/.synced
	$(BIN)/kassa run

lint: $(VENV)/.synced
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: $(VENV)/.synced
	$(BIN)/mypy

test: lint typecheck $(NODE_TOOLS)
	$(BIN)/pytest

format: $(VENV)/.synced
	$(BIN)/ruff check --fix src tests bench scripts
	$(BIN)/ruff format src tests bench scripts

bench: $(VENV)/.synced
	$(BIN)/python bench/jobs.py

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .mypy_cache .ruff_cache .pytest_cache
