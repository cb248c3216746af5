"""Property-based fuzzing of the submission parser (Hypothesis): random and mutated workbooks and CSVs
(valid files with cells, parts and bytes changed). Every input ends parsed or rejected with reasons,
within a time bound, never with another exception; a count that gets through is a count.

The budget (FUZZ_EXAMPLES examples per strategy, 4 strategies) keeps the module under a minute;
`FUZZ_EXAMPLES=5000` runs a longer campaign.
"""

from __future__ import annotations

import io
import os
import signal
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import hostile
from tthc.sources.shared_drive.cells import MAX_COUNT_DIGITS, count_value
from tthc.sources.shared_drive.parse import ParsedSubmission, SubmissionParseError, parse_bytes

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
TIME_BOUND = 10  # seconds for one input; a report parses in milliseconds
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _base() -> tuple[bytes, bytes, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = hostile.valid_workbook(Path(tmp) / "a.xlsx").read_bytes()
        csv = hostile.valid_csv(Path(tmp) / "a.csv").read_bytes()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    return xlsx, csv, parts


BASE_XLSX, BASE_CSV, BASE_PARTS = _base()
NUMERATOR = hostile.numerator_cell()


@contextmanager
def time_bound(seconds: int):
    def expired(_signum, _frame):
        raise AssertionError(f"the parser took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(data: bytes, suffix: str) -> None:
    """The property: parsed or rejected (with short Vietnamese reasons), in time; counts are counts."""
    with time_bound(TIME_BOUND):
        try:
            parsed = parse_bytes(data, suffix)
        except SubmissionParseError as exc:
            assert exc.reasons and all(isinstance(r, str) and 0 < len(r) < 1000 for r in exc.reasons), exc.reasons
            return
    assert isinstance(parsed, ParsedSubmission)
    for row in parsed.rows:
        for text in (row.numerator_text, row.denominator_text):
            value = count_value(text)
            assert value is None or 0 <= value < 10 ** MAX_COUNT_DIGITS
            assert len(text) < 100  # what a reason will quote


def _zip(parts: dict[str, bytes]) -> bytes:
    return hostile.zipped(parts)


# --- strategies ----------------------------------------------------------------------------------

_EDITS = st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(["flip", "insert", "delete"]),
                            st.binary(min_size=1, max_size=8)), min_size=1, max_size=6)


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for pos, op, chunk in edits:
        i = pos % max(len(out), 1)
        if op == "flip":
            out[i:i + len(chunk)] = bytes(a ^ b for a, b in zip(out[i:i + len(chunk)], chunk))
        elif op == "insert":
            out[i:i] = chunk
        else:
            del out[i:i + len(chunk)]
    return bytes(out)


_XML_BITS = st.sampled_from([b"<", b">", b"</x>", b"<c r=\"A1\"><v>1</v></c>", b"<!DOCTYPE x [<!ENTITY a \"b\">]>",
                             b"&a;", b"<row r=\"1048576\">", b"<f>1+1</f>", b"t=\"s\"", b"<v>99999999999999999999</v>",
                             b"\x00", b"\xff\xfe", b"<sheet name=\"x\" state=\"hidden\"/>", b"]]>", b"<![CDATA["])


@st.composite
def mutated_parts(draw) -> bytes:
    """A valid workbook with one or more parts truncated, replaced, spliced with XML bits or dropped."""
    parts = dict(BASE_PARTS)
    for name in draw(st.lists(st.sampled_from(sorted(parts)), min_size=1, max_size=3, unique=True)):
        data = parts[name]
        how = draw(st.sampled_from(["truncate", "splice", "replace", "drop", "repeat"]))
        if how == "truncate":
            parts[name] = data[: draw(st.integers(0, len(data)))]
        elif how == "splice":
            at = draw(st.integers(0, len(data)))
            parts[name] = data[:at] + b"".join(draw(st.lists(_XML_BITS, min_size=1, max_size=4))) + data[at:]
        elif how == "replace":
            parts[name] = draw(st.binary(max_size=200))
        elif how == "drop":
            del parts[name]
        else:
            parts[name] = data * draw(st.integers(2, 20))
    return _zip(parts)


