# Two entry points: `make lab` (the main job) and `make test` (everything CI checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Jupyter refuses to run as root unless told (containers, CI machines)
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test lint typecheck pytest docs docs-serve bench bench-smoke test-heavy browser clean

# The package with every extra, and the dev tools from pyproject's dependency groups (not
# published extras; `pip install --group` needs pip >= 25.1, hence the upgrade first).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install -e '.[notebook,process,dask]' --group dev
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (backgrounder)"
	touch $(STAMP)

## make lab: create the venv, install, open JupyterLab on the quickstart notebook.
lab: $(STAMP)
	$(BIN)/jupyter lab $(AS_ROOT) notebooks/quickstart.ipynb

## make test: install everything the tests need, then lint, type-check, test, build docs.
test: $(STAMP) browser lint typecheck pytest docs

browser:
	scripts/ensure-chromium

lint: $(STAMP)
	$(BIN)/ruff check backgrounder tests benchmarks scripts hatch_build.py docs/hooks
	$(BIN)/ruff format --check backgrounder tests benchmarks scripts hatch_build.py docs/hooks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict  # (material prints a banner otherwise)

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve

## make bench: every benchmark (a few minutes); writes benchmarks/results.md and results.svg.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## make bench-smoke: the same at tiny sizes (seconds); results go to a temporary folder.
bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/run.py --smoke

test-heavy: $(STAMP)
	BACKGROUNDER_HEAVY=1 $(BIN)/python -m pytest -m heavy

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
