# Developer entry points. `make test` is what CI runs (through .ci/run).
VENV   := .venv
PYTHON := $(VENV)/bin/python
# The stamp is newer than pyproject.toml once its dependencies are installed,
# so `make` reinstalls only when pyproject.toml changes.
STAMP  := $(VENV)/.installed

# Browser tests use Debian's Chromium and axe-core from the npm registry.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
AXE    := node_modules/axe-core/axe.min.js

.PHONY: venv demo test lint clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(VENV)/bin/quickwins demo

test: venv browser
	$(PYTHON) -m pytest -q
	$(MAKE) --no-print-directory lint

browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	@test -f $(AXE) || npm install --no-save --no-audit --no-fund axe-core@4

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
