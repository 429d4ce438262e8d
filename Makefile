PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# `make run PORT=9000` or PAYMENTS_PORT=9000 make run; unset, the server's own defaults apply.
HOST   ?=
PORT   ?=

.PHONY: run test lint format typecheck schema migration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/graphql-payments serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

# The benchmark against its baselines (see README, "Speed"); BENCH_SMOKE=1 only checks it works.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.run $(if $(filter-out 0,$(BENCH_SMOKE)),--smoke) $(BENCH_ARGS)

schema: $(VENV)/.installed
	$(BIN)/graphql-payments export-schema > schema.graphql
	$(BIN)/graphql-payments export-event-schemas schemas/events > /dev/null

# make migration m="what changes": autogenerate graphql_payments/migrations/versions/NNNN_*.py
migration: $(VENV)/.installed-dev
	@test -n "$(m)" || { echo 'usage: make migration m="what changes"' >&2; exit 2; }
	$(BIN)/graphql-payments db revision -m "$(m)"
	$(BIN)/ruff check --fix --quiet graphql_payments/migrations/versions
	$(BIN)/ruff format --quiet graphql_payments/migrations/versions

clean:
	rm -rf $(VENV) payments.db .artifacts
