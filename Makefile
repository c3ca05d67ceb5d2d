# Two commands do all the set-up on a fresh machine:
#   make run   installs into .venv, records the demo dialogue on SQLite if the store is
#              empty, and serves the HTTP API on http://127.0.0.1:8000
#   make test  installs into .venv and runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dialogue-ledger serve --demo --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/commands.py
	$(BIN)/python benchmarks/rebuild.py
	$(BIN)/python benchmarks/point_in_time.py

clean:
	rm -rf $(VENV) dialogue-ledger.db*
