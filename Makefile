# Every target creates or refreshes .venv on first use (and when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed


.PHONY: demo test lint bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## make demo: start the application on the built-in heating-plant simulator
demo: $(STAMP)
	$(BIN)/conduit-hmi resources/demo --simulate

## make test: the whole test suite (protocol peers on 127.0.0.1, GUI offscreen)
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

## make lint: ruff, formatting, mypy, import contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## make bench: print the throughput and coalescing figures
bench: $(STAMP)
	$(BIN)/python -m bench

## make screenshots: write the main screens to build/screenshots/
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/e2e/test_screens_tour.py tests/e2e/test_demo.py tests/screens/test_symbols.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
