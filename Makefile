# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PORT ?= 8000

.PHONY: install demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar on -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# The demo SaaS (examples/saas) with embedded defaults: its script shows progress while it
# installs and migrates, then runs the web server and a jobs worker until Ctrl-C.
demo:
	@$(PYTHON) examples/saas/demo.py --venv $(VENV) --port $(DEMO_PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
