"""The pipeline's own files (archive, validation results): written whole or not at all.

A file is written to a temporary name beside its target and renamed over it, so a full disk or a
crash leaves the previous version (or nothing), never a truncated file. When the pipeline cannot
write its own files the run stops with StorageError, naming the cause as the system gave it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class StorageError(RuntimeError):
    """The archive or another of the pipeline's own folders cannot be written (disk full, read-only,
    permissions): not the fault of any file on the share, so the run stops and says why."""

    @classmethod
    def from_os_error(cls, exc: OSError, path: Path | str) -> "StorageError":
        cause = f"[Errno {exc.errno}] {exc.strerror}" if exc.errno else str(exc) or exc.__class__.__name__
        return cls(f"không ghi được vào {path}: {cause}")


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file and a rename; StorageError if it cannot."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StorageError.from_os_error(exc, path) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path
