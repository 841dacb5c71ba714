"""Which confirmed joins are reported to the ad platforms, and what the message holds (attract.joins.feedback)."""

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from attract.campaigns.conversions import ConversionMessage
from attract.joins.feedback import MAX_USER_AGENT, browser_context, conversion_message, email_sha256
from attract.tracking.models import Touch

JOINED = datetime(2026, 12, 3, 10, tzinfo=timezone.utc)
EMAIL = "ada@example.com"


def touch(hours_before: int, channel: str = "paid_search", source: str = "google", **click_ids: str) -> Touch:
    return Touch(touch_id=f"t{hours_before}", occurred_at=JOINED - timedelta(hours=hours_before), origin="click",
                 channel=channel, campaign="Data engineers Berlin", source=source, medium="cpc", click_ids=click_ids)


def test_the_email_hash_is_sha256_of_the_trimmed_lower_case_address():
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


def test_google_click_ids_the_latest_of_each_kind_and_never_the_raw_email():
    path = [touch(30, gclid="OLD"), touch(5, gbraid="B1"), touch(2, gclid="NEW", source="google")]
    message = conversion_message("j1", JOINED, EMAIL, path, consented=True)
    assert message == {"v": 1, "join_id": "j1", "joined_at": JOINED.isoformat(), "channels": ["google_search"],
                       "email_sha256": hashlib.sha256(EMAIL.encode()).hexdigest(), "gclid": "NEW", "gbraid": "B1"}
    assert EMAIL not in json.dumps(message)


def test_a_google_paid_search_link_without_a_click_id_is_reported_by_hashed_email():
    message = conversion_message("j1", JOINED, EMAIL, [touch(2)], consented=True)  # enhanced conversions for leads
    assert message["channels"] == ["google_search"] and "gclid" not in message and message["email_sha256"]


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
