# Two entry points: `make run` (the service with a demo ESS) and `make test`.
# Each creates the virtualenv and installs what it needs the first time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench screenshots vendor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ess-router serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.submission

# PNGs of each page, desktop (1280 px) and phone (375 px), into docs/screenshots/.
screenshots: $(STAMP)
	$(BIN)/python -m scripts.screenshots

# Re-fetch the vendored front-end assets from the npm registry and check their sha256.
vendor: $(STAMP)
	$(BIN)/python scripts/vendor_assets.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
