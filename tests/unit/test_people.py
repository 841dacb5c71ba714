"""The people area's pure parts (issue 15): the forget token, what an export shows, which keys a touch takes along."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from attract.people.erasure import touch_keys
from attract.people.export import build_export, plain
from attract.people.forget_link import forget_token, forget_url, open_forget_token
from attract.people.inventory import Holdings, _campaign_of_invite_touch
from attract.signing import Signer

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
DIGEST = "ab" * 32


def test_a_forget_token_opens_for_its_purpose_and_key_only_until_it_expires():
    signer = Signer("k1")
    token = forget_token(signer, DIGEST, NOW)
    assert open_forget_token(signer, token, NOW) == DIGEST
    assert open_forget_token(Signer("k2"), token, NOW) is None
    assert open_forget_token(signer, token, NOW + timedelta(days=3651)) is None
    assert open_forget_token(signer, signer.token("unsubscribe", [DIGEST], 2**40), NOW) is None
    assert forget_url(signer, "https://go.example/", DIGEST, NOW) == f"https://go.example/d/{token}"


def test_an_export_shows_values_as_json_without_keys_and_says_when_nothing_is_held():
    assert plain({"PK": "x", "n": Decimal("2"), "f": Decimal("0.5"), "s": {"b", "a"}}) == {"n": 2, "f": 0.5,
                                                                                           "s": ["a", "b"]}
    empty = build_export(Holdings(email_hash=DIGEST, suppression={"reason": "erased", "at": "t"}))
    assert empty.empty and empty.suppression is None and empty.kept["tombstone"]["reason"] == "erased"
    unsubscribed = build_export(Holdings(email_hash=DIGEST, suppression={"reason": "unsubscribe"}))
    assert not unsubscribed.empty and unsubscribed.suppression == {"reason": "unsubscribe"}
    marked = build_export(Holdings(email_hash=DIGEST, conversions=[{"PK": "CONVERSION#j", "SK": "meta",
                                                                    "status": "erased"}]))
    assert marked.empty and marked.conversions == [] and marked.kept["erased_conversion_marks"]


def test_a_click_touch_takes_its_lookups_and_ad_landing_along_and_its_own_key_last():
    touch = {"PK": "VISITOR#v1", "SK": "TOUCH#t#c1", "origin": "click", "visitor_id": "v1", "touch_id": "c1",
             "link_code": "abc", "click_ids": {"gclid": "g1"}}
    keys = [(key["PK"]["S"], key["SK"]["S"]) for key in touch_keys(touch)]
    assert keys == [("CLICK#tc_click#c1", "VISITOR#v1"), ("CLICK#gclid#g1", "VISITOR#v1"),
                    ("LANDING#abc#gclid#g1", "LANDING"), ("VISITOR#v1", "TOUCH#t#c1")]
    imported = {"PK": f"EMAIL#{DIGEST}", "SK": "TOUCH#t#i1", "origin": "import", "touch_id": "i1"}
    assert [(key["PK"]["S"], key["SK"]["S"]) for key in touch_keys(imported)] == [(f"EMAIL#{DIGEST}", "TOUCH#t#i1")]


def test_the_campaign_of_an_invitation_touch():
    assert _campaign_of_invite_touch(f"inv-camp-1-{DIGEST[:16]}") == "camp-1"
    assert _campaign_of_invite_touch("inv-short") == ""
