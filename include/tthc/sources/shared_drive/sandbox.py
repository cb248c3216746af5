"""Parse each shared-drive file in a child process with limits, so no file can stop or hang the run.

A unit's file is data from outside: a crafted workbook can make a parser spin for minutes, take
gigabytes or crash. The parse runs in a worker process (a pebble pool of one, reused across files and
replaced when it is killed) under an address-space limit, a CPU-seconds limit per file and a wall
clock; whatever goes wrong there becomes that file's rejection with a Vietnamese reason, and the run
goes on. It runs outside the warehouse transaction and its lock, so a slow file never blocks a writer.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import resource
import signal
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from pebble import ProcessExpired, ProcessPool

from .parse import MAX_BYTES, MAX_CELLS, ParsedSubmission, SubmissionParseError, parse_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseLimits:
    """What one file may cost. A district report parses in well under a second and ~60 MB."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 20
    memory_bytes: int = 1 << 30  # address space of the worker, interpreter and openpyxl included
    max_bytes: int = MAX_BYTES
    max_cells: int = MAX_CELLS


_NOT_A_REPORT = "không phải một báo cáo bình thường"


class ParseSandbox:
    """`with ParseSandbox(limits) as sandbox: sandbox.parse(path)`; the worker starts on first use."""

    def __init__(self, limits: ParseLimits | None = None):
        self.limits = limits or ParseLimits()
        self._pool: ProcessPool | None = None

    def __enter__(self) -> "ParseSandbox":
        return self

    def __exit__(self, *exc_info) -> None:
        self._discard_worker()

    def _discard_worker(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def _worker_pool(self) -> ProcessPool:
        if self._pool is None:
            # forkserver: workers fork from a clean single-threaded server that has openpyxl loaded,
            # never from this process (threads, warehouse connections).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPool(max_workers=1, context=context, initializer=_limit_worker,
                                     initargs=(self.limits.memory_bytes,))
        return self._pool

    def parse(self, path: Path) -> ParsedSubmission:
        """The parsed submission; SubmissionParseError for anything the file causes (including a limit
        hit or a crash of the worker); OSError only when the archived copy itself cannot be read."""
        limits = self.limits
        future = self._worker_pool().schedule(_parse_limited, args=(str(path), limits), timeout=limits.wall_seconds)
        try:
            return future.result()
        except _WorkerSpent as exc:  # a limit or a library failure: that worker is not reused
            self._discard_worker()
            raise SubmissionParseError(exc.reasons) from None
        except SubmissionParseError:
            raise
        except FutureTimeout:  # before OSError: it is one (TimeoutError) since Python 3.11
            raise SubmissionParseError([f"Đọc tệp mất hơn {limits.wall_seconds:g} giây nên bị dừng; {_NOT_A_REPORT}"]) from None
        except ProcessExpired as exc:
            raise SubmissionParseError([_expired_reason(exc.exitcode, limits)]) from None
        except OSError:
            raise
        except Exception as exc:  # the worker failed outside the parse (out of memory, a result that would not pickle)
            log.warning("parsing %s failed in the worker: %s", path.name, exc.__class__.__name__)
            self._discard_worker()
            reason = _memory_reason(limits) if isinstance(exc, MemoryError) else _unexpected_reason(exc)
            raise SubmissionParseError([reason]) from None


class _WorkerSpent(SubmissionParseError):
    """A rejection after which the worker is replaced: memory may stay fragmented after a MemoryError,
    and a library that failed unexpectedly may have left state behind."""


def _limit_worker(memory_bytes: int) -> None:
    """Runs once in each new worker: an address-space ceiling (allocation beyond it raises
    MemoryError) and no core file when a limit kills it."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _parse_limited(path: str, limits: ParseLimits) -> ParsedSubmission:
    """In the worker: this file's CPU budget on top of what the worker already used, then the parse."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    # The kernel counts whole seconds: the file gets between cpu_seconds - 1 and cpu_seconds.
    budget = math.floor(usage.ru_utime + usage.ru_stime) + limits.cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (budget if hard == resource.RLIM_INFINITY else min(budget, hard), hard))
    file = Path(path)
    with file.open("rb") as fh:  # an OSError here is the archive's, not the sender's: it propagates
        data = fh.read(limits.max_bytes + 1)
    try:
        return parse_bytes(data, file.suffix.lower(), max_bytes=limits.max_bytes, max_cells=limits.max_cells)
    except SubmissionParseError:
        if not _at_memory_ceiling(limits):
            raise
        reason = _memory_reason(limits)  # lxml reports a failed allocation as a syntax error
    except MemoryError:
        reason = _memory_reason(limits)
    except RecursionError:
        reason = f"Tệp lồng nhau quá sâu, không đọc được; {_NOT_A_REPORT}"
    except Exception as exc:  # a library failing on a shape it was never meant to see
        reason = _unexpected_reason(exc)
    # Raised out here, not in the handlers: the failed parse's frames (and its memory) are released
    # first, else the worker at its ceiling cannot even send the rejection back.
    raise _WorkerSpent([reason])


_CEILING_MARGIN = 64 << 20


def _at_memory_ceiling(limits: ParseLimits) -> bool:
    """Whether the worker's address space came within 64 MB of its limit (a report needs a few MB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        peak_kb = next((int(line.split()[1]) for line in status if line.startswith("VmPeak:")), 0)
    return peak_kb * 1024 >= limits.memory_bytes - _CEILING_MARGIN


def _memory_reason(limits: ParseLimits) -> str:
    return f"Đọc tệp cần quá {_mb(limits.memory_bytes)} bộ nhớ nên bị dừng; {_NOT_A_REPORT}"


def _unexpected_reason(exc: BaseException) -> str:
    return (f"Tệp không đọc được (lỗi {exc.__class__.__name__} khi đọc); "
            "hãy mở tệp bằng Excel, lưu lại dưới dạng .xlsx rồi gửi lại")


def _expired_reason(exitcode: int | None, limits: ParseLimits) -> str:
    """Why the worker died: a negative exit code is the signal that ended it."""
    if exitcode == -signal.SIGXCPU:
        return f"Đọc tệp dùng quá {limits.cpu_seconds} giây xử lý nên bị dừng; {_NOT_A_REPORT}"
    if exitcode == -signal.SIGKILL:  # the kernel's out-of-memory killer, most likely
        return f"Đọc tệp cần quá nhiều bộ nhớ nên bị dừng; {_NOT_A_REPORT}"
    return f"Chương trình đọc tệp bị dừng bất thường (mã {exitcode}); tệp có thể bị hỏng hoặc {_NOT_A_REPORT}"


def _mb(n: int) -> str:
    return f"{n // (1 << 20):,} MB".replace(",", ".")
