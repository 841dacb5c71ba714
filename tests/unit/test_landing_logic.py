"""An ad landing on the careers page (tc_link) is the redirect's click, recorded once per ad click."""

from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest

from attract.links.models import Link
from attract.signing import Signer
from attract.tracking.landing import LANDING_PARAM, landing_params, landing_suffix
from attract.tracking.logic import ClickRequest, handle_click, handle_landing, landing_click_id
from attract.tracking.repository import landing_item
from tests.unit.fakes import MemoryLinks, MemoryTouches

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SIGNER = Signer("landing-unit-test-key")
LINK = Link(code="GoOg1234", destination="https://careers.example.com/jobs?team=data", campaign="Data team",
            channel="paid_search", source="google", medium="cpc", created_at=NOW, created_by="u1")
AD_QUERY = {"gclid": "Cj0KCQiA-landing", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Data team"}


def _landing(**overrides) -> ClickRequest:
    return ClickRequest(**{"code": LINK.code, "user_agent": BROWSER, "query": dict(AD_QUERY), **overrides})


def _store() -> tuple[MemoryLinks, MemoryTouches]:
    links = MemoryLinks(LINK)
    return links, MemoryTouches(links)


def test_a_landing_records_the_touch_a_click_on_the_redirect_records():
    # Given the same person, ad click and referrer, once through /r/ and once landing on the careers page
    request = _landing(referrer="https://www.google.com/search?q=data+jobs")
    links, redirected = _store()
    handle_click(request, links, redirected, NOW, 400, signer=SIGNER)
    _, landed = _store()
    visit = handle_landing(request, MemoryLinks(LINK), landed, NOW, 400, signer=SIGNER)
    # Then both store the same touch (only the fresh ids differ) with the same expiry
    (click_touch, click_expiry), (landing_touch, landing_expiry) = redirected.clicks[0], landed.clicks[0]
    ids = ("touch_id", "visitor_id")
    assert {k: v for k, v in click_touch.stored().items() if k not in ids} == {
        k: v for k, v in landing_touch.stored().items() if k not in ids}
    assert click_expiry == landing_expiry
    assert (landing_touch.channel, landing_touch.source, landing_touch.campaign) == ("paid_search", "google", "Data team")
    assert landing_touch.click_ids == {"gclid": "Cj0KCQiA-landing"} and landing_touch.referrer == "https://www.google.com/search"
    # And the answer carries the ids the redirect would have put in the URL: signed, the click id being the touch's
    assert visit.recorded and SIGNER.is_visitor_id(visit.visitor_id) and SIGNER.is_click_id(visit.click_id)
    assert (landing_touch.touch_id, landing_touch.visitor_id) == (visit.click_id, visit.visitor_id)


def test_a_repeated_ad_click_is_neither_a_second_touch_nor_a_second_click():
    links, touches = _store()
    first = handle_landing(_landing(), links, touches, NOW, 400, signer=SIGNER)
    # When the page is reloaded, opened in a second tab or shared with the same gclid (with or without an id)
    again = handle_landing(_landing(query={**AD_QUERY, "tc_vid": first.visitor_id}), links, touches, NOW, 400,
                           signer=SIGNER)
    stranger = handle_landing(_landing(), links, touches, NOW, 400, signer=SIGNER)
    # Then one touch and one click only
    assert len(touches.clicks) == 1 and links.items[LINK.code][1] == 1
    # And the repeats get no click id (nothing stands behind one), never the first visitor's id
    assert again.repeated and not again.recorded and again.click_id is None and again.visitor_id != first.visitor_id
    assert stranger.repeated and stranger.click_id is None and stranger.visitor_id != first.visitor_id


def test_the_same_ad_click_id_on_another_link_is_another_landing():
    other = Link(**{**LINK.model_dump(), "code": "MeTa5678"})
    links = MemoryLinks(LINK, other)
    touches = MemoryTouches(links)
    for code in (LINK.code, other.code):
        assert handle_landing(_landing(code=code), links, touches, NOW, 400, signer=SIGNER).recorded
    assert [link_clicks for _, link_clicks in links.items.values()] == [1, 1]


def test_the_redirect_still_records_every_human_click():
    # /r/ has no once-only rule: the same gclid followed twice is two clicks, as before
    links, touches = _store()
    for _ in range(2):
        handle_click(_landing(), links, touches, NOW, 400, signer=SIGNER)
    assert len(touches.clicks) == 2 and links.items[LINK.code][1] == 2 and touches.landings == set()


def test_a_landing_without_an_ad_click_id_is_recorded_each_time():
    # Nothing names the ad click: each call is a click, as on /r/ (the snippet calls once per tc_link URL)
    links, touches = _store()
    for _ in range(2):
        assert handle_landing(_landing(query={"utm_source": "google"}), links, touches, NOW, 400, signer=SIGNER).recorded
    assert links.items[LINK.code][1] == 2


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "AdsBot-Google (+http://www.google.com/adsbot.html)",
    "facebookexternalhit/1.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
    "",
    None,
])
def test_a_bot_rendering_the_page_records_nothing_and_gets_no_ids(user_agent):
    # Google's and Meta's crawlers run the page's JavaScript too: they must not count as ad clicks
    links, touches = _store()
    visit = handle_landing(_landing(user_agent=user_agent), links, touches, NOW, 400, signer=SIGNER)
    assert not visit.recorded and (visit.visitor_id, visit.click_id) == (None, None)
    assert touches.clicks == [] and touches.landings == set() and links.items[LINK.code][1] == 0


