from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attract.links.models import Link
from attract.tracking.logic import CachedLinks, ClickRequest, clean_referrer, handle_click, redirect_location
from attract.tracking.records import CLICK_ID_PARAMS, UTM_PARAMS
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


# An invitation's token as the sender signs it: "<campaign>.<recipient key>.<expires_at>.<mac>"
INVITE_TOKEN = "berlin-alumni.3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c.1800000000.Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg"


def test_an_invitation_token_is_passed_on_to_the_destination_but_never_stored():
    # Given an invitation's link, followed by a person
    links, touches = MemoryLinks(LINK), MemoryTouches()
    outcome = handle_click(_click(query={"tc_inv": INVITE_TOKEN, "utm_source": "newsletter"}), links, touches, NOW, 30)
    # Then the careers site receives the token next to our ids, for the snippet to keep
    query = _query(outcome.location)
    assert query["tc_inv"] == [INVITE_TOKEN] and query["tc_vid"] == [outcome.visitor_id]
    # And the touch (readable by every report) holds no trace of the bearer token
    touch, _ = touches.clicks[0]
    assert INVITE_TOKEN not in repr(touch.stored()) and "tc_inv" not in repr(touch.stored())


def test_an_invitation_token_is_passed_on_for_mail_scanners_too():
    # A scanner's request gets the same destination (no ids, no touch): what it fetches is what the person gets
    outcome = handle_click(_click(user_agent="python-requests/2.32"), MemoryLinks(LINK), MemoryTouches(), NOW, 30)
    scanned = handle_click(_click(user_agent="python-requests/2.32", query={"tc_inv": INVITE_TOKEN}),
                           MemoryLinks(LINK), MemoryTouches(), NOW, 30)
    assert not scanned.recorded and _query(scanned.location)["tc_inv"] == [INVITE_TOKEN]
    assert "tc_inv" not in _query(outcome.location)


@pytest.mark.parametrize("token", [
    "short.token",  # under 16 characters
    "x" * 513,  # over the join's 512
    INVITE_TOKEN + "/../admin",  # characters no signed token has
    INVITE_TOKEN + "<script>",
    INVITE_TOKEN.replace(".", " ", 1),
    "é" * 20,
    "",
])
def test_a_malformed_invitation_token_is_not_passed_on(token):
    # Whatever the query holds, the destination gets nothing the join would refuse (422) or the page could misuse
    outcome = handle_click(_click(query={"tc_inv": token}), MemoryLinks(LINK), MemoryTouches(), NOW, 30)
    assert "tc_inv" not in _query(outcome.location)


def test_a_destination_cannot_hard_wire_an_invitation():
    # A link whose destination carries someone's tc_inv would credit every join to that invitation
    location = redirect_location("https://x.example/?tc_inv=" + INVITE_TOKEN + "&a=1", None, None, {})
    assert _query(location) == {"a": ["1"]}
    location = redirect_location("https://x.example/?tc_inv=stale-token-from-a-mail&a=1", None, None,
                                 {"tc_inv": INVITE_TOKEN})
    assert _query(location) == {"a": ["1"], "tc_inv": [INVITE_TOKEN]}


def test_visitor_id_from_cookie_is_kept():
    outcome = handle_click(_click(visitor_cookie=VISITOR), MemoryLinks(LINK), MemoryTouches(), NOW, 400)
    assert outcome.visitor_id == VISITOR


def test_a_visitor_id_in_the_query_is_never_adopted_even_when_signed():
    # Issue 13: /r/{code}?tc_vid=<someone's id> made a clean browser take that id (cookie, URL, touch) for a year,
    # so its confirmed join was credited with the other person's path.
    from attract.signing import Signer

    signer = Signer("click-unit-test-key")
    someone = signer.new_visitor_id()
    touches = MemoryTouches()
    outcome = handle_click(_click(query={"tc_vid": someone}), MemoryLinks(LINK), touches, NOW, 400, signer=signer)
    assert outcome.visitor_id != someone and signer.is_visitor_id(outcome.visitor_id)
    assert _query(outcome.location)["tc_vid"] == [outcome.visitor_id]
    assert touches.clicks[0][0].visitor_id == outcome.visitor_id
    # The browser's own cookie is what keeps a visitor's clicks together
    own = signer.new_visitor_id()
    assert handle_click(_click(visitor_cookie=own, query={"tc_vid": someone}), MemoryLinks(LINK), touches, NOW, 400,
                        signer=signer).visitor_id == own


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
    cached.target(LINK.code), cached.target(LINK.code), cached.target("Nope1234"), cached.target("Nope1234")
    assert links.reads == 3  # one for the known link, two for the unknown one


