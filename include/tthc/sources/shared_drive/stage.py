"""Stage the shared drive: record every file, archive and parse each new content version once.

discover (scan, archive copy) → parse (in a limited child process) → stage (stg_submission,
stg_submission_row, file_observation, raw_file). Checks, loads and marts come after, from the staged rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import asdict
from datetime import datetime

from ... import warehouse
from ...settings import Settings
from ...warehouse import connection, execute_file, execute_many, now_local, query, transaction
from .discover import UNREADABLE, FileChangedError, FoundFile, archive_copy, scan

log = logging.getLogger(__name__)


def ingest_shared_drive(settings: Settings, limits=None) -> dict:
    """Record every file on the share; archive and parse each new content version once.

    Each file is parsed in a child process outside any transaction (`limits`: a sandbox.ParseLimits),
    then recorded in its own transaction (all on one connection), so one file can neither block nor
    stop the others. A file that cannot be read is recorded in `ignored_file` with the reason; an
    archive that cannot be written stops the run with StorageError naming the cause.
    """
    from .parse import SubmissionParseError, too_large  # openpyxl: imported when used
    from .sandbox import ParseLimits, ParseSandbox

    limits = limits or ParseLimits()
    warehouse.prepare(settings)
    if not settings.shared_drive.is_dir():
        raise FileNotFoundError(f"thư mục dùng chung không tồn tại: {settings.shared_drive}")
    started = now_local()
    summary = {"seen": 0, "unchanged": 0, "new_versions": 0, "known_content": 0, "ignored": 0,
               "unreadable": 0, "parsed": 0, "rejected": 0, "busy": 0, "periods": []}
    periods = set()
    url = settings.warehouse_url
    with transaction(url) as conn:
        known = {(r["path"], r["size_bytes"], r["mtime"]) for r in query(conn, "queries/file_observations")}
        ignored = {r["path"]: (r["size_bytes"], r["mtime"], r["reason"]) for r in query(conn, "queries/ignored_files")}
        known_content = {r["file_hash"] for r in query(conn, "queries/raw_file_hashes")}
        (last_scan,) = query(conn, "queries/last_complete_scan")
    reported_folders = set()
    found_files = list(scan(settings.shared_drive))
    # Ingests running at once (a backfill's runs, the watcher) start at different places in the share
    # and skip content another has parsed meanwhile, instead of all parsing every new file in step.
    start = random.randrange(len(found_files)) if found_files else 0
    with connection(url) as held, ParseSandbox(limits) as sandbox:
        for found in found_files[start:] + found_files[:start]:
            summary["seen"] += 1
            if found.skip_reason:
                summary["ignored"] += 1
                _record_ignored(url, held, ignored, found, found.skip_reason)
                if found.path.endswith("/"):
                    reported_folders.add(found.path)
                continue
            if (found.path, found.size, found.mtime) in known:
                summary["unchanged"] += 1
                continue
            if found.size > limits.max_bytes:
                # Never copied: a 300 MB file must not fill the archive. Its key names the sighting.
                digest, archived, outcome = _unread_key(found), None, too_large(limits.max_bytes)
            else:
                try:
                    digest, archived = archive_copy(found, settings.archive_dir, limits.max_bytes)
                except FileChangedError:
                    log.warning("file left for the next run (still being written): %s", found.path)
                    summary["busy"] += 1
                    continue
                except FileNotFoundError:
                    log.warning("file left for the next run (removed while read): %s", found.path)
                    summary["busy"] += 1
                    continue
                except OSError as exc:  # the share refuses this file (permissions, I/O error)
                    summary["unreadable"] += 1
                    reason = f"{UNREADABLE} tệp: {exc.strerror or exc.__class__.__name__}"
                    log.warning("file cannot be read: %s (%s)", found.path, reason)
                    _record_ignored(url, held, ignored, found, reason)
                    continue
                outcome = None
                if digest not in known_content and not _archived_meanwhile(url, held, digest):
                    try:
                        outcome = sandbox.parse(archived)
                    except SubmissionParseError as exc:
                        outcome = exc
            with transaction(url, held) as conn:
                # Another ingest (a parallel run, the watcher) may have recorded it since `known` was read.
                warehouse.lock_for_writing(conn)
                if found.path in ignored:
                    execute_file(conn, "loads/ignored_file_clear", path=found.path)
                if query(conn, "queries/file_observed", path=found.path, h=digest, mtime=found.mtime):
                    summary["unchanged"] += 1
                    continue
                # outcome is None for content already archived (raw_file rows are never deleted).
                if outcome is not None and not query(conn, "queries/raw_file_known", h=digest):
                    if isinstance(outcome, SubmissionParseError):
                        _store_rejected_parse(conn, digest, found, outcome)
                        summary["rejected"] += 1
                        if outcome.period:
                            periods.add(outcome.period.label)
                        log.info("rejected %s: %s", found.path, "; ".join(outcome.reasons))
                    else:
                        _store_parsed(conn, digest, outcome)
                        summary["parsed"] += 1
                        periods.add(outcome.period.label)
                    execute_file(conn, "loads/raw_file", h=digest, size=found.size, seen=now_local(),
                                 archive=str(archived.relative_to(settings.archive_dir)) if archived else "")
                    known_content.add(digest)
                    summary["new_versions"] += 1
                else:
                    summary["known_content"] += 1
                seen = now_local()
                execute_file(conn, "loads/file_observation", path=found.path, h=digest, size=found.size,
                             mtime=found.mtime, seen=seen,
                             received=_received_at(found, seen, _absent_since(found.path, last_scan["started_at"], ignored)))
            ignored.pop(found.path, None)
    with transaction(url) as conn:
        warehouse.lock_for_writing(conn)
        for folder in [p for p in ignored if p.endswith("/") and p not in reported_folders]:
            execute_file(conn, "loads/ignored_file_clear", path=folder)  # readable again
        if not summary["busy"]:
            execute_file(conn, "loads/share_scan", started=started, finished=now_local())
    summary["periods"] = sorted(periods)
    log.info("shared drive %s: %s", settings.shared_drive, summary)
    return summary


def _archived_meanwhile(url: str, held, digest: str) -> bool:
    """Whether another ingest has recorded this content since this one started (then it is not parsed again)."""
    with transaction(url, held) as conn:
        return bool(query(conn, "queries/raw_file_known", h=digest))


def _record_ignored(url: str, held, ignored: dict, found: FoundFile, reason: str) -> None:
    """Record (or re-record, when the file or the reason changed) a file that is not read."""
    if ignored.get(found.path) == (found.size, found.mtime, reason):
        return
    with transaction(url, held) as conn:
        warehouse.lock_for_writing(conn)
        execute_file(conn, "loads/ignored_file", path=found.path, size=found.size, mtime=found.mtime, reason=reason)
    ignored[found.path] = (found.size, found.mtime, reason)


def _absent_since(path: str, last_scan: str | None, ignored: dict) -> str | None:
    """When the last complete scan began (so this file, first seen now, was not there then), unless
    the file or one of its folders could not be read: then it may have been there all along."""
    if last_scan is None:
        return None
    parts = path.split("/")
    places = {path, "/"} | {"/".join(parts[:i]) + "/" for i in range(1, len(parts))}
    if any(ignored[p][2].startswith(UNREADABLE) for p in places if p in ignored):
        return None
    return last_scan


def _received_at(found: FoundFile, seen: str, absent_since: str | None) -> str:
    """The time a sighting counts as received: its mtime, no later than now (a future mtime cannot pin
    a file over a later correction) and no earlier than a scan that did not find it (back-dating
    cannot make content first seen after the deadline on time). README "Decisions"."""
    moment = max(found.mtime, absent_since, key=datetime.fromisoformat) if absent_since else found.mtime
    return min(moment, seen, key=datetime.fromisoformat)


def _unread_key(found: FoundFile) -> str:
    """The key of a file that is never read (too big): its path, size and time, not its content."""
    return "unread-" + hashlib.sha256(f"{found.path}\0{found.size}\0{found.mtime}".encode()).hexdigest()


def _store_rejected_parse(conn, digest, found, exc) -> None:
    execute_file(conn, "loads/stg_submission_rejected", h=digest, kind=found.abs_path.suffix.lower().lstrip("."),
                 unit=exc.unit_code, period=exc.period.label if exc.period else None,
                 reasons=json.dumps(exc.reasons, ensure_ascii=False))


def _store_parsed(conn, digest, parsed) -> None:
    execute_file(conn, "loads/stg_submission_parsed", h=digest, kind=parsed.file_kind, unit=parsed.unit_code,
                 cell=parsed.unit_cell, period=parsed.period.label,
                 warnings=json.dumps(parsed.warnings, ensure_ascii=False), cols=json.dumps(parsed.columns))
    if parsed.rows:
        execute_many(conn, "loads/stg_submission_row",
                     [dict(asdict(r), h=digest, cells=json.dumps(r.cells, ensure_ascii=False)) for r in parsed.rows])
