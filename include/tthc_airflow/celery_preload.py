"""Imported once by each Celery worker as it starts, before it forks its pool (docker-compose.yaml:
`[celery] extra_celery_config` {"imports": [...]}). Every task process is forked from the worker, so
it starts with these modules loaded instead of importing them itself: Great Expectations alone costs
seconds of CPU per validating task (each portal unit, each period's submissions).

Only imports: nothing here opens a connection, a file or a thread that a fork would share.
"""

import great_expectations  # noqa: F401
import pandas  # noqa: F401

import tthc.checks.dossiers  # noqa: F401
import tthc.checks.submissions  # noqa: F401
import tthc.orchestration  # noqa: F401
