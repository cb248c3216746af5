"""Monthly and roll-up reports (Word and Excel) from the public marts; no Airflow import."""

__all__ = ["load_rollup_report_data", "monthly_report_data", "write_monthly_reports", "write_rollup_report"]


def __getattr__(name: str):
    # Loaded on first use: the CLI's status and export need only .formatting, not docx and matplotlib.
    if name in __all__:
        from . import monthly

        return getattr(monthly, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
