"""Finding submissions on the shared drive: walk, classify, hash, archive.

The share is read only: nothing there is moved, edited or deleted. Every content version is copied
into the archive under its hash before it is read, so what was parsed can always be re-read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from ...periods import LOCAL_TZ

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".csv"}
LOCK_PREFIXES = ("~$", ".~lock.")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FoundFile:
    path: str  # relative to the share, '/'-separated: the same file has the same key on any host
    abs_path: Path
    size: int
    mtime: str  # ISO-8601, local time
    skip_reason: str | None = None  # set for files that are recorded but never read


def _mtime_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, LOCAL_TZ).isoformat()


def scan(share: Path) -> Iterator[FoundFile]:
    """Every regular file under the share, sorted by path; links leading outside it are refused."""
    root = share.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            try:
                st = full.stat()
            except OSError as exc:  # a dangling link or a file removed meanwhile
                yield FoundFile(rel, full, 0, _mtime_iso(0), f"không đọc được thông tin tệp: {exc.strerror}")
                continue
            reason = None
            if full.is_symlink() and not full.resolve().is_relative_to(root):
                reason = "liên kết trỏ ra ngoài thư mục dùng chung: bỏ qua"
            elif name.startswith(LOCK_PREFIXES):
                reason = "tệp khóa tạm của Excel/LibreOffice: bỏ qua"
            elif full.suffix.lower() not in SUBMISSION_SUFFIXES:
                reason = "không phải tệp báo cáo (.xlsx hoặc .csv): bỏ qua"
            yield FoundFile(rel, full, st.st_size, _mtime_iso(st.st_mtime), reason)


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_copy(found: FoundFile, archive_dir: Path) -> tuple[str, Path]:
    """Copy the file into the archive keyed by its content hash (temp + rename: never half a copy).

    The hash is taken of the copy, so the archived bytes are exactly the ones parsed afterwards even
    if the file on the share changes meanwhile. Raises FileChangedError if it was being written.
    """
    target_dir = archive_dir / "shared_drive"
    target_dir.mkdir(parents=True, exist_ok=True)
    before = found.abs_path.stat()
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".incoming-")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        shutil.copyfile(found.abs_path, tmp_path)
        after = found.abs_path.stat()
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise FileChangedError(found.path)
        digest = hash_file(tmp_path)
        final = target_dir / digest[:2] / f"{digest}{found.abs_path.suffix.lower()}"
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            tmp_path.unlink()
        else:
            os.replace(tmp_path, final)
        return digest, final
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class FileChangedError(RuntimeError):
    """The file changed while it was copied: it is still being written; try again next run."""
