# Every target installs what it needs: on a fresh machine `make sync` or `make test` is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install sync test dev sandbox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Sync the account in QUALTRICS_* (env or .env) into DuckDB; with none, the bundled sandbox.
sync: $(STAMP)
	$(BIN)/python -m qualtrics_assets_tests.demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The Dagster UI and daemons, with partitions and runs kept in ./.dagster_home.
dev: $(STAMP)
	$(BIN)/python -c "from qualtrics_assets.sync import ensure_dagster_home; ensure_dagster_home('.dagster_home')"
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev

# A sandbox Qualtrics to point `make dev` at: prints the QUALTRICS_* values to use.
sandbox: $(STAMP)
	$(BIN)/python -m qualtrics_assets_tests.sandbox --port 8765

clean:
	rm -rf $(VENV) .pytest_cache .dagster_home .dagster_home_sandbox sandbox_warehouse.duckdb
