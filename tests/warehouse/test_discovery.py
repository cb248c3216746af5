"""What the ingest meets on a real share: links, lock files, other documents, files being written."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from tests.support.drive import write_csv
from tthc import orchestration
from tthc.sources.shared_drive import discover
from tthc.sources.shared_drive import stage as shared_drive_stage
from tthc.sources.shared_drive.discover import FileChangedError, archive_copy, scan
from tthc.warehouse import transaction


def test_scan_classifies_what_is_not_a_submission(tmp_path):
    share, outside = tmp_path / "share", tmp_path / "outside"
    share.mkdir(), outside.mkdir()
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-12 09:00")
    (share / "2025-03" / "~$VL-TP.xlsx").write_bytes(b"lock")
    (share / "cong van.docx").write_bytes(b"doc")
    (outside / "secret.csv").write_text("x")
    os.symlink(outside / "secret.csv", share / "link.csv")
    os.symlink(share / "2025-03" / "VL-TP.csv", share / "inside-link.csv")
    found = {f.path: f.skip_reason for f in scan(share)}
    assert found["2025-03/VL-TP.csv"] is None
    assert found["inside-link.csv"] is None  # a link within the share is an ordinary file
    assert "liên kết trỏ ra ngoài" in found["link.csv"]
    assert "tệp khóa tạm" in found["2025-03/~$VL-TP.xlsx"]
    assert "không phải tệp báo cáo" in found["cong van.docx"]


def test_a_file_written_while_it_is_copied_is_left_for_the_next_run(tmp_path, monkeypatch):
    share = tmp_path / "share"
    path = write_csv(share, "a.csv", "VL-TP", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-12 09:00")
    (found,) = list(scan(share))
    real_copy = discover._copy_hashing

    def copy_then_append(*args):
        copied = real_copy(*args)
        with open(path, "a") as f:  # the unit's clerk saves again meanwhile
            f.write("VL-TP,03/2025,NQ01-4,1,1,\n")
        return copied

    monkeypatch.setattr(discover, "_copy_hashing", copy_then_append)
    with pytest.raises(FileChangedError):
        archive_copy(found, tmp_path / "archive", 1000)
    assert list((tmp_path / "archive").rglob("*")) == [tmp_path / "archive" / "shared_drive"]


def test_ingest_records_ignored_files_and_goes_on(tthc_env, monkeypatch):
    share = tthc_env.shared_drive
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-12 09:00")
    write_csv(share, "2025-03/VL-NV.csv", "VL-NV", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-12 09:00")
    (share / "2025-03" / "~$VL-NV.xlsx").write_bytes(b"lock")
    real = discover.archive_copy

    def unreadable_once(found, archive_dir, max_bytes):
        if found.path.endswith("VL-NV.csv"):
            raise PermissionError(13, "Permission denied")
        return real(found, archive_dir, max_bytes)

    monkeypatch.setattr(shared_drive_stage, "archive_copy", unreadable_once)
    summary = orchestration.ingest_shared_drive(tthc_env)
    assert (summary["parsed"], summary["unreadable"], summary["ignored"]) == (1, 1, 1)
    with transaction(tthc_env.warehouse_url) as conn:  # recorded with its reason, not silently skipped
        assert conn.execute(text("SELECT path, reason FROM ignored_file ORDER BY path")).all() == [
            ("2025-03/VL-NV.csv", "không đọc được tệp: Permission denied"),
            ("2025-03/~$VL-NV.xlsx", "tệp khóa tạm của Excel/LibreOffice: bỏ qua")]
    monkeypatch.setattr(shared_drive_stage, "archive_copy", real)
    summary = orchestration.ingest_shared_drive(tthc_env)  # the next run picks up what was left
    assert (summary["parsed"], summary["unchanged"], summary["unreadable"]) == (1, 1, 0)
    with transaction(tthc_env.warehouse_url) as conn:
        assert conn.execute(text("SELECT path, reason FROM ignored_file")).all() == [
            ("2025-03/~$VL-NV.xlsx", "tệp khóa tạm của Excel/LibreOffice: bỏ qua")]


def test_the_share_is_never_modified(tthc_env):
    share = tthc_env.shared_drive
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 130, 120)], mtime="2025-03-12 09:00")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in share.rglob("*") if p.is_file()}
    os.chmod(share / "2025-03" / "VL-TP.csv", 0o444)
    orchestration.ingest_shared_drive(tthc_env)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in share.rglob("*") if p.is_file()}
    assert after == before
