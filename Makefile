# One command for the demo, one for the tests; each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck check serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

## Run the service on SQLite with the example regions and open the dashboard.
demo: $(STAMP)
	$(BIN)/samenop demo

## Run the whole test suite (SQLite and PostgreSQL), lint and type checks.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

serve: $(STAMP)
	$(BIN)/samenop serve

bench: $(STAMP)
	$(BIN)/python bench/bench_pairing.py
	$(BIN)/python bench/bench_intake.py
	$(BIN)/python bench/bench_paging.py
	$(BIN)/python bench/bench_stream.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
