"""Text that came from outside (a unit's workbook, a file name on the share) made inert for output.

One helper for every output that a spreadsheet or a terminal may read: the Excel and Word reports,
`tthc status` and `tthc export` (csv and table). Light on purpose: the CLI imports it without the
report libraries.
"""

from __future__ import annotations

import re

# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"); a leading tab or
# CR is removed with the other control characters, so what follows it is checked too.
_FORMULA_START = ("=", "+", "-", "@")
# XML 1.0 forbids most C0 controls (one in a reason would make the .docx unreadable) and ESC drives a
# terminal. Line breaks stay.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]+")


def safe_text(value: object) -> str:
    """Text from a submission, made inert: control characters removed, and a leading formula
    character escaped with an apostrophe so no spreadsheet evaluates it."""
    if value is None:
        return ""
    text = _CONTROL.sub(" ", str(value).replace("\r\n", "\n")).strip()
    return "'" + text if text.startswith(_FORMULA_START) else text
