"""Which confirmed joins are reported to the ad platforms, and what the message holds (attract.joins.feedback)."""

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from attract.campaigns.conversions import ConversionMessage
from attract.joins.feedback import (
    MAX_USER_AGENT,
    browser_context,
    conversion_message,
    email_sha256,
    google_email_sha256,
)
from attract.tracking.models import Touch

JOINED = datetime(2026, 12, 3, 10, tzinfo=timezone.utc)
EMAIL = "ada@example.com"


def touch(hours_before: int, channel: str = "paid_search", source: str = "google", **click_ids: str) -> Touch:
    return Touch(touch_id=f"t{hours_before}", occurred_at=JOINED - timedelta(hours=hours_before), origin="click",
                 channel=channel, campaign="Data engineers Berlin", source=source, medium="cpc", click_ids=click_ids)


def test_meta_s_email_hash_is_sha256_of_the_trimmed_lower_case_address():
    assert email_sha256(" Ada@Example.com ") == hashlib.sha256(b"ada@example.com").hexdigest()


def test_nothing_without_the_persons_ads_consent():
    assert conversion_message("j1", JOINED, EMAIL, [touch(2, gclid="G1")], consented=False) is None


@pytest.mark.parametrize("path", [
    [touch(2, channel="organic_search", source="google")],
    [touch(2, channel="email", source="newsletter")],
    [touch(2, channel="paid_social", source="linkedin", li_fat_id="L1")],
    [],
])
def test_nothing_for_a_join_that_no_google_or_meta_ad_brought(path):
    assert conversion_message("j1", JOINED, EMAIL, path, consented=True) is None


def test_google_click_ids_the_latest_of_each_kind_its_click_time_and_never_the_raw_email():
    path = [touch(30, gclid="OLD"), touch(5, gbraid="B1"), touch(2, gclid="NEW", source="google")]
    message = conversion_message("j1", JOINED, EMAIL, path, consented=True)
    # Only Google's hash (Meta is not told), and the latest Google touch: no upload before it is 6 hours old
    assert message == {"v": 2, "join_id": "j1", "joined_at": JOINED.isoformat(), "channels": ["google_search"],
                       "google_email_sha256": hashlib.sha256(EMAIL.encode()).hexdigest(), "gclid": "NEW", "gbraid": "B1",
                       "google_click_at": (JOINED - timedelta(hours=2)).isoformat()}
    assert EMAIL not in json.dumps(message)


def test_a_google_paid_search_link_without_a_click_id_is_reported_by_hashed_email():
    message = conversion_message("j1", JOINED, EMAIL, [touch(2)], consented=True)  # enhanced conversions for leads
    assert message["channels"] == ["google_search"] and "gclid" not in message and message["google_email_sha256"]
    assert message["google_click_at"] == (JOINED - timedelta(hours=2)).isoformat()


@pytest.mark.parametrize(("email", "google_normalised", "meta_normalised"), [
    # Google: Gmail addresses lose the dots and the +tag of their local part (both gmail.com and googlemail.com)
    (" Ada.Love+jobs@GMail.com ", "adalove@gmail.com", "ada.love+jobs@gmail.com"),
    ("a.d.a@googlemail.com", "ada@googlemail.com", "a.d.a@googlemail.com"),
    # Any other domain keeps them, for both; whitespace inside an address is dropped by Google's rule
    ("User.Name+NYC@Example.com", "user.name+nyc@example.com", "user.name+nyc@example.com"),
    ("ada@mail.gmail.com", "ada@mail.gmail.com", "ada@mail.gmail.com"),
])
def test_google_and_meta_hash_the_same_address_each_their_own_way(email, google_normalised, meta_normalised):
    assert google_email_sha256(email) == hashlib.sha256(google_normalised.encode()).hexdigest()
    assert email_sha256(email) == hashlib.sha256(meta_normalised.encode()).hexdigest()


def test_a_join_from_both_platforms_carries_each_platform_s_hash():
    email = "Ada.Lovelace+talent@gmail.com"
    path = [touch(3, gclid="G"), touch(2, channel="paid_social", source="facebook", fbclid="F")]
    message = conversion_message("j1", JOINED, email, path, consented=True)
    assert message["google_email_sha256"] == hashlib.sha256(b"adalovelace@gmail.com").hexdigest()
    assert message["email_sha256"] == hashlib.sha256(b"ada.lovelace+talent@gmail.com").hexdigest()
    conversion = ConversionMessage.model_validate(json.loads(json.dumps(message))).conversion()
    assert (conversion.google_email_sha256, conversion.email_sha256) == (message["google_email_sha256"],
                                                                         message["email_sha256"])


