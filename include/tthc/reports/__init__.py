"""Monthly report (Word and Excel) from the public marts; no Airflow import."""

from .monthly import write_monthly_report

__all__ = ["write_monthly_report"]
