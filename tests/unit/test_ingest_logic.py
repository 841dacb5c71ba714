from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attract.identity import email_hash
from attract.tracking.ingest import ingest_touches
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


# ---------------------------------------------------------------- issue 6

def test_the_same_instant_with_another_offset_is_the_same_touch():
    store = MemoryTouches()
    result = _ingest([_item(occurred_at="2026-11-24T12:00:00Z", external_id="scan-9"),
                      _item(occurred_at="2026-11-24T14:00:00+02:00", external_id="scan-9"),
                      _item(occurred_at="2026-11-24T07:00:00.000-05:00", external_id="scan-9")], store)
    assert len({r.touch_id for r in result.results}) == 1 and len(store.imported) == 1


def test_click_ids_are_bounded_in_utf8_bytes():
    # 200 emoji are 200 characters (under the old 512-character limit) but 800 bytes of a CLICK#… key.
    result = _ingest([_item(click_ids={"gclid": "😀" * 200}), _item(click_ids={"gclid": "😀" * 128})])
    assert [r.status for r in result.results] == ["rejected", "recorded"]
    assert {(e.field, e.rule) for e in result.results[0].errors} == {("click_ids.gclid", "string_too_long")}


_GOOD = st.builds(
    lambda days, campaign, visitor, external: _item(
        occurred_at=(NOW - timedelta(days=days)).isoformat(), campaign=campaign, visitor_id=visitor,
        external_id=external),
    st.integers(0, 89), st.text(alphabet="abcXYZ é東", min_size=1, max_size=20).filter(str.strip),
    st.sampled_from([VISITOR, "Visitor_from_old_sys1", "a" * 64]), st.none() | st.text("xyz0", min_size=1, max_size=5),
)
_CORRUPTIONS = [
    {"channel": "tv"}, {"occurred_at": (NOW + timedelta(days=2)).isoformat()}, {"occurred_at": "2026-11-24T10:00:00"},
    {"occurred_at": "0001-01-01T00:00:00+14:00"}, {"occurred_at": "9999-12-31T23:59:59-12:00"}, {"visitor_id": "short"},
    {"email": "both@example.com"}, {"click_ids": {"gclid": "😀" * 129}}, {"click_ids": {"nope": "x"}},
    {"campaign": ""}, {"campaign": None}, {"unexpected": 1}, {"source": "x" * 101}, {"email": "\ud800@example.com"},
]
_BAD = st.one_of(
    st.builds(lambda good, corruption: {**good, **corruption}, _GOOD, st.sampled_from(_CORRUPTIONS)),
    st.dictionaries(st.sampled_from(["visitor_id", "email", "occurred_at", "campaign", "channel", "x"]),
                    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.lists(st.integers(), max_size=3),
                    max_size=6),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(good=st.lists(_GOOD, min_size=1, max_size=8), bad=st.lists(_BAD, min_size=1, max_size=4), data=st.data())
def test_bad_items_never_reject_or_alter_the_good_ones(good, bad, data):
    alone_store = MemoryTouches()
    alone = _ingest(good, alone_store)
    # Interleave the bad items at random places in the batch
    batch, kinds = list(good), ["good"] * len(good)
    for item in bad:
        at = data.draw(st.integers(0, len(batch)))
        batch.insert(at, item)
        kinds.insert(at, "bad")
    mixed_store = MemoryTouches()
    mixed = _ingest(batch, mixed_store)

    assert [r.index for r in mixed.results] == list(range(len(batch)))
    assert [r.status for r, kind in zip(mixed.results, kinds, strict=True) if kind == "bad"] == ["rejected"] * len(bad)
    good_results = [r for r, kind in zip(mixed.results, kinds, strict=True) if kind == "good"]
    assert [(r.status, r.touch_id) for r in good_results] == [(r.status, r.touch_id) for r in alone.results]
    assert {k: (t.model_dump(), e) for k, (t, e) in mixed_store.imported.items()} == {
        k: (t.model_dump(), e) for k, (t, e) in alone_store.imported.items()}
    assert (mixed.recorded, mixed.rejected) == (alone.recorded, len(bad))
