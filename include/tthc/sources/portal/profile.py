"""Portal profiles: how a vendor's API is reached and read, as data (include/portal_profiles/*.yaml).

A district cannot change its province's portal, so the client meets it where it is: a profile says
how to sign in (a static bearer token or an OAuth2 grant), how to page (page and size parameters,
the first page's number, where the records and the total are, when the data ends), which query
parameters carry the unit and the date range, and where each dossier field the pipeline counts is
in the vendor's record (dotted paths into nested JSON, date formats, code maps).

The mapping is the allow-list (privacy.KEPT_FIELDS): a record goes on with the mapped fields only,
so personal data is dropped before anything else sees the record. The applicant's ID number, where
a profile names it (`applicant_id`), only ever becomes a salted HMAC key.

Pages come out as columns ({field: [value, ...]}), not records: a mapping is a few list
comprehensions per page, and the archive, the batch frame and the warehouse all take columns.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from ...calendar import DEFAULT_CALENDAR, ReportingCalendar
from ...periods import Period
from ...settings import INCLUDE_DIR
from .privacy import APPLICANT_KEY, KEPT_FIELDS, applicant_keys

PROFILES_DIR = INCLUDE_DIR / "portal_profiles"
DEFAULT_PROFILE = "national-sync"
AUTH_KINDS = ("bearer", "oauth2")
END_RULES = ("total", "last_flag")
APPLICANT_ID = "applicant_id"  # a profile's pseudo-field: the ID number, only ever hashed
DATE_FIELDS = ("received_at", "due_at", "resolved_at")
PROCEDURE_FIELDS = ("MaTTHC", "TenTTHC", "DuDieuKienToanTrinh", "DaCungCapToanTrinh")
# What a request template may use: the unit code and, for dossiers, the period's days (first, last,
# the day before the first).
TEMPLATE_FIELDS = ("unit", "first_day", "last_day", "day_before")
# Asia/Ho_Chi_Minh has kept +07:00 since 1975: dates become the same ISO text ReportingCalendar.bounds() gives.
LOCAL_OFFSET = "+07:00"
_LOCAL_DELTA = timedelta(hours=7)


class ProfileError(ValueError):
    """A portal profile that cannot be used; the message names the file and the key."""


# --- dates -------------------------------------------------------------------------------------
# Each turns one value into ISO local time ('2025-03-14T23:59:59+07:00'); empty → None; anything
# unreadable stays as sent, so that the dossier_batch suite names the value (never silently lost).

def _compact_local(value):
    """'yyyyMMddHHmmss' in local time (the national sync payload's dates)."""
    if value is None or value != value:  # None, NaN
        return None
    s = str(value).strip()
    if not s:
        return None
    if len(s) == 14 and s.isascii() and s.isdigit():
        iso = f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}"
        try:
            datetime.fromisoformat(iso)  # one C call: the same range checks as datetime(y, m, d, ...)
        except ValueError:
            return s
        return iso + LOCAL_OFFSET
    return s


def _iso8601(value):
    """ISO 8601 ('2025-03-14T16:59:59.000+0000', '…Z', '…+07:00'), converted to local time; without
    an offset the time is taken as local. Fractions of a second are dropped, as the spec's dates have none."""
    if value is None or value != value:
        return None
    s = str(value).strip()
    if not s:
        return None
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        return s
    offset = moment.utcoffset()
    moment = moment.replace(tzinfo=None, microsecond=0)
    if offset is not None and offset != _LOCAL_DELTA:
        moment = moment - offset + _LOCAL_DELTA
    # A naive isoformat is several times faster than an aware one; the offset is always ours.
    return moment.isoformat() + LOCAL_OFFSET


def _iso8601_column(values: list) -> list:
    """_iso8601 over a column. A vendor sends one offset (UTC, say) for every date: then, once each
    value is checked to be a valid ISO date-time (fromisoformat, in C), numpy shifts and formats the
    whole column at once, about twice as fast as value by value. Anything else: value by value."""
    import numpy as np  # here, not at the top: every `tthc` command imports this module

    offsets = set()
    try:
        for v in values:
            if v is not None and v != "":
                offsets.add(datetime.fromisoformat(v).utcoffset())
                if v[16:17] != ":":  # no seconds: v[:19] would not be the date-time alone
                    raise ValueError(v)
        if len(offsets) <= 1:
            offset = next(iter(offsets), None)
            shift = (_LOCAL_DELTA - offset) if offset is not None else timedelta(0)
            moments = np.array([v[:19] for v in values if v], dtype="datetime64[s]")
            texts = iter(np.datetime_as_string(moments + np.timedelta64(int(shift.total_seconds()), "s")).tolist())
            return [next(texts) + LOCAL_OFFSET if v else None for v in values]
    except (TypeError, ValueError):  # not text, not ISO, or a shape numpy reads otherwise ('20250301T…')
        pass
    return [_iso8601(v) for v in values]


