# Two commands do all the setup on a fresh machine: `make test` and `make demo`.
# Both create .venv on first use and reuse it afterwards (the stamp tracks pyproject.toml).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out
PYTEST_ARGS ?=

.PHONY: venv chromium test test-fast lint format docs demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The report's browser tests (tests/report/test_browser.py) run a headless Chromium: Debian's package,
# installed here when missing. Without root or a package mirror the install fails, the run goes on and
# those tests skip, saying why.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  command -v google-chrome >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "make: could not install chromium; the browser tests will skip"

test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) chromium
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dfdc_lake
	$(BIN)/mypy pipelines
	$(BIN)/mypy bench

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# docs/cli.md and docs/configuration.md, generated from the argparse parsers and the pydantic settings
# (tests/cli/test_docs.py fails when they are stale).
docs: $(STAMP)
	$(BIN)/python -m dfdc_lake.cli.docs

demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH bash scripts/demo.sh $(DEMO_DIR)

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/loader.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
