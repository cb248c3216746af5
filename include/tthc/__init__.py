"""TTHC reform KPI pipeline: plain Python, no Airflow import (DAG tasks and the CLI share it)."""

__version__ = "0.1.0"
