"""The benchmarks at a small size, so that they cannot rot: each prints its lines and its figures
agree with its floor's query (the scripts exit non-zero when they do not). Timings are not checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import PG_ADMIN_URL, ROOT, pg_available


def run(script: str, **env) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.postgres
def test_portal_bench_on_both_warehouses(tmp_path):
    backends = "sqlite,postgresql"
    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (CI must not skip)")
        backends = "sqlite"
    out = run("bench_pipeline.py", BENCH_DOSSIERS="2000", BENCH_UNITS="20", BENCH_BACKENDS=backends,
              BENCH_PG_ADMIN_URL=PG_ADMIN_URL, BENCH_TMPDIR=str(tmp_path))
    for backend in backends.split(","):
        assert f"[{backend}] floor: 2,000 dossiers" in out and "figures identical to the pipeline's" in out
        assert re.search(rf"^bench: backend={backend} dossiers=2000 processing_s=[\d.]+ end_to_end_s=[\d.]+ "
                         rf"peak_mb=\d+ floor_s=[\d.]+ ratio=[\d.]+$", out, re.M), out
    assert list(tmp_path.iterdir()) == []  # the work dir is removed


def test_shared_drive_bench(tmp_path):
    out = run("bench_shared_drive.py", BENCH_WORKBOOKS="20", BENCH_TMPDIR=str(tmp_path))
    assert "area figures identical to the pipeline's" in out
    assert re.search(r"^bench: source=shared_drive workbooks=20 processing_s=[\d.]+ floor_s=[\d.]+ ratio=[\d.]+ "
                     r"peak_mb=\d+$", out, re.M), out
