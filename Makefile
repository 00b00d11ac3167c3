# Operational entry points. `make` alone prints this list.
# Every target but help/stop/clean first makes sure the virtualenv is installed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# A Python 3.11 interpreter to build .venv with (pyproject.toml pins >=3.11,<3.12).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
VENV   := .venv
STAMP  := $(VENV)/.installed
# Extra pytest arguments for `make test`, given to every tier: make test ARGS="-k login -x"
ARGS   ?=
# eventlet prints a deprecation notice at every import; this variable silences only that
# notice (eventlet/__init__.py reads it for nothing else). nameko 2.x runs on eventlet.
export EVENTLET_TESTS := 1

.PHONY: help venv run test test-cluster migrate seed import check bench bench-ab profile lint shell logs stop clean

help: ## Show the targets (default)
	@echo "Usage: make <target> [ARGS=...]"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Settings are environment variables (AMQP_URI, POSTGRES_URL, GATEWAY_PORT, ...): see README."

venv: $(STAMP) ## Create .venv (Python 3.11) and install the project with dev extras

# Re-runs only when pyproject.toml is newer than the stamp; a failed install leaves no stamp.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { \
	  echo "[venv] $(PYTHON) is not Python 3.11; install python3.11 + python3.11-venv or run 'make PYTHON=/path/to/python3.11 venv'" >&2; \
	  exit 1; }
	@if [ ! -x $(VENV)/bin/python ]; then \
	  echo "[venv] creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@echo "[venv] installing the project and its dev tools"
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "[venv] ready: $(VENV)"

run: $(STAMP) ## Start broker+DB if needed, migrate, run every service and the gateway (foreground; Ctrl-C stops)
	@bash scripts/run.sh

test: $(STAMP) ## Run ruff, then unit, integration and e2e in parallel, then faults and cluster (ARGS="...")
	@bash scripts/test.sh $(ARGS)

test-cluster: $(STAMP) ## Only the cluster tier: three private RabbitMQ nodes, one lost under load (~2 min)
	@bash scripts/ensure_infra.sh
	TEST_TIER=cluster $(VENV)/bin/pytest tests/cluster $(ARGS)

migrate: $(STAMP) ## Databases, roles, Alembic migrations, then broker policies and queue types (idempotent)
	@bash scripts/ensure_infra.sh
	$(VENV)/bin/python -m common.migrate

seed: $(STAMP) ## Migrate and load the demo data (catalog) again; keeps what is there
	@bash scripts/ensure_infra.sh
	$(VENV)/bin/python -m common.migrate --seed

import: $(STAMP) ## Import a catalog from CSV: make import CSV=file.csv (adds or updates by sku; stock of existing products kept)
	@test -n "$(CSV)" || { echo "usage: make import CSV=path/to/catalog.csv   (columns: sku,name,description,price_cents,currency,stock,category,image_url; example: docs/catalog-example.csv)"; exit 2; }
	@bash scripts/ensure_infra.sh
	@mkdir -p .run && $(VENV)/bin/python -m common.migrate --no-broker > .run/import-migrate.log 2>&1 \
		|| { cat .run/import-migrate.log; exit 1; }
	$(VENV)/bin/python -m inventory_svc.seed "$(CSV)"

check: $(STAMP) ## Invariants 1-5 of a running `make run` (docs/invariants.md): waits up to 30 s for orders in flight, prints each violation, exits 1 on any
	$(VENV)/bin/python -m tools.check

bench: $(STAMP) ## Benchmark the saga (orders/s, latency, CPU per order) and check invariants
	@bash scripts/bench.sh $(ARGS)


# The A/B's base: any git ref (BASE=HEAD~3, BASE=main); RUNS of each side, alternated.
BASE   ?= HEAD
RUNS   ?= 2
bench-ab: $(STAMP) ## A/B of the working tree against BASE=<git ref> (RUNS=2 each, alternated; ~13 min)
	@bash scripts/ab.sh $(BASE) $(RUNS)

profile: $(STAMP) ## py-spy every process of the running cluster (run it under load, e.g. during make bench)
	$(VENV)/bin/python -m bench.profile $(ARGS)

lint: $(STAMP) ## Run ruff
	$(VENV)/bin/ruff check .

shell: $(STAMP) ## Open a nameko shell on the cluster (n.rpc.<service>.<method>(...))
	$(VENV)/bin/nameko shell --config config.yml

logs: ## Follow the logs of a running `make run`, readable (ID=<request id> to follow one, RAW=1)
	@[ -f .run/run.log ] || { echo "[logs] no .run/run.log: start the cluster with 'make run'" >&2; exit 1; }
	@tail -n 200 -F .run/run.log | $(VENV)/bin/python -m tools.prettylog $(if $(ID),--id '$(ID)') $(if $(RAW),--raw)

stop: ## Stop a `make run` started in another terminal
	@pid=$$(cat .run/run.pid 2>/dev/null || true); \
	if [ -z "$$pid" ] || ! kill -0 "$$pid" 2>/dev/null; then \
	  echo "[stop] nothing to stop (no live pid in .run/run.pid)"; rm -f .run/run.pid; exit 0; \
	fi; \
	echo "[stop] sending SIGTERM to make run (pid $$pid)"; \
	kill -TERM "$$pid"; \
	for i in $$(seq 1 60); do \
	  kill -0 "$$pid" 2>/dev/null || { echo "[stop] stopped"; exit 0; }; \
	  sleep 0.5; \
	done; \
	echo "[stop] pid $$pid still alive after 30 s; look at its terminal" >&2; exit 1

clean: ## Remove .venv and .run (refuses while a `make run` is alive)
	@pid=$$(cat .run/run.pid 2>/dev/null || true); \
	if [ -n "$$pid" ] && kill -0 "$$pid" 2>/dev/null; then \
	  echo "[clean] make run is still alive (pid $$pid): run 'make stop' first" >&2; exit 1; \
	fi
	rm -rf $(VENV) .run
