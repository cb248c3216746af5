"""What each Celery worker does as it starts (docker-compose.yaml: `[celery] extra_celery_config`
{"imports": ["tthc_airflow.celery_worker"]}, imported by the worker before it forks its pool).

- It loads what every task would load for itself once (tthc_airflow.preload: the heavy libraries,
  the holidays, the plugins). Every task process is forked from a pool process, so it starts with
  them: Great Expectations alone costs seconds of CPU per validating task.
- It lets tasks start processes of their own. Celery's pool (billiard) makes each pool process the
  standard library's "current process", daemonic and with a key that cannot be pickled, so a task
  that starts a process (the shared drive's parse sandbox) fails there with "daemonic processes are
  not allowed to have children". Each pool process gets a plain main-process object back, as the
  same task has under the LocalExecutor or `tthc run`.

Only imports and that one object: nothing here opens a connection, a file or a thread a fork would share.
"""

import multiprocessing.forkserver
import multiprocessing.process

from celery.signals import worker_process_init

import tthc_airflow.preload  # noqa: F401

# The standard library's class of the main process, taken in the worker's main process, before
# billiard replaces the current-process object in its pool processes.
_MAIN_PROCESS = type(multiprocessing.process.current_process())
if _MAIN_PROCESS.__module__ != "multiprocessing.process":
    raise ImportError(f"{__name__} must be imported by the Celery worker's main process ([celery] extra_celery_config "
                      f"imports), not in a pool process ({_MAIN_PROCESS.__module__})")


@worker_process_init.connect
def plain_multiprocessing(**_signal) -> None:
    """In each new pool process: a non-daemonic main-process object with a key of its own."""
    multiprocessing.process._current_process = _MAIN_PROCESS()
    # A forked pool process also inherits its parent's handle on a forkserver (the parse sandbox's),
    # a server that is not its child ("No child processes"): it gets a server of its own.
    server = multiprocessing.forkserver.ForkServer()
    multiprocessing.forkserver._forkserver = server
    for name in ("ensure_running", "get_inherited_fds", "connect_to_new_process", "set_forkserver_preload"):
        setattr(multiprocessing.forkserver, name, getattr(server, name))