_COMPACT_ISO = b"0000-00-00T00:00:00" + LOCAL_OFFSET.encode()
_COMPACT_DIGITS_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # yyyyMMddHHmmss's places in it
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _compact_column(values: list) -> list:
    """_compact_local over a column: a column of 14-digit texts (and None or "") that are all valid dates
    is checked and rewritten by numpy at once, about 2.5 times as fast; anything else value by value."""
    try:
        return _compact_column_at_once(values)
    except (TypeError, ValueError):  # not all text, not all 14 ASCII digits, or a date that does not exist
        return [_compact_local(v) for v in values]


def _compact_column_at_once(values: list) -> list:
    import numpy as np  # as in _iso8601_column

    texts = [v for v in values if v is not None and v != ""]  # no date: None, as _compact_local gives
    joined = "".join(texts)  # TypeError: a value that is not text
    if set(map(len, texts)) - {14}:
        raise ValueError("not all 14 characters")
    raw = np.frombuffer(joined.encode("ascii"), np.uint8).reshape(len(texts), 14)  # UnicodeEncodeError
    digits = raw.astype(np.int32) - ord("0")
    if ((digits < 0) | (digits > 9)).any():
        raise ValueError("not all digits")

    def number(first: int, end: int):
        return digits[:, first:end] @ (10 ** np.arange(end - first - 1, -1, -1, dtype=np.int32))

    year, month, day = number(0, 4), number(4, 6), number(6, 8)
    if not ((year >= 1) & (month >= 1) & (month <= 12)).all():
        raise ValueError("no such month")
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    # The same range checks as datetime.fromisoformat (no leap second, no 24:00).
    if not ((day >= 1) & (day <= np.array(_DAYS_IN_MONTH)[month] + ((month == 2) & leap))
            & (number(8, 10) < 24) & (number(10, 12) < 60) & (number(12, 14) < 60)).all():
        raise ValueError("no such day or time")
    size = len(_COMPACT_ISO)
    iso = np.empty((len(texts), size), np.uint8)
    iso[:] = np.frombuffer(_COMPACT_ISO, np.uint8)
    iso[:, _COMPACT_DIGITS_AT] = raw
    text = iso.tobytes().decode("ascii")
    out = [text[i:i + size] for i in range(0, len(text), size)]
    if len(out) == len(values):
        return out
    rewritten = iter(out)
    return [None if v is None or v == "" else next(rewritten) for v in values]


DATE_FORMATS = {"yyyyMMddHHmmss": _compact_column, "iso8601": _iso8601_column}


# --- the mapping -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    date: str | None = None
    codes: tuple[tuple, ...] | None = None  # (vendor value, pipeline value) pairs

    def convert(self, values: list) -> list:
        if self.codes is not None:
            codes = dict(self.codes)
            try:
                values = list(map(codes.get, values, values))  # code → its value; unknown: kept
            except TypeError:  # an object or a list where a code belongs: kept, the suite names it
                values = [codes.get(v, v) if v.__hash__ is not None else v for v in values]
        if self.date is not None:
            values = DATE_FORMATS[self.date](values)
        return values


class RecordMapping:
    """The profile's fields → columns of the pipeline's fields, for one page of vendor records."""

    def __init__(self, fields: dict[str, Field]):
        self.fields = fields
        # The records' own fields the paths start from, read together (columns()).
        self._top = sorted({spec.path[0] for spec in fields.values()})

    def columns(self, records: list[dict], salt: bytes | None = None) -> dict[str, list]:
        """{field: values} for the mapped fields only (and, with a salt, the applicant's key)."""
        paths: dict[tuple, list] = {(): records}
        top = self._top
        if len(top) > 1:
            # Every top-level field of every record in one C pass (itemgetter, then transposed): a
            # third of the time of one list per field. A record lacking one: field by field below.
            try:
                for key, values in zip(top, zip(*map(itemgetter(*top), records))):
                    paths[(key,)] = list(values)
            except KeyError:
                paths = {(): records}

        def column(path: tuple) -> list:
            # Paths sharing a prefix (procedure.code, procedure.sector.code) walk it once per page.
            values = paths.get(path)
            if values is None:
                parent, key = column(path[:-1]), path[-1]
                if len(path) == 1:  # the records themselves, checked to be objects by the client
                    values = [r.get(key) for r in parent]
                else:
                    try:  # objects, or null / empty where the vendor has none (rating: null)
                        values = [v.get(key) if v else None for v in parent]
                    except AttributeError:  # a text or a list where an object belongs
                        values = [v.get(key) if v.__class__ is dict else None for v in parent]
                paths[path] = values
            return values

        out = {name: spec.convert(column(spec.path)) for name, spec in self.fields.items() if name != APPLICANT_ID}
        applicant = self.fields.get(APPLICANT_ID)
        if salt and applicant is not None:
            out[APPLICANT_KEY] = applicant_keys(column(applicant.path), salt)
        return out

    def records(self, records: list[dict]) -> list[dict]:
        """The mapped fields as one dict per record (for small lists such as procedure catalogues)."""
        columns = self.columns(records)
        return [dict(zip(columns, row)) for row in zip(*columns.values())]


