# Developer entry points. `make test` is what CI runs (through .ci/run).
VENV   := .venv
PYTHON := $(VENV)/bin/python
# The stamp is newer than pyproject.toml once its dependencies are installed,
# so `make` reinstalls only when pyproject.toml changes.
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(VENV)/bin/quickwins demo

test: venv
	$(PYTHON) -m pytest -q
	$(MAKE) --no-print-directory lint

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
