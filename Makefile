# The two set-up commands (README.md): `make demo` and `make test`.
# Everything installs into .venv from requirements.txt; nothing downloads at run time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501

.PHONY: install browser cluster-deps cluster-up cluster-down demo lake serve lint lint-deps test bench clean docs docs-build docs-deps

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The local Spark cluster's own venv: full pyspark + delta-spark (requirements-cluster.txt).
## Without Java it is not made, and the cluster tests say so as their skip reason.
CLUSTER_VENV := .venv-cluster
CLUSTER_STAMP := $(CLUSTER_VENV)/.installed-stamp

$(CLUSTER_STAMP): requirements-cluster.txt
	$(PYTHON) -m venv $(CLUSTER_VENV)
	$(CLUSTER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLUSTER_VENV)/bin/python -m pip install --quiet -r requirements-cluster.txt
	# an older Spark Connect client, for the version-mismatch test only (never on a path by default)
	$(CLUSTER_VENV)/bin/python -m pip install --quiet --no-deps --target $(CLUSTER_VENV)/client-4.1 pyspark-client==4.1.3
	touch $(CLUSTER_STAMP)

cluster-deps:
	@if command -v java >/dev/null 2>&1 || [ -n "$$JAVA_HOME" ]; then $(MAKE) --no-print-directory $(CLUSTER_STAMP); \
	else echo "cluster-deps: no Java runtime; the Spark cluster tests will be skipped"; fi

cluster-up: install cluster-deps
	$(BIN)/workbench cluster up

cluster-down: install
	$(BIN)/workbench cluster down

## Build the demo lake and start the app on the embedded engine.
demo: lake serve

lake: install
	$(BIN)/workbench demo generate
	$(BIN)/workbench jobs run all

serve: install
	$(BIN)/workbench serve --port $(PORT)

## The documentation site (docs/, mkdocs.yml): `make docs` serves it on 127.0.0.1:8000,
## `make docs-build` builds it into var/site with --strict (a broken link or reference fails).
DOCS_STAMP := $(VENV)/.docs-stamp

$(DOCS_STAMP): requirements-docs.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	touch $(DOCS_STAMP)

docs-deps: $(DOCS_STAMP)

docs: docs-deps
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve --dev-addr 127.0.0.1:8000

docs-build: docs-deps
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet

## The code-habits checks (CONTRIBUTING.md): ruff (pyproject.toml [tool.ruff]) and the layer contract
## (import-linter, [tool.importlinter]). Seconds; needs only requirements-dev.txt, not the project's install.
DEV_STAMP := $(VENV)/.dev-stamp

$(DEV_STAMP): requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

lint-deps: $(DEV_STAMP)

lint: lint-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## The whole test suite (what .ci/run calls), after the lint checks and the docs build; provisions the browser the browser tests need.
browser:
	bash .ci/provision-browser

test: lint install browser cluster-deps docs-build
	$(BIN)/python -m pytest

## The Sail/Spark parity suite alone (`make test` runs it too), see docs/guides/cluster.md.
test-parity: install cluster-deps
	$(BIN)/python -m pytest -n 0 -m cluster_parity tests/test_cluster_parity.py

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/app.py
	$(BIN)/python bench/pipeline.py small

clean:
	rm -rf var .pytest_cache
