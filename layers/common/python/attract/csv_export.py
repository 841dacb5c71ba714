"""CSV downloads of reports and member lists: RFC 4180, a header row, UTF-8, safe in a spreadsheet.

- RFC 4180: fields separated by commas, records by CRLF, a field holding a comma, a quote or a line break
  is quoted and its quotes doubled (Python's csv writer with lineterminator CRLF and QUOTE_MINIMAL).
- UTF-8 with a byte order mark: Excel opens a BOM-less CSV in the machine's legacy code page and turns
  "Zürich" into "ZÃ¼rich"; LibreOffice, Google Sheets, pandas (`utf-8-sig`) and Python's csv read it as UTF-8.
- Formula injection (OWASP "CSV Injection"): a text cell starting with `=`, `+`, `-`, `@`, tab or CR is
  run as a formula by Excel, LibreOffice and Sheets. Campaign names and utm_* values can come from the
  public, so such a text cell gets a leading apostrophe, which every one of them shows as text. Numbers
  we computed (a negative amount) are written as numbers.
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from aws_lambda_powertools.event_handler import Response

from attract.api import SECURITY_HEADERS

CSV_MEDIA_TYPE = "text/csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: object) -> str:
    """One cell's text: None is empty, our numbers stay numbers, text that a spreadsheet would run is escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The document: BOM, header row, one record per row, CRLF after each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return BOM + buffer.getvalue()


def wants_csv(headers: Mapping[str, str] | None, format_param: str | None) -> bool:
    """`format=csv`, or an Accept header that names text/csv (and format is not json)."""
    if format_param is not None:
        return format_param == "csv"
    accept = next((value for name, value in (headers or {}).items() if name.lower() == "accept"), "") or ""
    return any(part.split(";")[0].strip().lower() == CSV_MEDIA_TYPE for part in accept.split(","))


def csv_response(document: str, filename: str) -> Response:
    """200 text/csv as a download named `filename` (our own ASCII name: nothing from the caller goes in a header)."""
    safe_name = "".join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in "-_.")) or "export.csv"
    return Response(status_code=200, content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", body=document,
                    headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{safe_name}"'})
