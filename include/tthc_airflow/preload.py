"""What every task process would otherwise load for itself, loaded once in the process its task
processes are forked from: the LocalExecutor's forkserver (local_cluster writes this module into
`[core] mp_forkserver_preload`) and each Celery worker (tthc_airflow.celery_worker imports it).

- Heavy libraries and the pipeline's modules that use them: Great Expectations alone costs ≈ 2 s of
  CPU per validating task; the reports by their module (the tthc.reports package loads docx,
  openpyxl and matplotlib only on first use).
- Vietnam's public holidays: `holidays` imports a country's module on first use (≈ 0.1 s for
  every task that computes a deadline).
- The TLS context of the portal client (its CA bundle read once; ≈ 60 ms per fetch task otherwise).
- Airflow's plugins: each task process loads the plugins folder for its listener manager; the
  pipeline's alert notifiers, which every DAG file's default arguments name.

Only imports and in-memory caches: nothing here opens a connection or a file, or starts a thread,
that a fork would share. A cache that cannot be warmed here is left to each task, which then
reports the error itself.
"""

import logging

import great_expectations  # noqa: F401
import holidays.countries.vietnam  # noqa: F401
import pandas  # noqa: F401

import tthc.checks.dossiers  # noqa: F401
import tthc.checks.submissions  # noqa: F401
import tthc.orchestration  # noqa: F401
import tthc.sources.shared_drive.sandbox  # noqa: F401 (the workbook parser: openpyxl)
import tthc.reports.monthly  # noqa: F401
import tthc_airflow.notifiers  # noqa: F401
from tthc.sources.portal.auth import tls_context

tls_context()
try:
    from airflow.sdk.listener import get_listener_manager

    get_listener_manager()
except Exception as exc:  # a broken plugin: every task reports it when it loads the plugins itself
    logging.getLogger(__name__).warning("plugins not preloaded: %s", exc)
