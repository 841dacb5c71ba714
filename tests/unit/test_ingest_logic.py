from datetime import datetime, timedelta, timezone

from attract.identity import email_hash
from attract.tracking.logic import ingest_touches

from tests.unit.fakes import MemoryTouches

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
VISITOR = "Ky6CYO0h4UJ06YCLle1L_A"
PEPPER = "unit-test-pepper"


def _item(**overrides) -> dict:
    base = {"visitor_id": VISITOR, "occurred_at": (NOW - timedelta(days=1)).isoformat(), "campaign": "Fair",
            "channel": "event", "source": "career-fair", "medium": "badge"}
    return {**base, **overrides}


def _hash(email: str) -> str:
    return email_hash(email, PEPPER)


def _ingest(items, store=None):
    return ingest_touches(items, store or MemoryTouches(), NOW, 400, _hash)


def test_valid_items_are_recorded_and_bad_ones_rejected_with_reasons():
    # Given one good item and three bad ones
    items = [
        _item(),
        _item(occurred_at=(NOW + timedelta(hours=1)).isoformat()),
        _item(occurred_at=(NOW - timedelta(days=91)).isoformat(), channel="tv"),
        _item(email="a@example.com"),
    ]
    store = MemoryTouches()
    # When they are ingested
    result = _ingest(items, store)
    # Then only the first is stored and each rejection names its field and rule
    assert (result.recorded, result.rejected) == (1, 3)
    assert [r.status for r in result.results] == ["recorded", "rejected", "rejected", "rejected"]
    reasons = {r.index: {(e.field, e.rule) for e in r.errors} for r in result.results if r.errors}
    assert reasons[1] == {("occurred_at", "value_error")}
    assert reasons[2] == {("occurred_at", "value_error"), ("channel", "enum")}
    assert reasons[3] == {("visitor_id", "value_error")}  # exactly one of visitor_id / email
    assert list(store.imported) == [result.results[0].touch_id]


def test_naive_timestamps_are_rejected_rather_than_guessed():
    result = _ingest([_item(occurred_at="2026-11-24T10:00:00")])
    assert result.results[0].errors[0].field == "occurred_at"
    assert result.results[0].errors[0].rule == "timezone_aware"


def test_reimport_gives_the_same_touch_ids():
    first, second = _ingest([_item(), _item(external_id="scan-1")]), _ingest([_item(), _item(external_id="scan-1")])
    assert [r.touch_id for r in first.results] == [r.touch_id for r in second.results]
    assert first.results[0].touch_id != first.results[1].touch_id


def test_email_touches_store_only_the_keyed_hash():
    store = MemoryTouches()
    _ingest([_item(visitor_id=None, email="  Ada.Lovelace@Example.COM ")], store)
    (touch, expires_at), = store.imported.values()
    assert touch.email_hash == _hash("ada.lovelace@example.com") and touch.visitor_id is None
    assert "ada" not in touch.model_dump_json().lower()
    assert expires_at == int((NOW - timedelta(days=1)).timestamp()) + 400 * 86400


def test_invalid_email_is_rejected():
    result = _ingest([_item(visitor_id=None, email="not-an-email")])
    assert (result.results[0].errors[0].field, result.results[0].status) == ("email", "rejected")
