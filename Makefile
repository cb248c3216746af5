# Everything runs from .venv, created on first use; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo's Airflow home (its airflow.cfg: LocalExecutor, the metadata DB it chose, times in Asia/Ho_Chi_Minh)
# and data folder (warehouse, share, reports), which `tthc` reads by default.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export TTHC_DATA_DIR ?= $(CURDIR)/data
PORT ?= 8080

.PHONY: install demo test bench airflow-ui airflow-stop clean

# Bytecode compiled once here: every Airflow component and task process imports Airflow, pandas,
# GX, matplotlib…, and where .pyc files are not written (PYTHONDONTWRITEBYTECODE, read-only images)
# each process would compile them again (GX alone ≈ 5 s of CPU).
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.9.30
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	$(BIN)/python -m compileall -q include dags plugins scripts
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_shared_drive.py

# Airflow on http://localhost:$(PORT) over $(AIRFLOW_HOME) (the demo's runs): scheduler, dag-processor,
# api-server and triggerer in the foreground; the pool tthc_portal is created. Ctrl-C stops them all.
airflow-ui: $(STAMP)
	$(BIN)/tthc-airflow up --port $(PORT)

# Stops what `make airflow-ui` (or an interrupted demo) left running in $(AIRFLOW_HOME), and only that.
airflow-stop: $(STAMP)
	$(BIN)/tthc-airflow stop

# The demo's Airflow metadata DB on the PostgreSQL server too (only if the demo made it).
clean:
	if test -x $(BIN)/python; then $(BIN)/python scripts/demo.py --drop-database; fi
	rm -rf $(VENV) .airflow data .pytest_cache