# --- the profile -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Paging:
    page_param: str
    first_page: int
    size_param: str
    max_size: int
    records: str
    total: str
    size_applied: str | None  # where the portal says which page size it applied (it may cap ours)
    end: str  # 'total': ceil(total / size) pages; 'last_flag': until the page says it is the last
    last: str | None


@dataclass(frozen=True)
class Endpoint:
    path: str
    requests: tuple[tuple[tuple[str, str], ...], ...]  # each: (parameter, template) pairs
    mapping: RecordMapping
    paged: bool
    records: str | None  # for an unpaged endpoint: where its records are

    def params(self, unit_code: str, period: Period | None = None,
               calendar: ReportingCalendar = DEFAULT_CALENDAR) -> list[dict[str, str]]:
        """Each request's query parameters for the unit (and the period, for dossiers); a paged
        endpoint adds the paging."""
        values = {"unit": unit_code}
        if period is not None:
            first_day = calendar.bounds(period)[0].date()
            values.update(first_day=first_day, last_day=calendar.last_day(period),
                          day_before=first_day - timedelta(days=1))
        return [{name: template.format(**values) for name, template in request} for request in self.requests]


@dataclass(frozen=True)
class Success:
    """A body-level verdict some portals add to HTTP 200 (the national sync payload's error_code)."""
    path: str
    equals: str


@dataclass(frozen=True)
class Profile:
    name: str
    source: Path
    auth: str
    paging: Paging
    success: Success | None
    dossiers: Endpoint
    procedures: Endpoint


def dig(body, path: str):
    """The value at a dotted path of a JSON object, or None."""
    for key in path.split("."):
        if body.__class__ is not dict:
            return None
        body = body.get(key)
    return body


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path | None = None) -> Profile:
    """A shipped profile by name ('national-sync', 'vnpt-igate') or a profile file by path."""
    value = str(name_or_path or DEFAULT_PROFILE)
    looks_like_path = "/" in value or value.endswith((".yaml", ".yml", ".json"))
    path = Path(value).expanduser() if looks_like_path else PROFILES_DIR / f"{value}.yaml"
    if not path.is_file():
        raise ProfileError(f"portal profile {value!r} not found (TTHC_PORTAL_PROFILE or the tthc_portal "
                           f"connection's extra 'profile'): expected one of {', '.join(profile_names())} "
                           f"or the path of a profile file")
    return _load(path.resolve())


@lru_cache(maxsize=16)
def _load(path: Path) -> Profile:
    import yaml  # a profile is read once per process

    try:
        # libyaml's loader where PyYAML has it: the same safe loading, ≈ 10× faster (once per task process).
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: not a readable YAML or JSON file ({type(exc).__name__})") from None
    return _Reader(path).profile(doc)


