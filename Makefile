# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PORT ?= 8000

.PHONY: install demo test lint typecheck audit unit bench clean

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

# Known vulnerabilities in the installed dependency set (pip-audit asks the index's advisory
# data). Offline it is skipped with a message, so `make test` needs no network; under CI=true
# an unreachable index fails instead, so CI always audits.
AUDIT_INDEX ?= https://pypi.org/simple/
audit: $(STAMP)
	@if $(BIN)/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
		"$(AUDIT_INDEX)" 2>/dev/null; then \
		$(BIN)/pip-audit --local --skip-editable --progress-spinner off; \
	elif [ "$$CI" = "true" ]; then \
		echo "audit: $(AUDIT_INDEX) is unreachable and CI=true: cannot audit" >&2; exit 1; \
	else \
		echo "audit: skipped, $(AUDIT_INDEX) is unreachable (offline); CI audits"; \
	fi

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck audit unit

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