# ---------------------------------------------------------------- hostile clicks (issue 6)

def _key_sizes(item: dict) -> tuple[int, int]:
    return len(item["PK"]["S"].encode()), len(item["SK"]["S"].encode())


def test_click_ids_are_cut_in_utf8_bytes_so_keys_fit_dynamodb_limits():
    from attract.tracking.repository import click_lookup_items, touch_item

    # Given 512 emoji in gclid (2,048 bytes) and 300 in utm_source
    touches = MemoryTouches()
    outcome = handle_click(_click(query={"gclid": "😀" * 512, "utm_source": "é" * 300, "fbclid": "x" * 600}),
                           MemoryLinks(LINK), touches, NOW, 400)
    touch, expires_at = touches.clicks[0]
    # Then each value is cut to its byte budget on a character boundary
    assert touch.click_ids["gclid"] == "😀" * 128 and touch.click_ids["fbclid"] == "x" * 512
    assert touch.utm["utm_source"] == "é" * 100
    # And every key the click writes is within DynamoDB's limits (partition 2,048 bytes, sort 1,024)
    for item in [touch_item(touch, expires_at), *click_lookup_items(touch, expires_at)]:
        pk, sk = _key_sizes(item)
        assert pk <= 2048 and sk <= 1024
    assert _query(outcome.location)["gclid"] == ["😀" * 128]


def test_a_click_is_stored_as_the_touch_contract_says_and_reads_back_as_one():
    # The redirect writes a plain ClickTouch (no pydantic on its cold start); the joins read it as a Touch.
    from attract.aws import from_item
    from attract.tracking.models import Touch
    from attract.tracking.repository import touch_item

    touches = MemoryTouches()
    handle_click(_click(query={"gclid": "Cj0-abc", "utm_source": "news"}, referrer="https://site.example/p"),
                 MemoryLinks(LINK), touches, NOW, 400)
    click, expires_at = touches.clicks[0]
    contract = Touch(**{**vars(click), "origin": "click"})
    # Then its item is exactly the one the pydantic Touch with the same values gives
    assert touch_item(click, expires_at) == touch_item(contract, expires_at)
    # And the stored item validates as that Touch (what the join's touches_of does)
    assert Touch.model_validate(from_item(touch_item(click, expires_at))) == contract
    # Also with no click ids, utm, referrer, content or term (None left out, empty maps kept)
    bare = MemoryTouches()
    handle_click(_click(), MemoryLinks(LINK), bare, NOW, 400)
    plain, _ = bare.clicks[0]
    assert touch_item(plain, 1) == touch_item(Touch(**vars(plain)), 1)


def test_lone_surrogates_in_the_query_are_dropped_not_stored():
    touches = MemoryTouches()
    handle_click(_click(query={"gclid": "ab\ud800cd"}, referrer="https://site.example/\udc80p"), MemoryLinks(LINK),
                 touches, NOW, 400)
    assert touches.clicks[0][0].click_ids == {"gclid": "abcd"}
    assert touches.clicks[0][0].referrer == "https://site.example/p"


@pytest.mark.parametrize("code", ["", "abc", "x" * 17, "AbCd-234", "AbCd1234/../x", "😀" * 8, "AbCd 1234"])
def test_malformed_codes_are_unknown_without_reading_the_store(code):
    links = MemoryLinks(LINK)
    assert handle_click(_click(code=code), links, MemoryTouches(), NOW, 400) is None
    assert links.reads == 0


class _FailingTouches(MemoryTouches):
    def __init__(self, fail: str, links=None):
        super().__init__(links)
        self.fail = fail

    def record_click(self, touch, expires_at, ad_click=None):
        if self.fail == "touch":
            raise TimeoutError("store down")
        super().record_click(touch, expires_at, ad_click)

    def count_click(self, code):
        if self.fail == "count":
            raise ConnectionError("store down")
        super().count_click(code)


