"""Stage the shared drive: record every file, archive and parse each new content version once.

discover (scan, archive copy) → parse (labels by text) → stage (stg_submission, stg_submission_row,
file_observation, raw_file). Checks, loads and marts come after, from the staged rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from ... import warehouse
from ...warehouse import execute_file, execute_many, now_local, query, transaction
from .discover import FileChangedError, archive_copy, scan
from ...settings import Settings

log = logging.getLogger(__name__)


def ingest_shared_drive(settings: Settings) -> dict:
    """Record every file on the share; archive and parse each new content version once.

    Every file is its own transaction, so one unreadable file never blocks the others.
    """
    from .parse import SubmissionParseError, parse_submission  # openpyxl: imported when used

    warehouse.prepare(settings)
    if not settings.shared_drive.is_dir():
        raise FileNotFoundError(f"thư mục dùng chung không tồn tại: {settings.shared_drive}")
    summary = {"seen": 0, "unchanged": 0, "new_versions": 0, "known_content": 0, "ignored": 0,
               "parsed": 0, "rejected": 0, "busy": 0, "periods": []}
    periods = set()
    url = settings.warehouse_url
    with transaction(url) as conn:
        known = {(r["path"], r["size_bytes"], r["mtime"]) for r in query(conn, "queries/file_observations")}
        ignored = {r["path"]: (r["size_bytes"], r["mtime"]) for r in query(conn, "queries/ignored_files")}
    for found in scan(settings.shared_drive):
        summary["seen"] += 1
        if found.skip_reason:
            summary["ignored"] += 1
            if ignored.get(found.path) != (found.size, found.mtime):
                with transaction(url) as conn:
                    warehouse.lock_for_writing(conn)
                    execute_file(conn, "loads/ignored_file", path=found.path, size=found.size,
                                 mtime=found.mtime, reason=found.skip_reason)
            continue
        if (found.path, found.size, found.mtime) in known:
            summary["unchanged"] += 1
            continue
        try:
            digest, archived = archive_copy(found, settings.archive_dir)
        except (FileChangedError, OSError) as exc:
            # Still being written, or unreadable right now (share hiccup): the next run retries it.
            log.warning("file left for the next run: %s (%s)", found.path, exc.__class__.__name__)
            summary["busy"] += 1
            continue
        with transaction(url) as conn:
            # Another ingest (a parallel run, the watcher) may have recorded it since `known` was read.
            warehouse.lock_for_writing(conn)
            if query(conn, "queries/file_observed", path=found.path, h=digest, mtime=found.mtime):
                summary["unchanged"] += 1
                continue
            seen_before = query(conn, "queries/raw_file_known", h=digest)
            if not seen_before:
                try:
                    parsed = parse_submission(archived)
                except SubmissionParseError as exc:
                    _store_rejected_parse(conn, digest, found, exc)
                    summary["rejected"] += 1
                    if exc.period:
                        periods.add(exc.period.label)
                    log.info("rejected %s: %s", found.path, "; ".join(exc.reasons))
                else:
                    _store_parsed(conn, digest, parsed)
                    summary["parsed"] += 1
                    periods.add(parsed.period.label)
                execute_file(conn, "loads/raw_file", h=digest, size=found.size, seen=now_local(),
                             archive=str(archived.relative_to(settings.archive_dir)))
                summary["new_versions"] += 1
            else:
                summary["known_content"] += 1
            execute_file(conn, "loads/file_observation", path=found.path, h=digest, size=found.size,
                         mtime=found.mtime, seen=now_local())
    summary["periods"] = sorted(periods)
    log.info("shared drive %s: %s", settings.shared_drive, summary)
    return summary


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
