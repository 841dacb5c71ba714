from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from attract.links.models import Link
from attract.tracking.logic import CachedLinks, ClickRequest, clean_referrer, handle_click, redirect_location

from tests.unit.fakes import MemoryLinks, MemoryTouches

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
VISITOR = "Ky6CYO0h4UJ06YCLle1L_A"
LINK = Link(code="AbCd1234", destination="https://careers.example.com/jobs?team=platform#apply", campaign="Q1",
            channel="paid_social", source="linkedin", medium="cpc", created_at=NOW, created_by="u1")


def _click(**overrides) -> ClickRequest:
    return ClickRequest(**{"code": LINK.code, "user_agent": BROWSER, **overrides})


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def test_redirect_keeps_destination_query_and_fragment_and_adds_ids():
    # Given a link whose destination has its own query and fragment
    links, touches = MemoryLinks(LINK), MemoryTouches()
    # When a person clicks
    outcome = handle_click(_click(), links, touches, NOW, 400)
    # Then the destination keeps team=platform and #apply and gains tc_vid and tc_click
    parts = urlsplit(outcome.location)
    query = _query(outcome.location)
    assert (parts.netloc, parts.path, parts.fragment) == ("careers.example.com", "/jobs", "apply")
    assert query["team"] == ["platform"]
    assert query["tc_vid"] == [outcome.visitor_id] and query["tc_click"] == [outcome.click_id]
    assert outcome.recorded and len(touches.clicks) == 1


def test_touch_carries_link_dimensions_click_ids_utm_and_clean_referrer():
    links, touches = MemoryLinks(LINK), MemoryTouches()
    handle_click(_click(query={"gclid": "Cj0-abc", "utm_source": "newsletter", "other": "x"},
                        referrer="https://www.google.com/search?q=secret+name"), links, touches, NOW, 30)
    touch, expires_at = touches.clicks[0]
    assert (touch.campaign, touch.channel, touch.source, touch.medium) == ("Q1", "paid_social", "linkedin", "cpc")
    assert touch.click_ids == {"gclid": "Cj0-abc"} and touch.utm == {"utm_source": "newsletter"}
    assert touch.referrer == "https://www.google.com/search"  # query (search terms) dropped
    assert expires_at == int(NOW.timestamp()) + 30 * 86400


def test_visitor_id_from_cookie_is_kept():
    outcome = handle_click(_click(visitor_cookie=VISITOR), MemoryLinks(LINK), MemoryTouches(), NOW, 400)
    assert outcome.visitor_id == VISITOR


def test_visitor_id_from_query_is_kept_when_no_cookie():
    outcome = handle_click(_click(query={"tc_vid": VISITOR}), MemoryLinks(LINK), MemoryTouches(), NOW, 400)
    assert outcome.visitor_id == VISITOR
    assert _query(outcome.location)["tc_vid"] == [VISITOR]


def test_cookie_wins_over_query_and_malformed_ids_are_replaced():
    other = "zzzzzzzzzzzzzzzzzzzzzz"
    assert handle_click(_click(visitor_cookie=VISITOR, query={"tc_vid": other}), MemoryLinks(LINK),
                        MemoryTouches(), NOW, 400).visitor_id == VISITOR
    fresh = handle_click(_click(visitor_cookie="<script>", query={"tc_vid": "short"}), MemoryLinks(LINK),
                         MemoryTouches(), NOW, 400).visitor_id
    assert fresh not in ("<script>", "short") and len(fresh) >= 16


def test_bot_gets_redirect_but_no_touch_and_no_ids():
    touches = MemoryTouches()
    outcome = handle_click(_click(user_agent="Slackbot-LinkExpanding 1.0"), MemoryLinks(LINK), touches, NOW, 400)
    assert not outcome.recorded and outcome.visitor_id is None and touches.clicks == []
    assert "tc_vid" not in _query(outcome.location) and urlsplit(outcome.location).netloc == "careers.example.com"


def test_unknown_code_has_no_outcome():
    assert handle_click(_click(code="Nope1234"), MemoryLinks(LINK), MemoryTouches(), NOW, 400) is None


def test_existing_tracking_params_in_destination_are_replaced_not_duplicated():
    location = redirect_location("https://x.example/?tc_vid=old&a=1", "new-visitor-id-0000", "c1", {"gclid": "g"})
    assert _query(location) == {"a": ["1"], "gclid": ["g"], "tc_vid": ["new-visitor-id-0000"], "tc_click": ["c1"]}


def test_passthrough_does_not_override_destination_utm():
    location = redirect_location("https://x.example/?utm_source=planned", None, None, {"utm_source": "incoming"})
    assert _query(location)["utm_source"] == ["planned"]


def test_referrer_cleaning_rejects_non_web_and_strips_credentials():
    assert clean_referrer("android-app://com.slack") is None
    assert clean_referrer("https://user:pw@site.example/p?q=1") == "https://site.example/p"


def test_cached_links_skip_repeat_reads_but_not_unknown_codes():
    links = MemoryLinks(LINK)
    cached = CachedLinks(links)
    cached.get(LINK.code), cached.get(LINK.code), cached.get("Nope1234"), cached.get("Nope1234")
    assert links.reads == 3  # one for the known link, two for the unknown one
