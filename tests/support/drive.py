"""Writing small shared drives for tests: exact submissions with chosen modification times."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from tthc.periods import LOCAL_TZ


def write_csv(share: Path, rel: str, unit: str, period: str, rows: list[tuple], *, mtime: str,
              delimiter: str = ",", encoding: str = "utf-8-sig") -> Path:
    """rows: (code, numerator, denominator[, rate]); mtime: local 'YYYY-MM-DD HH:MM'."""
    month, year = period[5:], period[:4]
    lines = [delimiter.join(["ma_don_vi", "ky_bao_cao", "ma_chi_tieu", "tu_so", "mau_so", "ty_le"])]
    for code, num, den, *rate in rows:
        lines.append(delimiter.join([unit, f"{month}/{year}", code, str(num), str(den), str(rate[0]) if rate else ""]))
    path = share / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    set_mtime(path, mtime)
    return path


def set_mtime(path: Path, when: str) -> None:
    ts = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=LOCAL_TZ).timestamp()
    os.utime(path, (ts, ts))