_CELL_TEXT = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[0-9.,eE+\- ]{1,40}", fullmatch=True),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1E+999999999", "9" * 5000, "1.234.567", "0,5", "-0", "١٢٣", "１２３", "NaN", "inf"]),
)


@st.composite
def mutated_cells(draw) -> bytes:
    """A valid workbook whose numerator cell holds any text (inline) or any number text (<v>)."""
    value = draw(_CELL_TEXT)
    legal = "".join(ch for ch in value if ch in "\t\n\r" or " " <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd")
    if draw(st.booleans()):
        xml = f'<c r="{NUMERATOR}" t="inlineStr"><is><t>{escape(legal)}</t></is></c>'
    else:
        xml = f'<c r="{NUMERATOR}"><v>{escape(legal)}</v></c>'
    parts = dict(BASE_PARTS)
    hostile._set_cell(parts, NUMERATOR, xml)
    return _zip(parts)


_FIELD = st.one_of(st.text(max_size=30), _CELL_TEXT, st.sampled_from(["VL-TP", "03/2025", "NQ01-3", "", '"', ";"]))


@st.composite
def random_csv(draw) -> bytes:
    header = draw(st.one_of(st.just(["ma_don_vi", "ky_bao_cao", "ma_chi_tieu", "tu_so", "mau_so", "ty_le"]),
                            st.lists(_FIELD, min_size=1, max_size=8)))
    rows = draw(st.lists(st.lists(_FIELD, max_size=8), max_size=12))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    text = "\n".join(delimiter.join(r) for r in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1258", "utf-16"]))
    return text.encode(encoding, errors="replace")


# --- the properties --------------------------------------------------------------------------------

@FUZZ
@given(data=st.sampled_from([(BASE_XLSX, ".xlsx"), (BASE_CSV, ".csv")]), edits=_EDITS)
def test_mutated_bytes(data, edits):
    base, suffix = data
    check(_mutate(base, edits), suffix)


@FUZZ
@given(data=mutated_parts())
def test_mutated_parts(data):
    check(data, ".xlsx")


@FUZZ
@given(data=mutated_cells())
def test_mutated_cells(data):
    check(data, ".xlsx")


@FUZZ
@given(data=random_csv())
def test_random_csv(data):
    check(data, ".csv")


def test_the_base_files_are_valid_reports():
    """The mutations start from files the parser reads, so they probe more than the first check."""
    for data, suffix in ((BASE_XLSX, ".xlsx"), (BASE_CSV, ".csv")):
        parsed = parse_bytes(data, suffix)
        assert (parsed.unit_code, parsed.rows[0].numerator_text) == (hostile.UNIT, "40")


@pytest.mark.parametrize("value", ["1E+999999999", "9" * 5000])
def test_a_known_hang_is_within_the_bound(value):
    parts = dict(BASE_PARTS)
    hostile._set_cell(parts, NUMERATOR, f'<c r="{NUMERATOR}" t="inlineStr"><is><t>{value}</t></is></c>')
    check(_zip(parts), ".xlsx")


def test_what_the_fuzzer_found_a_damaged_deflate_stream_is_a_rejection():
    """Found by a 3,000-example campaign: one flipped bit in the compressed [Content_Types].xml
    raised zlib.error ('invalid distance too far back'), not a rejection."""
    with zipfile.ZipFile(io.BytesIO(BASE_XLSX)) as zf:
        info = zf.getinfo("[Content_Types].xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(BASE_XLSX)
    data[start + 282] ^= 0x02  # the fuzzer's example
    with pytest.raises(SubmissionParseError):
        parse_bytes(bytes(data), ".xlsx")


def test_what_the_fuzzer_found_a_5000_digit_period_is_quoted_short():
    """Found by a 2,000-example campaign: the CSV's period (and unit) were quoted whole in reasons."""
    check(b"ma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so\n" + b"X" * 5000 + b"," + b"9" * 5000 + b",NQ01-3,1,2\n", ".csv")
