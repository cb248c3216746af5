"""A realistic sample shared drive for the demo and the tests, with a manifest of what to expect.

Every unit reports every period, mostly on time, in the shapes units really send (their own
edited copies of the template, a few CSV exports, files outside the recommended folders). A
fixed list of events (late files, one rejected file per rejection rule, one correction, one
missing unit) is spread over the given periods, so any period list holds all of them.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from tthc.calendar import DEFAULT_CALENDAR, ReportingCalendar
from tthc.catalogue import Catalogue, Unit
from tthc.periods import Period
from tthc.sources.shared_drive.template import Layout, strip_diacritics, write_unit_csv, write_unit_workbook

ON_TIME, LATE, MISSING, REJECTED = "on_time", "late", "missing", "rejected"

# Rejection rules the demo exercises, one file each.
REJECTION_RULES = ("num_gt_den", "non_whole", "not_applicable", "duplicate", "rate_mismatch", "bad_period")
EVENTS = ("late",) * 4 + REJECTION_RULES + ("correction", "missing")

# Edited copies of the template seen in practice; the first units (shuffled) get one each,
# the rest keep the template as issued, some writing the rate.
LAYOUT_VARIANTS = (
    Layout(rate_form="number"),
    Layout(rate_form="percent", period_form="thang"),
    Layout(rate_form="comma", ascii_labels=True),
    Layout(rate_form="fraction", upper_labels=True, title_rows=2),
    Layout(columns=("code", "name", "den", "num", "rate", "note", "stt"), rate_form="number", title_rows=3),
    Layout(text_counts=True, period_form="iso", rate_form="percent"),
    Layout(title_rows=0, columns=("code", "num", "den"), label_colon=True, period_form="m/yyyy"),
    Layout(ascii_labels=True, upper_labels=True, text_counts=True, rate_form="number", title_rows=1),
)
_PLAIN_LAYOUTS = (Layout(), Layout(rate_form="number"))

# Monthly dossiers received: departments by what they handle (land and business registration
# are busy, the inspectorate hardly receives any); towns busier than communes.
_DEPT_DOSSIERS = {
    "VL-TNMT": (120, 320), "VL-TCKH": (60, 180), "VL-LDTBXH": (50, 150), "VL-KTHT": (40, 120),
    "VL-TP": (20, 70), "VL-GDDT": (5, 30), "VL-NV": (5, 25), "VL-VHTT": (3, 20), "VL-YT": (2, 15),
    "VL-VP": (0, 5), "VL-TTR": (0, 3),
}
_TYPE_DOSSIERS = {"department": (5, 40), "commune": (30, 200), "town": (150, 400)}
_TYPE_DOCUMENTS = {"department": (60, 500), "commune": (150, 600), "town": (500, 1200)}
_DOCUMENTS = {"VL-VP": (900, 1600)}  # the district office handles most of the paperwork
_SEASON = {2: 0.7}  # the 2025-02 period holds Tết

# A unit's usual rate (low, high) and, for '= 100' targets, how often it reaches 100 %.
_RATES = {
    "NQ01-1": (0.6, 0.9), "NQ01-2": (0.25, 0.75), "NQ01-3": (0.35, 0.95), "NQ01-4": (0.65, 1.0),
    "NQ01-5": (0.9, 1.0), "NQ01-6.1": (0.85, 1.0), "NQ01-6.2": (0.65, 1.0), "NQ02-1": (0.85, 1.0),
    "NQ02-2": (0.7, 1.0), "NQ02-3": (0.3, 0.8), "NQ02-4": (0.8, 1.0), "NQ02-6": (0.6, 1.0),
    "NQ02-7": (0.8, 1.0),
}
_FULL_SHARE = {"NQ01-5": 0.6, "NQ02-1": 0.5, "NQ02-2": 0.3, "NQ02-4": 0.8, "NQ02-6": 0.7}


@dataclass(frozen=True)
class _Habit:
    kind: str  # standard | own_folder | csv_utf8 | csv_cp1258
    layout: Layout


def _predecessors(catalogue: Catalogue, unit: Unit) -> int:
    return max(1, sum(1 for u in catalogue.units.values() if u.successor_code == unit.code))


def unit_figures(catalogue: Catalogue, unit: Unit, period: Period, seed: int = 2025) -> dict[str, tuple[int, int]]:
    """Plausible (numerator, denominator) for every code the unit reports, numerator ≤ denominator."""
    profile = random.Random(f"{seed}:profile:{unit.code}")  # stable through the months
    month = random.Random(f"{seed}:figures:{unit.code}:{period.label}")
    merged = _predecessors(catalogue, unit)  # a merged commune does the work of its predecessors

    def volume(ranges: tuple[int, int]) -> int:
        return round(month.uniform(*ranges) * merged * _SEASON.get(period.month, 1.0))

    received = volume(_DEPT_DOSSIERS.get(unit.code, _TYPE_DOSSIERS[unit.unit_type]))
    resolved = round(received * month.uniform(0.85, 1.05))
    documents = volume(_DOCUMENTS.get(unit.code, _TYPE_DOCUMENTS[unit.unit_type]))
    eligible = profile.randint(20, 150) if unit.unit_type == "department" else profile.randint(40, 80) * merged
    denominators = {
        "NQ01-1": eligible,
        "NQ01-2": round(received * profile.uniform(0.15, 0.5)),
        "NQ01-3": received, "NQ01-4": resolved, "NQ01-5": resolved,
        "NQ01-6.1": documents, "NQ01-6.2": documents, "NQ02-1": resolved,
        # Phòng Tư pháp certifies few copies itself: some months none at all.
        "NQ02-2": (month.choice([0, 0, 0, 2, 5, 8, 12]) if unit.unit_type == "department"
                   else volume((20, 150))),
        "NQ02-3": received,
        "NQ02-4": 0 if month.random() < 0.6 else month.randint(1, 8),
        "NQ02-6": 0 if month.random() < 0.7 else month.randint(1, 4),
        "NQ02-7": round(resolved * month.uniform(0.2, 0.7)),
    }
    figures = {}
    for code in catalogue.reportable_codes(unit):
        den = denominators[code]
        usual = profile.uniform(*_RATES[code])
        if code == "NQ01-1":  # procedures go fully online through the year
            rate = min(1.0, usual + 0.03 * (period.month - 1))
        elif profile.random() < _FULL_SHARE.get(code, 0.0):
            rate = 1.0
        else:
            rate = min(1.0, max(0.0, usual + month.gauss(0, 0.03)))
        figures[code] = (round(den * rate), den)
    return figures


def _assign_habits(units: list[Unit], seed: int) -> dict[str, _Habit]:
    """Each unit keeps its habits from month to month: where it saves, CSV or workbook, which edits."""
    rng = random.Random(f"{seed}:habits")
    order = sorted(units, key=lambda u: u.code)
    rng.shuffle(order)
    kinds: dict[str, str] = {}
    if any(u.code == "VL-TP" for u in order):
        kinds["VL-TP"] = "own_folder"
    wanted = [("own_folder", ("commune", "town")), ("own_folder", ("commune", "town")),
              ("csv_utf8", ("department",)), ("csv_cp1258", ("commune", "town"))]
    for kind, types in wanted:
        free = [u for u in order if u.code not in kinds]
        pick = next((u for u in free if u.unit_type in types), free[0] if free else None)
        if pick:
            kinds[pick.code] = kind
    habits = {}
    for i, u in enumerate(order):
        layout = LAYOUT_VARIANTS[i] if i < len(LAYOUT_VARIANTS) else _PLAIN_LAYOUTS[i % 2]
        kind = kinds.get(u.code, "standard")
        if kind == "csv_utf8":
            layout = Layout(rate_form="comma")
        elif kind == "csv_cp1258":
            layout = Layout(rate_form="percent")
        habits[u.code] = _Habit(kind, layout)
    return habits


def _short_name(unit: Unit) -> str:
    name = unit.name
    for prefix in ("Thị trấn ", "Xã "):
        name = name.removeprefix(prefix)
    return strip_diacritics(name)


def _relative_path(unit: Unit, period: Period, kind: str) -> str:
    if kind == "own_folder" and unit.unit_type == "department":
        return f"{strip_diacritics(unit.name)}/{period.year}/bao cao thang {period.month}.xlsx"
    if kind == "own_folder":
        return f"xa/{_short_name(unit)}/BC thang {period.month:02d}-{period.year}.xlsx"
    if kind == "csv_utf8":
        return f"{period.label}/{unit.code}.csv"
    if kind == "csv_cp1258":
        return f"xa/{_short_name(unit)}/{unit.code}_{period.year}{period.month:02d}.csv"
    return f"{period.label}/{unit.code}.xlsx"


def _write(root: Path, rel: str, catalogue: Catalogue, unit: Unit, period: Period, habit: _Habit,
           figures, mtime: datetime, calendar: ReportingCalendar, layout: Layout | None = None) -> str:
    path = root / rel
    if habit.kind == "csv_utf8":
        write_unit_csv(path, catalogue, unit, period, figures, rate_form=habit.layout.rate_form, calendar=calendar)
    elif habit.kind == "csv_cp1258":
        write_unit_csv(path, catalogue, unit, period, figures, encoding="cp1258", delimiter=";",
                       rate_form=habit.layout.rate_form, calendar=calendar)
    else:
        write_unit_workbook(path, catalogue, unit, period, figures, layout=layout or habit.layout, calendar=calendar)
    stamp = int(mtime.timestamp())
    os.utime(path, (stamp, stamp))
    return rel


def _busy_code(figures: dict[str, tuple[int, int]], preferred: str) -> str:
    """`preferred` if it counts at least 10 (so a wrong figure is clearly wrong), else the first that does."""
    return next(c for c in [preferred, *figures] if c in figures and figures[c][1] >= 10)


def _rejected_file(rule: str, unit: Unit, period: Period, figures: dict[str, tuple[int, int]], layout: Layout):
    """(figure rows, layout, reason fragment) of a file breaking exactly one rule."""
    rows = list(figures.items())
    layout = replace(layout, rate_form=None)  # no written rate, so no second reason
    if rule == "num_gt_den":
        code = _busy_code(figures, "NQ01-3")
        den = figures[code][1]
        rows = [(c, (den + 10, den) if c == code else f) for c, f in rows]
        return rows, layout, f"tử số {den + 10} lớn hơn mẫu số {den}"
    if rule == "non_whole":
        code = _busy_code(figures, "NQ02-7")
        rows = [(c, ("12,5", f[1]) if c == code else f) for c, f in rows]
        return rows, layout, "không phải số nguyên"
    if rule == "not_applicable":
        # Filled in both document-handling rows: the commune row at a department, or the reverse.
        own, other = ("NQ01-6.1", "NQ01-6.2") if unit.unit_type == "department" else ("NQ01-6.2", "NQ01-6.1")
        return rows + [(other, figures[own])], layout, f"chỉ tiêu {other} không áp dụng"
    if rule == "duplicate":
        num, den = figures["NQ01-4"]
        return rows + [("NQ01-4", (max(0, num - 1), den))], layout, "chỉ tiêu NQ01-4 xuất hiện nhiều lần"
    if rule == "rate_mismatch":
        code = _busy_code(figures, "NQ01-3")
        num, den = figures[code]
        actual = 100 * num / den
        written = round(actual - 20) if actual > 50 else round(actual + 20)
        rows = [(c, (f[0], f[1], written) if c == code else f) for c, f in rows]
        return rows, layout, f'tỷ lệ "{written}" không khớp'
    if rule == "bad_period":
        bad = f"13/{period.year}"
        return rows, replace(layout, period_text=bad), f'kỳ báo cáo "{bad}" không đọc được'
    raise ValueError(f"unknown rejection rule {rule!r}")


def _plan_events(catalogue: Catalogue, periods: list[Period], calendar: ReportingCalendar,
                 habits: dict[str, _Habit], seed: int) -> dict[tuple[str, str], str]:
    """(period label, unit code) -> event; events on workbook units, one event per unit-period."""
    rng = random.Random(f"{seed}:events")
    plan: dict[tuple[str, str], str] = {}
    for j, event in enumerate(EVENTS):
        period = periods[j % len(periods)]
        free = [u.code for u in catalogue.units_in(period, calendar)
                if habits[u.code].kind in ("standard", "own_folder") and (period.label, u.code) not in plan]
        if event == "not_applicable":  # the plan's example: the commune row filled in by a department
            free = [c for c in free if catalogue.units[c].unit_type == "department"] or free
        if free:
            plan[(period.label, rng.choice(free))] = event
    return plan


def generate_shared_drive(root: Path, catalogue: Catalogue, periods: list[Period], *,
                          calendar: ReportingCalendar = DEFAULT_CALENDAR, seed: int = 2025,
                          observed: dict | None = None, only: list[Period] | None = None) -> dict:
    """Write the sample drive under `root` and return the manifest.

    observed: {(period_label, unit_code): {code: (num, den)}}, what really happened (e.g. counted from
    the portal's dossiers): units report those figures, except a few who misreport one indicator by
    well over 5 points, so the reconciliation has something real to find.

    only: write (and list) just these of `periods`; habits and events are still planned over all of
    `periods`, so periods written apart (e.g. each in its own process) make the same drive as one
    call. The files that are not reports come with the last period.

    The manifest:

    {period_label: {unit_code: {'expected_status': 'on_time'|'late'|'missing'|'rejected',
                                'files': [paths relative to root, oldest first],
                                'figures': {code: (num, den)}   # of the file that counts; not for missing/rejected
                                'reason_fragment': str}}}       # rejected only: text the reason must contain
    """
    root = Path(root)
    periods = sorted(periods)
    units = {u.code: u for p in periods for u in catalogue.units_in(p, calendar)}
    habits = _assign_habits(list(units.values()), seed)
    plan = _plan_events(catalogue, periods, calendar, habits, seed)
    manifest: dict[str, dict] = {}
    for period in periods if only is None else sorted(only):
        end = calendar.bounds(period)[1]
        deadline = calendar.deadline(period).end
        window = deadline - end
        entries = manifest[period.label] = {}
        for unit in catalogue.units_in(period, calendar):
            rng = random.Random(f"{seed}:file:{unit.code}:{period.label}")
            habit = habits[unit.code]
            event = plan.get((period.label, unit.code))
            rel = _relative_path(unit, period, habit.kind)
            figures = unit_figures(catalogue, unit, period, seed)
            if observed and (period.label, unit.code) in observed:
                figures = _as_reported(figures, observed[(period.label, unit.code)], rng)
            sent = end + window * rng.uniform(0.2, 0.9)
            if event == "missing":
                entries[unit.code] = {"expected_status": MISSING, "files": []}
            elif event in REJECTION_RULES:
                rows, layout, fragment = _rejected_file(event, unit, period, figures, habit.layout)
                _write(root, rel, catalogue, unit, period, habit, rows, sent, calendar, layout)
                entries[unit.code] = {"expected_status": REJECTED, "files": [rel], "reason_fragment": fragment}
            elif event == "correction":
                # A typo in one denominator (an extra digit): valid, but wrong until corrected.
                wrong = dict(figures)
                num, den = figures["NQ01-4"]
                wrong["NQ01-4"] = (num, den * 10 + 1)
                first = end + window * 0.2
                _write(root, rel, catalogue, unit, period, habit, wrong, first, calendar)
                fixed = Path(rel).with_name(f"{Path(rel).stem} - sua lai{Path(rel).suffix}").as_posix()
                _write(root, fixed, catalogue, unit, period, habit, figures, first + window * 0.5, calendar)
                entries[unit.code] = {"expected_status": ON_TIME, "files": [rel, fixed], "figures": figures}
            else:
                status = ON_TIME
                if event == "late":
                    sent, status = deadline + timedelta(hours=rng.uniform(2, 5 * 24)), LATE
                _write(root, rel, catalogue, unit, period, habit, figures, sent, calendar)
                entries[unit.code] = {"expected_status": status, "files": [rel], "figures": figures}
    if periods[-1].label in manifest:
        _write_non_report_files(root, periods, habits, calendar)
    return manifest


# Share of units that misreport one dossier-based indicator in a period.
MISREPORT_SHARE = 0.07


def _as_reported(figures: dict, observed: dict, rng: random.Random) -> dict:
    """The observed figures where there are some; now and then one overstated by 15-30 points."""
    reported = {**figures, **{c: f for c, f in observed.items() if c in figures}}
    candidates = sorted(c for c in observed if c in figures and reported[c][1] >= 10)
    if candidates and rng.random() < MISREPORT_SHARE:
        code = rng.choice(candidates)
        num, den = reported[code]
        reported[code] = (min(den, num + round(den * rng.uniform(0.15, 0.30))), den)
    return reported


def _write_non_report_files(root: Path, periods: list[Period], habits: dict[str, _Habit],
                            calendar: ReportingCalendar) -> None:
    """A clerk's note and an Excel lock file: things found on any shared drive, not reports."""
    last = periods[-1]
    stamp = int(calendar.deadline(last).end.timestamp()) - 3600
    note = root / "ghi chu.txt"
    note.write_text("Thư mục báo cáo cải cách TTHC hằng tháng. Các đơn vị lưu báo cáo theo mẫu YYYY-MM/<mã đơn vị>.xlsx.\n",
                    encoding="utf-8")
    # An open workbook leaves '~$<name>' beside it: 165 bytes, the user's name in the header.
    owner = "VL-NV" if "VL-NV" in habits else min(habits)
    lock = root / last.label / f"~${owner}.xlsx"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes((b"\x0bNguyen Van A" + b"\x20" * 40).ljust(165, b"\x00"))
    for path in (note, lock):
        os.utime(path, (stamp, stamp))
