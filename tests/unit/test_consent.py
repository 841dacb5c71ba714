"""Consent lifetime's pure parts: months, channels and the renew token (attract.people.consent)."""

from datetime import datetime, timezone

import pytest

from attract.people.consent import (
    add_months,
    consent_channel,
    index_put,
    month_of,
    next_month,
    open_renew_token,
    renew_token,
)
from attract.signing import Signer

UTC = timezone.utc
SIGNER = Signer("k" * 32)
HASH = "a" * 64


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (datetime(2026, 3, 10, tzinfo=UTC), 24, datetime(2028, 3, 10, tzinfo=UTC)),
    (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),  # clamped to the month's end
    (datetime(2026, 2, 28, tzinfo=UTC), 24, datetime(2028, 2, 28, tzinfo=UTC)),
    (datetime(2028, 2, 29, tzinfo=UTC), 12, datetime(2029, 2, 28, tzinfo=UTC)),  # a leap day, a year on
    (datetime(2026, 12, 4, tzinfo=UTC), -24, datetime(2024, 12, 4, tzinfo=UTC)),
    (datetime(2026, 12, 4, tzinfo=UTC), 1, datetime(2027, 1, 4, tzinfo=UTC)),
])
def test_add_months(moment, months, expected):
    assert add_months(moment, months) == expected


def test_months_follow_each_other_across_years():
    assert [next_month(m) for m in ("2026-11", "2026-12", "2027-01")] == ["2026-12", "2027-01", "2027-02"]
    assert month_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "2026-12"


def test_a_consent_without_a_channel_reads_as_unknown():
    assert consent_channel({"granted": True, "text_version": "v1"}) == "unknown"
    assert consent_channel(None) == "unknown" and consent_channel({"channel": "made-up"}) == "unknown"
    assert [consent_channel({"channel": c}) for c in ("join_form", "invitation", "renewal")] == [
        "join_form", "invitation", "renewal"]


def test_the_index_entry_is_keyed_by_the_consent_month_and_holds_no_personal_data():
    put = index_put("t", HASH, datetime(2026, 3, 10, 12, tzinfo=UTC))["Put"]
    assert put["Item"] == {"PK": {"S": "CONSENT#2026-03"}, "SK": {"S": HASH}, "type": {"S": "consent"},
                           "consent_at": {"S": "2026-03-10T12:00:00+00:00"}}


def test_the_renew_token_opens_only_for_its_purpose_key_and_time():
    token = renew_token(SIGNER, HASH, "2026-03", 2000)
    assert open_renew_token(SIGNER, token, datetime.fromtimestamp(1999, UTC)) == (HASH, "2026-03")
    assert open_renew_token(SIGNER, token, datetime.fromtimestamp(2000, UTC)) is None  # expired
    assert open_renew_token(Signer("other" * 8), token, datetime.fromtimestamp(1, UTC)) is None
    unsubscribe = SIGNER.token("unsubscribe", [HASH, "2026-03"], 2000)  # same fields, another purpose
    assert open_renew_token(SIGNER, unsubscribe, datetime.fromtimestamp(1, UTC)) is None
    assert open_renew_token(SIGNER, renew_token(SIGNER, "short", "2026-03", 2000), datetime.fromtimestamp(1, UTC)) is None
