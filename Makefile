# The two set-up commands: `make run` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(BIN)/brain serve --config config/default.toml

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/echo.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
