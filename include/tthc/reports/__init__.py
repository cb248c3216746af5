"""Monthly and roll-up reports (Word and Excel) from the public marts; no Airflow import."""

from .monthly import write_monthly_report, write_rollup_report

__all__ = ["write_monthly_report", "write_rollup_report"]
