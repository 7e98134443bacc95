# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PORT ?= 8000

.PHONY: install demo test test-lowest lint typecheck audit unit bench clean

# uv installs in seconds what pip takes half a minute for (zero to running, issue 23): pip
# bootstraps it into the venv when absent, and plain pip stays the fallback when uv cannot be
# installed (no wheel for the platform, an index that serves no uv) or its install fails.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if { test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv; } \
		&& $(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]"; then :; else \
		echo "install: uv is unavailable or failed; installing with pip" >&2; \
		$(BIN)/python -m pip install --quiet --upgrade pip \
		&& $(BIN)/python -m pip install --quiet --progress-bar on -e ".[dev]"; fi
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

# Known vulnerabilities in the installed dependency set: pip-audit reads PyPI's advisory data
# from its JSON API, one release at a time (/pypi/<name>/<version>/json). Where that does not
# answer (offline, or a mirror serving only the simple index, as on this project's CI
# machines) nothing can be audited, and an "audit" finding every package "not found" would
# pass without looking: it is skipped with a message saying so. Where it answers, a known
# vulnerability (or a package it cannot audit, --strict) fails `make test`.
AUDIT_PROBE ?= https://pypi.org/pypi/pip/24.0/json
audit: $(STAMP)
	@if $(BIN)/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
		"$(AUDIT_PROBE)" 2>/dev/null; then \
		$(BIN)/pip-audit --local --skip-editable --progress-spinner off --strict; \
	else \
		echo "audit: SKIPPED: $(AUDIT_PROBE) does not answer, so there is no advisory data to audit against (offline, or an index mirror without PyPI's JSON API)"; \
	fi

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck audit unit

# The suite once more with the lowest versions pyproject.toml allows for every direct
# dependency, so the declared floors stay true (meant for CI after `make test`: see
# .ci/run; lint, mypy and the audit need not run twice). tests/e2e and tests/proof are left
# out: they drive the demo and the proof app through the same patterns, and so the same
# dependency code, as the pattern suites do, and they are the slowest part of the suite;
# without them both runs fit well inside CI's 90 minutes. The venv is made afresh whenever pyproject.toml changes:
# `uv pip install` keeps any installed version that satisfies, which would hide a floor.
LOWEST_IGNORE ?= --ignore=tests/e2e --ignore=tests/proof
LOWEST_VENV ?= .venv-lowest
LOWEST_STAMP := $(LOWEST_VENV)/.installed-stamp

# --seed: pip, setuptools and wheel, as in .venv (the guides' walkthroughs pip install -e).
$(LOWEST_STAMP): pyproject.toml $(STAMP)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	rm -rf $(LOWEST_VENV)
	$(BIN)/uv venv --quiet --seed --python $(BIN)/python $(LOWEST_VENV)
	$(BIN)/uv pip install --python $(LOWEST_VENV)/bin/python --resolution lowest-direct -e ".[dev]"
	@touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	$(LOWEST_VENV)/bin/python -m pytest $(LOWEST_IGNORE)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .mypy_cache .ruff_cache
