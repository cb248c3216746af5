# Airflow image for the TTHC reform KPI pipeline (used by docker-compose.yaml).
#
#   docker compose build            # or: docker build -t tthc-airflow:0.1.0 .
#
# The project is copied to /opt/airflow/project and installed in editable mode, so the `tthc`
# package finds include/sql, include/expectations and include/catalogue next to it, and
# AIRFLOW__CORE__DAGS_FOLDER / PLUGINS_FOLDER point at /opt/airflow/project/dags and /plugins.
# Code changes need a rebuild: `docker compose build && docker compose up -d`.
FROM apache/airflow:3.3.2-python3.11

ENV TZ=Asia/Ho_Chi_Minh

# Folders the compose file mounts over (created here so named volumes start owned by airflow:0),
# and the project folder, which pip writes build metadata into.
USER root
RUN mkdir -p /opt/tthc/data /opt/tthc/reports /opt/tthc/archive /opt/tthc/shared_drive /opt/airflow/project \
    && chown -R airflow:0 /opt/tthc /opt/airflow/project \
    && chmod -R g+rwX /opt/tthc /opt/airflow/project

# Everything below runs as the image's `airflow` user: pip installs into its user site, as the
# official image expects (never pip install as root).
USER airflow
WORKDIR /opt/airflow/project

# 1. Dependencies, from pyproject.toml and constraints.txt only (a stub package stands in for the
#    code), so this slow layer is rebuilt only when the dependencies change.
#    constraints.txt pins the whole resolved tree (apache-airflow==3.3.2 included): pip cannot
#    up- or downgrade Airflow or pull versions the project was not tested with.
COPY --chown=airflow:0 pyproject.toml constraints.txt /opt/airflow/project/
COPY --chown=airflow:0 include/tthc/__init__.py /opt/airflow/project/include/tthc/__init__.py
RUN pip install --no-cache-dir -c constraints.txt -e /opt/airflow/project

# 2. The project itself (DAGs, plugins, the tthc package, SQL, expectations, catalogue).
COPY --chown=airflow:0 . /opt/airflow/project
RUN pip install --no-cache-dir --no-deps -c constraints.txt -e /opt/airflow/project \
    && python -c "import airflow, tthc.settings; assert airflow.__version__ == '3.3.2', airflow.__version__"

WORKDIR /opt/airflow