@pytest.mark.parametrize("visitor", [
    "Ky6CYO0h4UJ06YCLle1L_A",  # the old unsigned format
    Signer("another-key").new_visitor_id(),  # signed, by someone else
    SIGNER.new_click_id(),  # ours, but a click id
    SIGNER.new_visitor_id(),  # ours: someone's genuine id, written into the careers page's URL
    "<script>alert(1)</script>",
    "A" * 65,
], ids=["unsigned", "another_key", "a_click_id", "ours", "markup", "too_long"])  # random values: ids fixed for xdist
def test_a_visitor_id_from_the_query_is_never_adopted(visitor):
    # Issue 13 (visitor fixation): the careers page's URL is anyone's to write, and t.js sends what it kept.
    # Kept and answered back, a signed id would fix another person's id on this browser and credit their path.
    links, touches = _store()
    visit = handle_landing(_landing(query={**AD_QUERY, "tc_vid": visitor}), links, touches, NOW, 400, signer=SIGNER)
    assert visit.visitor_id != visitor and SIGNER.is_visitor_id(visit.visitor_id)
    assert touches.clicks[0][0].visitor_id == visit.visitor_id
    # A repeat of that ad click answers a fresh id too: nothing from the query is ever handed back
    again = handle_landing(_landing(query={**AD_QUERY, "tc_vid": visitor}), links, touches, NOW, 400, signer=SIGNER)
    assert again.repeated and again.visitor_id not in (visitor, visit.visitor_id)


@pytest.mark.parametrize("code", ["", "abc", "x" * 17, "AbCd-234", "AbCd1234/../x", "😀" * 8, "Nope1234"])
def test_a_malformed_or_unknown_code_is_no_landing(code):
    links, touches = _store()
    assert handle_landing(_landing(code=code), links, touches, NOW, 400, signer=SIGNER) is None
    assert touches.clicks == [] and links.reads == (1 if code == "Nope1234" else 0)  # malformed: no read at all


def test_hostile_values_are_bounded_like_the_redirects_and_keys_fit_dynamodb():
    # Given 512 emoji as gclid (2,048 bytes), 300 "é" as utm_campaign, a lone surrogate and a 100 kB referrer
    links, touches = _store()
    query = {"gclid": "😀" * 512, "utm_campaign": "é" * 300, "fbclid": "ab\ud800cd", "utm_source": " " * 50}
    visit = handle_landing(_landing(query=query, referrer="https://x.example/" + "p" * 100_000), links, touches, NOW,
                           400, signer=SIGNER)
    touch, expires_at = touches.clicks[0]
    # Then the values are cut as /r/ cuts them (bytes, on a character boundary; blanks dropped)
    assert visit.recorded and touch.click_ids == {"gclid": "😀" * 128, "fbclid": "abcd"}
    assert touch.utm == {"utm_campaign": "é" * 100} and len(touch.referrer) == 1024
    # And the once-only mark's key stays within DynamoDB's limits (partition key 2,048 bytes)
    (code, kind, value), = touches.landings
    item = landing_item(code, kind, value, expires_at)
    assert (kind, value) == ("gclid", "😀" * 128) and len(item["PK"]["S"].encode()) <= 2048


def test_the_landing_key_is_the_first_platform_click_id():
    assert landing_click_id({"fbclid": "f", "gbraid": "b", "gclid": "g"}) == ("gclid", "g")
    assert landing_click_id({"fbclid": "f", "wbraid": "w"}) == ("wbraid", "w")
    assert landing_click_id({}) is None


def test_landing_params_are_in_the_platforms_order_and_round_trip():
    # Given a campaign name with spaces, an ampersand and non-ASCII
    params = landing_params("GoOg1234", "google", "cpc", "Data & ML – Berlin")
    assert params == [(LANDING_PARAM, "GoOg1234"), ("utm_source", "google"), ("utm_medium", "cpc"),
                      ("utm_campaign", "Data & ML – Berlin")]
    suffix = landing_suffix("GoOg1234", "google", "cpc", "Data & ML – Berlin")
    # Then the suffix is exactly the encoded pairs (spaces as %20: no "+" for a platform to misread) and decodes back
    assert suffix == "tc_link=GoOg1234&utm_source=google&utm_medium=cpc&utm_campaign=Data%20%26%20ML%20%E2%80%93%20Berlin"
    assert parse_qsl(suffix) == params