def test_a_store_failure_loses_the_touch_but_still_redirects():
    outcome = handle_click(_click(), MemoryLinks(LINK), _FailingTouches("touch"), NOW, 400)
    assert outcome is not None and not outcome.recorded and outcome.lost == ("touch", "TimeoutError")
    assert urlsplit(outcome.location).netloc == "careers.example.com"
    assert _query(outcome.location)["tc_click"] == [outcome.click_id]


def test_a_counter_failure_keeps_the_touch_and_still_redirects():
    links = MemoryLinks(LINK)
    touches = _FailingTouches("count", links)
    outcome = handle_click(_click(), links, touches, NOW, 400)
    assert outcome.recorded and outcome.lost == ("count", "ConnectionError") and len(touches.clicks) == 1
    assert links.items[LINK.code][1] == 0


def test_an_unreadable_link_is_link_unavailable_not_a_crash():
    from attract.tracking.logic import LinkUnavailableError

    class Down:
        def target(self, code):
            raise OSError("unreachable")

    with pytest.raises(LinkUnavailableError):
        handle_click(_click(), Down(), MemoryTouches(), NOW, 400)


def test_head_gets_the_redirect_without_a_touch():
    touches = MemoryTouches()
    outcome = handle_click(_click(method="HEAD"), MemoryLinks(LINK), touches, NOW, 400)
    assert outcome.location.startswith("https://careers.example.com/jobs") and touches.clicks == []


# ---------------------------------------------------------------- redirect URL round trip (property)

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_KEYS = _TEXT.filter(lambda key: key not in ("tc_vid", "tc_click", "tc_inv"))


@settings(max_examples=300, deadline=None)
@given(
    own=st.lists(st.tuples(_KEYS.filter(bool), _TEXT), max_size=5, unique_by=lambda pair: pair[0]),
    passthrough=st.dictionaries(st.sampled_from(CLICK_ID_PARAMS + UTM_PARAMS), _TEXT.filter(bool), max_size=6),
    stale_ids=st.booleans(),
    path=st.sampled_from(["/", "/jobs", "/jobs/%E6%9D%B1%E4%BA%AC", "/a;b"]),
    fragment=st.sampled_from(["", "apply", "x=1&y"]),
    ids=st.booleans(),
)
def test_redirect_location_round_trips_for_any_query(own, passthrough, stale_ids, path, fragment, ids):
    from urllib.parse import parse_qsl, urlencode

    query = own + ([("tc_vid", "stale"), ("tc_click", "stale")] if stale_ids else [])
    destination = "https://careers.example.com" + path + ("?" + urlencode(query) if query else "") + (
        "#" + fragment if fragment else "")
    visitor, click = ("Ky6CYO0h4UJ06YCLle1L_A", "c" * 22) if ids else (None, None)
    location = redirect_location(destination, visitor, click, passthrough)

    parts = urlsplit(location)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    # Our ids appear exactly once (or not at all for bots), the stale copies are gone
    assert names.count("tc_vid") == names.count("tc_click") == (1 if ids else 0)
    if ids:
        assert ("tc_vid", visitor) in pairs and ("tc_click", click) in pairs
    # The destination's own parameters are kept, with their values and order
    own_names = {name for name, _ in own}
    assert [pair for pair in pairs if pair[0] in own_names] == own
    # Incoming campaign parameters are passed on, unless the destination sets the same name itself
    for name, value in passthrough.items():
        assert (name, value) in pairs if name not in own_names else names.count(name) == 1
    # Scheme, host, path and fragment are untouched
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "careers.example.com", path, fragment)


def test_the_snippet_keeps_tc_inv_by_the_same_rule_the_redirect_and_the_join_use():
    # t.js cannot import the Python constant: a drift would make the join refuse (422) what the snippet kept
    import re
    from pathlib import Path

    import attract.tracking
    from attract.tracking.records import INVITE_TOKEN_PATTERN

    snippet = (Path(attract.tracking.__file__).parent / "snippet.js").read_text()
    (kept,) = re.findall(r"var INVITE = /(.+?)/;", snippet)
    assert kept == INVITE_TOKEN_PATTERN
    assert 'query.get("tc_inv")' in snippet and "out.invite_token = state.invite_token" in snippet