def test_a_meta_only_join_carries_nothing_of_google():
    message = conversion_message("j1", JOINED, EMAIL, [touch(2, channel="social", source="facebook", fbclid="F")],
                                 consented=True)
    assert not {"google_email_sha256", "google_click_at", "gclid"} & set(message)


def test_google_is_due_6_hours_after_its_latest_click_meta_at_once():
    path = [touch(9, gclid="OLD"), touch(1, gclid="NEW"), touch(1, channel="paid_social", source="facebook", fbclid="F")]
    message = ConversionMessage.model_validate(conversion_message("j1", JOINED, EMAIL, path, consented=True))
    assert message.due_at("google_search") == JOINED + timedelta(hours=5)
    assert message.due_at("meta") == JOINED


def test_a_version_1_message_is_still_read_and_held_from_its_join():
    v1 = {"v": 1, "join_id": "j1", "joined_at": JOINED.isoformat(), "channels": ["google_search"], "gclid": "G",
          "email_sha256": hashlib.sha256(EMAIL.encode()).hexdigest()}
    message = ConversionMessage.model_validate(v1)
    # Its one hash is Google's too for every address but a dotted or tagged Gmail one; its click time is unknown:
    # the join's is later than the click's, so the wait is never too short
    assert message.conversion().google_email_sha256 == v1["email_sha256"]
    assert message.due_at("google_search") == JOINED + timedelta(hours=6)


def test_meta_by_fbclid_with_its_click_time_and_by_a_meta_paid_social_link():
    clicked = touch(3, channel="social", source="facebook", fbclid="FB.1")
    message = conversion_message("j1", JOINED, EMAIL, [clicked], consented=True)
    assert (message["channels"], message["fbclid"], message["fbclid_at"]) == (["meta"], "FB.1", clicked.occurred_at.isoformat())
    linked = conversion_message("j2", JOINED, EMAIL, [touch(3, channel="paid_social", source="instagram")], consented=True)
    assert linked["channels"] == ["meta"] and "fbclid" not in linked


def test_a_path_from_both_platforms_names_both_and_the_consumer_reads_it_back():
    path = [touch(30, gclid="G"), touch(2, channel="paid_social", source="facebook", fbclid="F")]
    message = conversion_message("j1", JOINED, EMAIL, path, consented=True)
    assert message["channels"] == ["google_search", "meta"]
    conversion = ConversionMessage.model_validate(json.loads(json.dumps(message))).conversion()
    assert (conversion.join_id, conversion.gclid, conversion.fbclid, conversion.joined_at) == ("j1", "G", "F", JOINED)
    assert conversion.email_sha256 == hashlib.sha256(EMAIL.encode()).hexdigest()


BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64)", "referer": "https://careers.example.com/join?email=ada%40example.com#f"}


def test_the_form_s_browser_for_meta_s_website_events_without_the_page_s_query():
    context = browser_context(BROWSER)
    assert context == {"client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "event_source_url": "https://careers.example.com/join"}
    path = [touch(2, channel="paid_social", source="facebook", fbclid="F")]
    message = conversion_message("j1", JOINED, EMAIL, path, consented=True, browser=context)
    conversion = ConversionMessage.model_validate(json.loads(json.dumps(message))).conversion()
    assert (conversion.client_user_agent, conversion.event_source_url) == (context["client_user_agent"], context["event_source_url"])


@pytest.mark.parametrize(("headers", "expected"), [
    ({"origin": "https://careers.example.com"}, {"event_source_url": "https://careers.example.com/"}),
    ({"referer": "android-app://com.example", "origin": "null"}, {}),
    ({"user-agent": "  "}, {}),
    ({"user-agent": "A" * 2000}, {"client_user_agent": "A" * MAX_USER_AGENT}),
    # Hostile headers: an unclosed IPv6 literal (urlsplit raises), control characters, non-ASCII bytes
    ({"referer": "http://[", "origin": "https://[::1"}, {}),
    ({"referer": "https://careers.example.com/a\x00b", "user-agent": "Mozilla\x07"}, {}),
    ({"referer": "http://[", "origin": "https://careers.example.com"}, {"event_source_url": "https://careers.example.com/"}),
    ({"user-agent": "Mozilla/5.0 \udcff"}, {}),
])
def test_a_missing_or_odd_browser_header_is_left_out_or_cut(headers, expected):
    assert browser_context(headers) == expected


def test_a_scheduled_function_reads_its_time_from_the_event():
    from attract.clock import scheduled_at

    assert scheduled_at({"time": "2026-12-02T15:00:00Z"}) == datetime(2026, 12, 2, 15, tzinfo=timezone.utc)
    # Absent, unreadable or without an offset: the function falls back to its own clock
    assert scheduled_at({}) is None and scheduled_at({"time": "soon"}) is None
    assert scheduled_at({"time": "2026-12-02T15:00:00"}) is None
