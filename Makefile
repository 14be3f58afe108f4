# Two commands: `make lab` and `make test`. Each sets up what is missing, then does its job;
# stamps make a second run skip whatever has not changed.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
QUIET_PIP := 2>&1 | { grep -v "is ignored" || true; }
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
TS_SOURCES := $(shell find labextension -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.js' \) 2>/dev/null)
PORT ?= 8888
# pytest workers for `make test` (0: one process); tests sharing a server stay on one worker.
PYTEST_WORKERS ?= 2
# jlpm, jupyter and the build hook must find the venv's tools first.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lab test setup lint typecheck pytest services bench clean

setup: $(STAMPS)/installed

$(STAMPS)/venv: | $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip $(QUIET_PIP)
	$(BIN)/pip install -q "hatchling>=1.25" "hatch-nodejs-version>=0.3.2" "hatch-jupyter-builder>=0.9" "editables>=0.5" "jupyterlab>=4.6,<5" $(QUIET_PIP)
	touch $@

$(STAMPS)/node_modules: package.json $(STAMPS)/venv
	$(BIN)/jlpm install
	touch $@

jupyter_mlm/labextension/static/style.js: $(STAMPS)/node_modules $(TS_SOURCES) tsconfig.json
	$(BIN)/jlpm build:prod

$(STAMPS)/installed: pyproject.toml $(STAMPS)/venv jupyter_mlm/labextension/static/style.js
	$(BIN)/pip install -q --no-build-isolation -e ".[dev]" $(QUIET_PIP)
	$(BIN)/python -c "import jupyter_mlm, sqlalchemy, pytest_jupyter"
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

$(STAMPS):
	mkdir -p $@

lab: setup
	$(BIN)/jupyter lab --allow-root --no-browser --ip=127.0.0.1 --port=$(PORT) \
		--ServerApp.root_dir=binder --LabApp.news_url=None \
		--LabApp.default_url=/lab/tree/0-experiment-tracking.ipynb

lint: setup
	$(BIN)/ruff check jupyter_mlm tests
	$(BIN)/ruff format --check jupyter_mlm tests
	$(BIN)/lint-imports
	$(BIN)/jlpm lint:check

typecheck: setup
	$(BIN)/mypy
	$(BIN)/mypy tests/benchmarks
	$(BIN)/jlpm typecheck

services:
	@bash scripts/test-services.sh

pytest: setup services
	set -a; [ -f $(STAMPS)/services.env ] && source $(STAMPS)/services.env; set +a; \
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

# Lint and type checks run beside the tests: they need a core for about a minute, the tests
# wait on kernels and browsers for much of theirs.
test: setup
	$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck pytest

# Peers measured side by side: MLflow in the project venv, DVC, Evidently and MLflow's UI in
# their own (their pins would disturb the test environment; the project's mlflow-skinny has no UI).
bench: setup
	$(BIN)/pip install -q --no-build-isolation -e ".[bench]" $(QUIET_PIP)
	[ -x .venv-dvc/bin/dvc ] || { $(PYTHON) -m venv .venv-dvc && .venv-dvc/bin/pip install -q dvc $(QUIET_PIP); }
	[ -x .venv-evidently/bin/python ] || { $(PYTHON) -m venv .venv-evidently && \
		.venv-evidently/bin/pip install -q "evidently==0.7.23" "pandas<3" $(QUIET_PIP); }
	[ -x .venv-mlflow-ui/bin/mlflow ] || { $(PYTHON) -m venv .venv-mlflow-ui && \
		.venv-mlflow-ui/bin/pip install -q "mlflow==3.17.2" $(QUIET_PIP); }
	for bench in tests/benchmarks/bench_*.py; do $(BIN)/python $$bench; done

clean:
	rm -rf $(VENV) .venv-dvc .venv-evidently .venv-mlflow-ui node_modules lib jupyter_mlm/labextension $(STAMPS) tsconfig.tsbuildinfo
