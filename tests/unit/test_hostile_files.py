"""No file a unit drops on the share can stop, hang or flood the parse: the hostile corpus, counts,
and the child process's limits (tthc.sources.shared_drive.sandbox)."""

from __future__ import annotations

import multiprocessing
import re
import time
from decimal import Decimal

import pytest

from tests.support import hostile
from tthc.sources.shared_drive.cells import count_text, count_value, rate_value
from tthc.sources.shared_drive.parse import ParsedSubmission, SubmissionParseError
from tthc.sources.shared_drive.sandbox import ParseLimits, ParseSandbox, _expired_reason


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return hostile.build_all(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def sandbox():
    with ParseSandbox() as box:
        yield box


def test_the_corpus_has_at_least_30_kinds():
    assert len(hostile.KINDS) >= 30


@pytest.mark.parametrize("kind", list(hostile.KINDS))
def test_each_hostile_kind_gets_its_outcome_in_seconds(kind, corpus, sandbox):
    _build, outcome, _name = hostile.KINDS[kind]
    started = time.monotonic()
    try:
        parsed = sandbox.parse(corpus[kind])
    except SubmissionParseError as exc:
        reasons = "; ".join(exc.reasons)
        assert isinstance(outcome, hostile.Rejected), f"rejected: {reasons}"
        assert re.search(outcome.pattern, reasons), reasons
        assert len(reasons) < 500  # a reason quotes, never floods
    else:
        assert isinstance(outcome, hostile.Parsed), "parsed, but it must be rejected"
        assert isinstance(parsed, ParsedSubmission) and outcome.check(parsed)
    # Far below the sandbox's 30 s: every kind is refused by a check, not by a limit (the first
    # kind also pays for starting the worker).
    assert time.monotonic() - started < 15


# --- counts --------------------------------------------------------------------------------------

def _short_id(value) -> str:
    """A test id for a value: pytest's own str() fails on a 5,000-digit int."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"int of {len(str(value.bit_length()))}-digit bit length"
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)})"


@pytest.mark.parametrize("cell, text, value", [
    (42, "42", 42), (42.0, "42", 42), ("1.234", "1234", 1234), ("0015", "15", 15), (Decimal("7.000"), "7", 7),
    ("999999999999999", "999999999999999", 999_999_999_999_999),  # 15 digits: the largest count
    ("1234567890123456", "1234567890123456", None),  # 16 digits
    (10 ** 20, "100000000000000000000", None), (1e300, "1e+300", None), (float("inf"), "inf", None),
    ("1E+999999999", "1E+999999999", None), ("1e3", "1e3", None), ("-3", "-3", None), ("12,5", "12.5", None),
    (Decimal("1E+999999999"), "1E+999999999", None), ("NaN", "NaN", None),
    ("9" * 5000, "99999999999999999999… (5.000 ký tự)", None),
    (10 ** 5000, "số có hơn 15 chữ số", None),  # str() of it would raise (4,300-digit limit)
], ids=lambda v: _short_id(v))
def test_counts_are_whole_numbers_of_at_most_15_digits_never_converted_when_longer(cell, text, value):
    started = time.monotonic()
    assert count_text(cell) == text
    assert count_value(count_text(cell)) == value
    assert time.monotonic() - started < 0.1  # '1E+999999999' used to hang the run


@pytest.mark.parametrize("cell", [float("nan"), float("inf"), "1" * 100, 10 ** 5000], ids=lambda v: _short_id(v))
def test_unreadable_rates_are_rejected_not_converted(cell):
    with pytest.raises(ValueError):
        rate_value(cell)


# --- the child process's limits ------------------------------------------------------------------

def _worker_base_memory() -> int:
    """The address space of a fresh worker (forked from the same preloaded server), in bytes."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tthc.sources.shared_drive.sandbox"])
    queue = context.Queue()
    process = context.Process(target=_report_vm_size, args=(queue,))
    process.start()
    size = queue.get(timeout=60)
    process.join()
    return size


def _report_vm_size(queue) -> None:
    with open("/proc/self/status", encoding="ascii") as status:
        queue.put(next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024)


@pytest.mark.parametrize("limits, reason", [
    (ParseLimits(wall_seconds=0.3), r"^Đọc tệp mất hơn 0.3 giây nên bị dừng"),
    (ParseLimits(cpu_seconds=1, wall_seconds=120), r"^Đọc tệp dùng quá 1 giây xử lý nên bị dừng"),
], ids=["wall clock", "cpu seconds"])
def test_a_limit_hit_is_that_files_rejection_and_the_next_file_parses(tmp_path, limits, reason):
    build, name = hostile.SLOW_BUT_ALLOWED  # ~1-2 s of CPU
    slow, good = build(tmp_path, name), hostile.valid_csv(tmp_path / "ok.csv")
    with ParseSandbox(limits) as box:
        with pytest.raises(SubmissionParseError) as info:
            box.parse(slow)
        assert re.search(reason, info.value.reasons[0]), info.value.reasons
        assert box.parse(good).unit_code == hostile.UNIT  # a new worker took over


def test_a_file_needing_more_memory_than_allowed_is_rejected_and_the_next_parses(tmp_path):
    build, name = hostile.HUNGRY_BUT_ALLOWED  # ~50 MB above the worker's own
    hungry, good = build(tmp_path, name), hostile.valid_csv(tmp_path / "ok.csv")
    limits = ParseLimits(memory_bytes=_worker_base_memory() + (20 << 20), wall_seconds=20)
    with ParseSandbox(limits) as box:
        with pytest.raises(SubmissionParseError) as info:
            box.parse(hungry)
        # Near its ceiling a worker may not even manage to answer (the wall clock then ends it), or
        # the interpreter itself fails to allocate on the way out and exits 1 (seen on a loaded machine).
        assert re.search(r"bộ nhớ nên bị dừng|giây nên bị dừng|bị dừng bất thường \(mã 1\)",
                         info.value.reasons[0]), info.value.reasons
        assert box.parse(good).unit_code == hostile.UNIT
    with ParseSandbox(ParseLimits(memory_bytes=1 << 30)) as box:
        assert box.parse(hungry).unit_code == hostile.UNIT  # under the default ceiling it is a workbook


def test_the_archive_copy_unreadable_is_not_the_senders_fault(tmp_path):
    with ParseSandbox() as box, pytest.raises(FileNotFoundError):
        box.parse(tmp_path / "gone.xlsx")


@pytest.mark.parametrize("exitcode, reason", [
    (-24, "giây xử lý"), (-9, "bộ nhớ"), (-11, "bị dừng bất thường (mã -11)")])
def test_a_worker_killed_by_a_signal_is_named(exitcode, reason):
    assert reason in _expired_reason(exitcode, ParseLimits())


def test_the_error_crosses_the_process_boundary_whole():
    import pickle

    from tthc.periods import Period

    err = SubmissionParseError(["Ô D12: a", "Ô D13: b"], "VL-TP", Period(2025, 3))
    back = pickle.loads(pickle.dumps(err))
    assert (back.reasons, back.unit_code, back.period) == (err.reasons, "VL-TP", Period(2025, 3))