class _Reader:
    """Reads a profile document strictly: an unknown or missing key is an error naming it."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str) -> ProfileError:
        return ProfileError(f"portal profile {self.path.name}: {where}: {problem}")

    def section(self, doc, where: str, required: tuple, optional: tuple = ()) -> dict:
        if not isinstance(doc, dict):
            raise self.fail(where, "expected a mapping of keys to values")
        unknown = sorted(set(doc) - set(required) - set(optional), key=str)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(map(str, unknown))}")
        missing = [k for k in required if k not in doc]
        if missing:
            raise self.fail(where, f"missing key(s) {', '.join(missing)}")
        return doc

    def text(self, value, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected a non-empty text")
        return value

    def number(self, value, where: str, least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.fail(where, f"expected a whole number of at least {least}")
        return value

    def profile(self, doc) -> Profile:
        doc = self.section(doc, "top level", ("name", "auth", "paging", "dossiers", "procedures"),
                           ("description", "success"))
        if doc["auth"] not in AUTH_KINDS:
            raise self.fail("auth", f"expected one of {', '.join(AUTH_KINDS)}")
        success = None
        if doc.get("success") is not None:
            s = self.section(doc["success"], "success", ("path", "equals"))
            success = Success(self.text(s["path"], "success.path"), str(s["equals"]))
        return Profile(name=self.text(doc["name"], "name"), source=self.path, auth=doc["auth"],
                       paging=self.paging(doc["paging"]), success=success,
                       dossiers=self.endpoint(doc["dossiers"], "dossiers", KEPT_FIELDS, (APPLICANT_ID,),
                                              TEMPLATE_FIELDS),
                       procedures=self.endpoint(doc["procedures"], "procedures", PROCEDURE_FIELDS, (), ("unit",)))

    def paging(self, doc) -> Paging:
        p = self.section(doc, "paging", ("page_param", "first_page", "size_param", "max_size", "records", "total",
                                         "end"), ("size_applied", "last"))
        if p["end"] not in END_RULES:
            raise self.fail("paging.end", f"expected one of {', '.join(END_RULES)}")
        if p["end"] == "last_flag" and not p.get("last"):
            raise self.fail("paging.last", "the end rule last_flag needs the path of the flag")
        return Paging(page_param=self.text(p["page_param"], "paging.page_param"),
                      first_page=self.number(p["first_page"], "paging.first_page", 0),
                      size_param=self.text(p["size_param"], "paging.size_param"),
                      max_size=self.number(p["max_size"], "paging.max_size", 1),
                      records=self.text(p["records"], "paging.records"),
                      total=self.text(p["total"], "paging.total"),
                      size_applied=p.get("size_applied") and self.text(p["size_applied"], "paging.size_applied"),
                      end=p["end"], last=p.get("last") and self.text(p["last"], "paging.last"))

    def endpoint(self, doc, where: str, targets: tuple, optional_targets: tuple, placeholders: tuple) -> Endpoint:
        e = self.section(doc, where, ("path", "requests", "fields"), ("paged", "records"))
        paged = e.get("paged", True)
        if not isinstance(paged, bool):
            raise self.fail(f"{where}.paged", "expected true or false")
        if not paged and not e.get("records"):
            raise self.fail(f"{where}.records", "an unpaged endpoint needs the path of its records")
        if not isinstance(e["requests"], list) or not e["requests"]:
            raise self.fail(f"{where}.requests", "expected a list of one or more requests")
        requests = tuple(self.request(r, f"{where}.requests[{i}]", placeholders) for i, r in enumerate(e["requests"]))
        return Endpoint(path=self.text(e["path"], f"{where}.path"), requests=requests,
                        mapping=self.mapping(e["fields"], f"{where}.fields", targets, optional_targets),
                        paged=paged, records=e.get("records"))

    def request(self, doc, where: str, placeholders: tuple) -> tuple:
        if not isinstance(doc, dict) or not doc:
            raise self.fail(where, "expected a mapping of query parameters to templates")
        sample = {"unit": "X", "first_day": date(2025, 2, 15), "last_day": date(2025, 3, 14),
                  "day_before": date(2025, 2, 14)}
        pairs = []
        for name, template in doc.items():
            template = self.text(str(template), f"{where}.{name}")
            used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            if used - set(placeholders):
                raise self.fail(f"{where}.{name}", f"unknown placeholder(s) {', '.join(sorted(used - set(placeholders)))}"
                                                   f"; expected {', '.join(placeholders)}")
            try:
                template.format(**sample)
            except (ValueError, IndexError) as exc:
                raise self.fail(f"{where}.{name}", f"not a usable template ({exc})") from None
            pairs.append((str(name), template))
        return tuple(pairs)

    def mapping(self, doc, where: str, targets: tuple, optional_targets: tuple) -> RecordMapping:
        doc = self.section(doc, where, targets, optional_targets)
        fields = {}
        for target in (*targets, *optional_targets):
            if target not in doc:
                continue
            spec, at = doc[target], f"{where}.{target}"
            if isinstance(spec, str):
                spec = {"path": spec}
            spec = self.section(spec, at, ("path",), ("date", "codes"))
            date_format = spec.get("date")
            if (date_format is not None) != (target in DATE_FIELDS):
                raise self.fail(at, f"{'a date field needs' if target in DATE_FIELDS else 'only a date field takes'} "
                                    f"a date format ({', '.join(DATE_FORMATS)})")
            if date_format is not None and date_format not in DATE_FORMATS:
                raise self.fail(f"{at}.date", f"expected one of {', '.join(DATE_FORMATS)}")
            codes = spec.get("codes")
            if codes is not None and (not isinstance(codes, dict) or not codes):
                raise self.fail(f"{at}.codes", "expected a mapping of the vendor's codes to the pipeline's")
            path = tuple(self.text(spec["path"], f"{at}.path").split("."))
            fields[target] = Field(path=path, date=date_format,
                                   codes=tuple(codes.items()) if codes is not None else None)
        return RecordMapping(fields)
