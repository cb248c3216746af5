"""Finding submissions on the shared drive: walk, classify, hash, archive.

The share is read only: nothing there is moved, edited or deleted. Every content version is copied
into the archive under its hash before it is read, so what was parsed can always be re-read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from ...periods import LOCAL_TZ
from ...storage import StorageError

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".csv"}
LOCK_PREFIXES = ("~$", ".~lock.")
UNREADABLE = "không đọc được"  # how every reason for a file or folder that could not be read begins
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FoundFile:
    path: str  # path_key of the path relative to the share: the same file has the same key on any host
    abs_path: Path
    size: int
    mtime: str  # ISO-8601, local time
    skip_reason: str | None = None  # set for files that are recorded but never read


def path_key(rel: str) -> str:
    """The recorded name of a path relative to the share, '/'-separated, lossless.

    A name that is not valid UTF-8 (unzipped from a cp1258 archive, say) reaches Python with its
    undecodable bytes as surrogate escapes, which no database or log accepts: each such byte is
    written %XX, and '%' itself %25, so `urllib.parse.unquote_to_bytes(key)` gives back the exact
    bytes of the name and two different names never share a key.
    """
    return "".join(f"%{ord(ch) - 0xDC00:02X}" if "\udc80" <= ch <= "\udcff" else "%25" if ch == "%" else ch
                   for ch in rel)


def _mtime_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, LOCAL_TZ).isoformat()


def scan(share: Path) -> Iterator[FoundFile]:
    """Every file under the share, sorted by path; links leading outside it are refused, and folders
    or files that cannot be read are reported (never silently skipped)."""
    root = share.resolve()
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=errors.append):
        yield from _unreadable_folders(errors, root)
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = path_key(full.relative_to(root).as_posix())
            try:
                st = full.stat()
            except OSError as exc:  # a dangling link, a link loop or a file removed meanwhile
                yield FoundFile(rel, full, 0, _mtime_iso(0), f"{UNREADABLE} thông tin tệp: {_cause(exc)}")
                continue
            reason = None
            if full.is_symlink() and not full.resolve().is_relative_to(root):
                reason = "liên kết trỏ ra ngoài thư mục dùng chung: bỏ qua"
            elif not stat.S_ISREG(st.st_mode):  # a FIFO named .csv would block the reader forever
                reason = "không phải tệp thông thường (ống dẫn, thiết bị...): bỏ qua"
            elif name.startswith(LOCK_PREFIXES):
                reason = "tệp khóa tạm của Excel/LibreOffice: bỏ qua"
            elif full.suffix.lower() not in SUBMISSION_SUFFIXES:
                reason = "không phải tệp báo cáo (.xlsx hoặc .csv): bỏ qua"
            yield FoundFile(rel, full, st.st_size, _mtime_iso(st.st_mtime), reason)
    yield from _unreadable_folders(errors, root)


def _unreadable_folders(errors: list[OSError], root: Path) -> Iterator[FoundFile]:
    """os.walk's errors: folders it could not list, recorded under their path with a trailing '/'."""
    for exc in errors:
        folder = Path(exc.filename) if exc.filename else root
        rel = "" if folder == root else path_key(folder.relative_to(root).as_posix())
        yield FoundFile(rel + "/", folder, 0, _mtime_iso(0), f"{UNREADABLE} thư mục: {_cause(exc)}")
    errors.clear()


def _cause(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def archive_copy(found: FoundFile, archive_dir: Path, max_bytes: int) -> tuple[str, Path]:
    """Copy the file into the archive keyed by its content hash (temp + rename: never half a copy).

    The hash is taken of the bytes written to the copy, so the archived bytes are exactly the ones
    parsed afterwards even if the file on the share changes meanwhile. Raises FileChangedError if it
    was being written (or grew past `max_bytes`), OSError if the share cannot be read, StorageError
    if the archive cannot be written.
    """
    target_dir = archive_dir / "shared_drive"
    before = found.abs_path.stat()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".incoming-")
    except OSError as exc:
        raise StorageError.from_os_error(exc, target_dir) from exc
    tmp_path = Path(tmp)
    try:
        dst = os.fdopen(fd, "wb")
        try:
            digest, copied = _copy_hashing(found.abs_path, dst, max_bytes + 1, tmp_path)
        finally:
            try:
                dst.close()
            except OSError as exc:  # a network file system may report a full disk only here
                raise StorageError.from_os_error(exc, tmp_path) from exc
        after = found.abs_path.stat()
        if copied > max_bytes or (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise FileChangedError(found.path)
        final = target_dir / digest[:2] / f"{digest}{found.abs_path.suffix.lower()}"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if not final.exists():
                os.replace(tmp_path, final)
        except OSError as exc:
            raise StorageError.from_os_error(exc, final) from exc
        return digest, final
    finally:
        tmp_path.unlink(missing_ok=True)


def _copy_hashing(src: Path, dst, limit: int, dst_path: Path) -> tuple[str, int]:
    """Copy at most `limit` bytes, hashing them; a read error is the share's, a write error the archive's."""
    h, copied = hashlib.sha256(), 0
    with src.open("rb") as f:
        while copied < limit:
            chunk = f.read(min(_CHUNK, limit - copied))
            if not chunk:
                break
            try:
                dst.write(chunk)
                dst.flush()
            except OSError as exc:
                raise StorageError.from_os_error(exc, dst_path) from exc
            h.update(chunk)
            copied += len(chunk)
    return h.hexdigest(), copied


class FileChangedError(RuntimeError):
    """The file changed while it was copied: it is still being written; try again next run."""
