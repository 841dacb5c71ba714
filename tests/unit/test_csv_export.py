"""CSV downloads as a spreadsheet and Python's csv module read them (attract.csv_export)."""

import csv
import io
from decimal import Decimal

import pytest

from attract.csv_export import safe_cell, to_csv, wants_csv


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_a_text_cell_a_spreadsheet_would_run_is_escaped_with_an_apostrophe(hostile):
    assert safe_cell(hostile) == "'" + hostile


def test_numbers_and_plain_text_are_written_as_they_are():
    assert [safe_cell(v) for v in (-12, Decimal("-0.50"), 1.5, None, "Berlin fair", "a=b")] == \
        ["-12", "-0.50", "1.5", "", "Berlin fair", "a=b"]


def test_the_document_is_rfc_4180_with_a_bom_and_crlf_and_reads_back_cell_for_cell():
    document = to_csv(["key", "joins"], [["Zürich, \"spring\"\nfair", 2], ["=1+1", None]])
    assert document.startswith("\ufeffkey,joins\r\n")
    assert '"Zürich, ""spring""\nfair",2\r\n' in document and document.endswith("'=1+1,\r\n")
    rows = list(csv.reader(io.StringIO(document.encode("utf-8").decode("utf-8-sig"), newline="")))
    assert rows == [["key", "joins"], ["Zürich, \"spring\"\nfair", "2"], ["'=1+1", ""]]


@pytest.mark.parametrize(("headers", "fmt", "expected"), [
    ({"accept": "text/csv"}, None, True), ({"Accept": "application/json, text/csv;q=0.5"}, None, True),
    ({"accept": "application/json"}, None, False), ({}, "csv", True), ({"accept": "text/csv"}, "json", False),
    (None, None, False)])
def test_csv_is_asked_for_by_the_format_parameter_or_the_accept_header(headers, fmt, expected):
    assert wants_csv(headers, fmt) is expected
