"""The invitation source contract: the spec and mapping models, identifier rules, and screen()."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from attract.invites.screening import as_bool, as_datetime, as_skills, is_after, screen
from attract.invites.sources import INVALID_ROW, Candidate, ColumnMapping, Skip, SourceSpec

SPEC = TypeAdapter(SourceSpec)
UTC = timezone.utc


def test_the_issue_example_source_and_mapping_validate():
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": "ats/readonly", "table": "public.candidates"})
    assert spec.schema_and_table == ("public", "candidates")
    mapping = ColumnMapping.model_validate({"email": "email", "first_name": "first_name", "last_name": "last_name",
                                            "skills": "skills", "location": "city", "consent": "marketing_consent",
                                            "updated_at": "updated_at", "external_id": "id"})
    assert mapping.columns()["location"] == "city"


@pytest.mark.parametrize("table", ["candidates", "ats.candidates", "_x$1", "a" * 63 + "." + "b" * 63])
def test_good_table_names(table):
    assert SPEC.validate_python({"kind": "mysql", "secret_id": "s", "table": table}).table == table


@pytest.mark.parametrize("table", ["", "a.b.c", "1abc", "a" * 64, "x;drop table y", "x y", "x--", "\"x\"", "x.", ".x",
                                   "candidates\n", "café"])
def test_bad_table_names(table):
    with pytest.raises(ValidationError):
        SPEC.validate_python({"kind": "postgresql", "secret_id": "s", "table": table})


@pytest.mark.parametrize("column", ["email)", "e mail", "1email", "email'--", "a.b"])
def test_bad_column_names(column):
    with pytest.raises(ValidationError):
        ColumnMapping.model_validate({"email": column, "consent": "consent"})


def test_email_and_consent_are_required_and_nothing_else_is_accepted():
    with pytest.raises(ValidationError):
        ColumnMapping.model_validate({"email": "email"})
    with pytest.raises(ValidationError):
        ColumnMapping.model_validate({"email": "email", "consent": "c", "sql": "x"})
    assert ColumnMapping.model_validate({"email": "email", "consent": "c"}).columns() == {"email": "email", "consent": "c"}


@pytest.mark.parametrize("body", [
    {"kind": "oracle", "secret_id": "s", "table": "t"},
    {"kind": "postgresql", "secret_id": "s", "table": "t", "query": "SELECT 1"},
    {"kind": "s3", "uri": "https://bucket/key"},
    {"kind": "s3", "uri": "s3://bucket/key", "format": "parquet"},
    {"kind": "s3", "uri": "s3://bucket/key", "compression": "zip"},
    {"kind": "dynamodb", "table_name": "ats", "index": "by-tenant"},
    {"kind": "dynamodb", "table_name": "ats", "segments": 0},
    {"kind": "sqlite", "path": "/tmp/x.db", "table": "a.b"},
])
def test_bad_specs(body):
    with pytest.raises(ValidationError):
        SPEC.validate_python(body)


def test_s3_uri_parts_and_defaults():
    spec = SPEC.validate_python({"kind": "s3", "uri": "s3://ats-exports/2026/candidates.csv.gz", "compression": "gzip"})
    assert spec.bucket_and_key == ("ats-exports", "2026/candidates.csv.gz") and spec.format == "csv"


def _row(email="ada@example.com", consent=True, **values):
    return {"email": email, "consent": consent, **values}


def test_screen_skips_and_counts_by_reason_in_order():
    rows = [
        _row(" Ada@Example.COM ", first_name=" Ada ", skills="python; maths", updated_at="2026-01-02T03:04:05Z", external_id=7),
        INVALID_ROW,
        _row("not-an-email"),
        _row(None),
        _row("linus@example.com", consent=False),
        _row("linus@example.com", consent="yes"),  # a row without consent does not make a later one a duplicate
        _row("ada@example.com"),
        _row("ADA@example.com", consent="no"),  # no consent wins over duplicate
    ]
    counts: Counter = Counter()
    out = list(screen(rows, counts=counts))
    assert [type(item).__name__ for item in out] == ["Candidate", "Skip", "Skip", "Skip", "Skip", "Candidate", "Skip", "Skip"]
    ada = out[0]
    assert isinstance(ada, Candidate)
    assert (ada.email, ada.first_name, ada.skills, ada.external_id) == ("ada@example.com", "Ada", ("python", "maths"), "7")
    assert ada.updated_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert [item.reason for item in out if isinstance(item, Skip)] == [
        "invalid_row", "invalid_email", "invalid_email", "no_consent", "duplicate", "no_consent"]
    assert out[1] == Skip("invalid_row", 2)
    assert counts == {"invalid_email": 2, "no_consent": 2, "invalid_row": 1, "duplicate": 1}


def test_addresses_no_invitation_header_can_carry_are_invalid_emails():
    # Given addresses email_validator accepts: an encoded word hiding CR/LF in the local part, a non-ASCII one
    rows = [_row("=?utf-8?q?a=0D=0ABcc=3A=20b=40evil.example?=@example.com"), _row("zoë@example.com"),
            _row("ada@bücher.example")]
    # When screened, Then the first two are invalid_email (never a job that fails forever); an IDN domain is fine
    out = list(screen(rows))
    assert [item.reason if isinstance(item, Skip) else item.email for item in out] == [
        "invalid_email", "invalid_email", "ada@bücher.example"]


def test_screen_asks_the_planner_hook_only_for_unique_consenting_candidates():
    asked = []

    def exclude(candidate):
        asked.append(candidate.email)
        return {"member@example.com": "member", "gone@example.com": "suppressed"}.get(candidate.email)

    rows = [_row("member@example.com"), _row("gone@example.com"), _row("new@example.com"), _row("new@example.com"),
            _row("nope@example.com", consent=0)]
    counts: Counter = Counter()
    kept = [c.email for c in screen(rows, counts=counts, exclude=exclude) if isinstance(c, Candidate)]
    assert kept == ["new@example.com"]
    assert asked == ["member@example.com", "gone@example.com", "new@example.com"]
    assert counts == {"member": 1, "suppressed": 1, "duplicate": 1, "no_consent": 1}


def test_a_bad_date_is_an_invalid_row_not_a_crash():
    counts: Counter = Counter()
    assert [s.reason for s in screen([_row(updated_at="yesterday")], counts=counts)] == ["invalid_row"]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), (2, False), ("Yes", True), (" t ", True), ("on", True),
    ("1", True), ("no", False), ("", False), (None, False), (Decimal(1), True), (Decimal(0), False), ("true ", True)])
def test_consent_values(value, expected):
    assert as_bool(value) is expected


def test_dates_become_aware_utc():
    assert as_datetime(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)  # naive = UTC
    assert as_datetime("2026-01-01T01:00:00+01:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert as_datetime(Decimal(1767225600)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert as_datetime(1767225600) == datetime(2026, 1, 1, tzinfo=UTC)
    assert as_datetime(None) is None and as_datetime("") is None


def test_skills_from_lists_sets_and_strings():
    assert as_skills(["a", " b ", ""]) == ("a", "b")
    assert as_skills({"b", "a"}) == ("a", "b")
    assert as_skills("a, b") == ("a", "b") and as_skills("a|b") == ("a", "b") and as_skills("solo") == ("solo",)
    assert as_skills(None) == () and len(as_skills([str(i) for i in range(80)])) == 50


def test_since_filter_for_files_and_tables_without_sql():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert is_after({"updated_at": "2026-01-02"}, since) and not is_after({"updated_at": "2025-12-31"}, since)
    assert not is_after({"updated_at": None}, since) and not is_after({"updated_at": "junk"}, since)
    assert is_after({}, None) and is_after({"updated_at": since + timedelta(seconds=1)}, since)


def test_digest_set_remembers_every_address_through_growth_and_stays_compact():
    from attract.invites.screening import DigestSet

    seen = DigestSet(capacity=8)
    addresses = [f"person{n}@example.com" for n in range(5000)]
    assert all(seen.add(address) for address in addresses)  # new, through nine doublings
    assert not any(seen.add(address) for address in addresses)  # all seen, none lost in a rehash
    assert seen.count == 5000 and seen.add("someone-else@example.com")
    assert len(seen._slots) * 8 <= 32 * 5001  # at most 32 bytes an address (a quarter full just after growing)
