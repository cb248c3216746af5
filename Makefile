# Everything runs from .venv, created on first use; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export TTHC_DATA_DIR ?= $(CURDIR)/data

.PHONY: install demo test bench airflow-ui clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.9.30
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_shared_drive.py

# The Airflow UI on http://localhost:8080 over the demo's runs (admin password: $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated).
airflow-ui: $(STAMP)
	TTHC_DATA_DIR=$(TTHC_DATA_DIR)/demo TTHC_SHARED_DRIVE=$(TTHC_DATA_DIR)/demo/shared_drive $(BIN)/airflow standalone

clean:
	rm -rf $(VENV) .airflow data .pytest_cache
