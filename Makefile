# The two set-up commands (README.md): `make demo` and `make test`.
# Everything installs into .venv from requirements.txt; nothing downloads at run time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501

.PHONY: install browser demo lake serve test bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Build the demo lake and start the app on the embedded engine.
demo: lake serve

lake: install
	$(BIN)/workbench demo generate
	$(BIN)/workbench jobs run all

serve: install
	$(BIN)/workbench serve --port $(PORT)

## The whole test suite (what .ci/run calls); provisions the browser the browser tests need.
browser:
	bash .ci/provision-browser

test: install browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/app.py
	$(BIN)/python bench/pipeline.py small

clean:
	rm -rf var .pytest_cache
