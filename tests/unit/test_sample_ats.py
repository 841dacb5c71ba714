"""The demo's synthetic ATS: the report `build` promises is what the real source and screening find in the file."""

import sqlite3
from collections import Counter
from datetime import datetime, timezone

import pytest
from pydantic import TypeAdapter

from attract.identity import normalise_email
from attract.invites.screening import screen
from attract.invites.sources import Candidate, ColumnMapping, SourceSpec
from attract.providers.sources import open_source
from attract_local.sample_ats import build, change


def _screen(stats: dict) -> tuple[Counter, list[Candidate], int]:
    """Rows read through the SQLite adapter (read-only, ordered as the planner reads them) and screened."""
    spec = TypeAdapter(SourceSpec).validate_python({"kind": "sqlite", "path": stats["path"], "table": stats["table"]})
    source = open_source(spec, ColumnMapping.model_validate(stats["mapping"]), allow_local=True)
    counts: Counter = Counter()
    member = stats["member_email"]
    planned = [c for c in screen(source.rows(), counts=counts,
                                 exclude=lambda candidate: "member" if candidate.email == member else None)
               if isinstance(c, Candidate)]
    return counts, planned, source.count


def _table(path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM candidates ORDER BY id").fetchall()
    connection.close()
    return rows


def test_the_promised_report_is_what_screening_the_file_finds(tmp_path):
    # Given the demo's ATS
    stats = build(tmp_path / "ats.db")
    # When a campaign reads it whole, with the member already joined
    counts, planned, read = _screen(stats)
    # Then every skip reason and the planned invitations are as promised, and every flaw is present
    assert read == stats["rows"] == 300
    assert dict(counts) == stats["skipped"]
    assert set(stats["skipped"]) == {"invalid_email", "no_consent", "duplicate", "member"}
    assert all(n > 0 for n in stats["skipped"].values()) and stats["skipped"]["member"] == 1
    assert len(planned) == stats["planned"] == read - sum(counts.values())
    assert len({c.email for c in planned}) == len(planned) and stats["member_email"] not in {c.email for c in planned}
    assert all(c.first_name and c.last_name and c.skills and c.location and c.external_id for c in planned)


def test_duplicates_differ_only_in_case_or_spacing_and_addresses_are_reserved_domains(tmp_path):
    stats = build(tmp_path / "ats.db")
    emails = [row[1] for row in _table(stats["path"])]
    valid: dict[str, set[str]] = {}
    for raw in emails:
        if raw is None:
            continue
        try:
            valid.setdefault(normalise_email(raw), set()).add(raw)
        except ValueError:
            continue
        assert raw.strip().lower().rsplit("@", 1)[1] in ("example.com", "example.org", "example.net")
    # The same person typed differently by another system: never the identical string
    assert any(len(spellings) > 1 for spellings in valid.values())
    for spellings in valid.values():
        assert len({spelling.strip().lower() for spelling in spellings}) == 1
    assert normalise_email(stats["member_email"]) == stats["member_email"] and len(valid[stats["member_email"]]) == 1


def test_build_is_deterministic_and_the_seed_matters(tmp_path):
    first, again, other = (build(tmp_path / name, seed=seed) for name, seed in (("a.db", 7), ("b.db", 7), ("c.db", 8)))
    assert _table(first["path"]) == _table(again["path"])
    assert {k: v for k, v in first.items() if k != "path"} == {k: v for k, v in again.items() if k != "path"}
    assert _table(first["path"]) != _table(other["path"])
    # Rebuilding over an existing file replaces it
    assert _table(build(tmp_path / "a.db", seed=8)["path"]) == _table(other["path"])


@pytest.mark.parametrize("people", [50, 123, 1000])
def test_other_sizes_keep_their_promise(tmp_path, people):
    stats = build(tmp_path / "ats.db", seed=3, people=people)
    counts, planned, read = _screen(stats)
    assert (read, dict(counts), len(planned)) == (people, stats["skipped"], stats["planned"])


def test_an_incremental_run_reads_only_rows_updated_after_the_watermark(tmp_path):
    # updated_at is stored as SQLAlchemy stores a SQLite DATETIME, so the planner's `since` compares correctly
    stats = build(tmp_path / "ats.db")
    stamps = sorted(datetime.fromisoformat(row[7]).replace(tzinfo=timezone.utc) for row in _table(stats["path"]))
    watermark = stamps[len(stamps) // 2]
    spec = TypeAdapter(SourceSpec).validate_python({"kind": "sqlite", "path": stats["path"], "table": "candidates"})
    source = open_source(spec, ColumnMapping.model_validate(stats["mapping"]), allow_local=True)
    assert len(list(source.rows(since=watermark))) == sum(1 for s in stamps if s > watermark) > 0


def test_the_change_between_runs_edits_no_one_it_is_told_to_spare(tmp_path):
    # The demo spares the invitees who joined or unsubscribed: edited, they would be skipped as a member or
    # suppressed rather than as already invited, depending on which four the senders happened to mail first.
    stats = build(tmp_path / "ats.db")
    before = {row[0]: row for row in _table(stats["path"])}

    def edited_after(spare: list[str]) -> tuple:
        path = tmp_path / f"copy-{len(spare)}.db"
        with sqlite3.connect(stats["path"]) as source, sqlite3.connect(path) as copy:
            source.backup(copy)
        with sqlite3.connect(path) as connection:
            change(connection, spare=spare)
        connection.close()
        changed = [row for row in _table(path) if row[0] in before and row != before[row[0]]]
        assert len(changed) == 1 and len(_table(path)) == len(before) + 1
        return changed[0]

    first = edited_after([])
    second = edited_after([first[1].upper()])
    assert second[1] != first[1] and second[5] == "Remote"
