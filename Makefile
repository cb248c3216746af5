# Everything runs from .venv, created on first use; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export TTHC_DATA_DIR ?= $(CURDIR)/data

.PHONY: install demo test bench airflow-ui clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.9.30
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tthc.demo_run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

airflow-ui: $(STAMP)
	$(BIN)/airflow standalone

clean:
	rm -rf $(VENV) .airflow data .pytest_cache
