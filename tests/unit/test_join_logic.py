import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from attract.joins.limits import hour_window as limits_window
from attract.joins.limits import requester
from attract.joins.logic import (
    MAX_SIGNED_CLICKS,
    JoinPolicy,
    confirm_join,
    gather_touches,
    landing_touch,
    send_deferred,
    submit_join,
)
from attract.joins.models import JoinRequest
from attract.signing import Signer
from attract.tracking.models import Touch
from tests.unit.fakes import MemoryMailQueue, MemoryMembers, MemoryTouchSource, Outbox

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SIGNER = Signer("unit-test-key")
VISITOR = SIGNER.new_visitor_id()
OTHER_DEVICE = SIGNER.new_visitor_id()
CLICK = SIGNER.new_click_id()
DIGEST = "ab" * 32
POLICY = JoinPolicy(lookback_days=30, half_life_days=7, consent_text_version="v3")
BASE = "https://go.example.com"


def touch(touch_id: str, days_ago: float, channel="paid_social", campaign="Q1", source="linkedin", **extra) -> Touch:
    return Touch(touch_id=touch_id, occurred_at=NOW - timedelta(days=days_ago), origin="click", channel=channel,
                 campaign=campaign, source=source, medium="cpc", **extra)


def request(**overrides) -> JoinRequest:
    return JoinRequest.model_validate({"email": " Ada@Example.COM ", "name": "Ada", "consent": True, **overrides})


def submit(req=None, now=NOW, source=None, members=None, outbox=None, digest=DIGEST, ip="198.51.100.7", later=None,
           policy=POLICY):
    req = req or request()
    return submit_join(req, digest, now, policy, SIGNER, BASE, source or MemoryTouchSource(),
                       members if members is not None else MemoryMembers(), outbox if outbox is not None else Outbox(),
                       requester=requester(req.email, ip, "pepper"), later=later)


def link_token(outbox: Outbox) -> str:
    return re.search(r"/joins/confirm/(\S+)", outbox.sent[-1][2]).group(1)


def test_email_is_normalised_and_consent_must_be_a_real_true():
    assert request().email == "ada@example.com"
    for consent in (False, "true", 1, None):
        with pytest.raises(ValidationError) as caught:
            request(consent=consent)
        assert caught.value.errors()[0]["loc"] == ("consent",)


def test_utm_values_are_bounded_as_the_stored_touch_is():
    # Finding 3: 200 characters passed validation and then failed at storage (Label allows 100): a public 500.
    with pytest.raises(ValidationError) as caught:
        request(utm_campaign="c" * 101)
    assert caught.value.errors()[0]["loc"] == ("utm_campaign",)
    longest = request(**{key: "x" * 100 for key in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")})
    assert landing_touch(longest, NOW).campaign == "x" * 100


def test_a_referrer_host_over_100_characters_is_dropped_not_a_failure():
    host = "a" * 60 + "." + "b" * 60 + ".example"
    landing = landing_touch(request(referrer=f"https://{host}/page"), NOW)
    assert (landing.channel, landing.referrer) == ("direct", None)
    assert landing_touch(request(referrer="http://[::1"), NOW).referrer is None


def test_signed_ids_are_stitched_from_visitor_click_and_email_deduplicated_and_windowed():
    # Given touches on a laptop (signed cookie id), on a phone (found through a signed tc_click) and an imported scan
    source = MemoryTouchSource()
    source.add(f"VISITOR#{VISITOR}", touch("t-laptop", 3, visitor_id=VISITOR))
    source.add(f"VISITOR#{VISITOR}", touch("t-old", 45, visitor_id=VISITOR))  # outside the 30-day window
    source.add(f"VISITOR#{OTHER_DEVICE}", touch(CLICK, 10, channel="paid_search", source="google", visitor_id=OTHER_DEVICE))
    source.clicks[("tc_click", CLICK)] = [OTHER_DEVICE]
    source.add(f"EMAIL#{DIGEST}", touch("t-badge", 20, channel="event", source="fair"))
    captured = gather_touches(request(visitor_id=VISITOR, click_ids={"tc_click": [CLICK]}), DIGEST, NOW, 30, source, SIGNER)
    assert [t.touch_id for t in captured.touches] == ["t-badge", CLICK, "t-laptop"]
    assert captured.claims == {CLICK: OTHER_DEVICE} and captured.visitor_id == VISITOR and captured.untrusted_ids == {}


def test_an_invitation_and_the_click_on_its_link_are_one_touch():
    # Given an invitation sent 2 days ago (its touch under the token) and the person's click on its link
    invitation = Touch(touch_id="inv-c1-ab", occurred_at=NOW - timedelta(days=2), origin="invite", channel="email",
                       campaign="Alumni", source="invitation", medium="email", link_code="inv01")
    source = MemoryTouchSource()
    source.invites["token-1234567890abcdef"] = invitation
    clicked = MemoryTouchSource()
    clicked.invites = source.invites
    clicked.add(f"VISITOR#{VISITOR}", touch("t-click", 1, channel="email", campaign="Alumni", source="invitation",
                                            link_code="inv01", visitor_id=VISITOR))
    clicked.add(f"VISITOR#{VISITOR}", touch("t-ad", 1.5, visitor_id=VISITOR, link_code="ad01"))
    joined = request(visitor_id=VISITOR, invite_token="token-1234567890abcdef")
    # When the join carries the token along with the visitor whose click came through that link
    with_click = gather_touches(joined, DIGEST, NOW, 30, clicked, SIGNER)
    # Then the click stands for the invitation (one email touch, not two); without a click the invitation credits
    assert [t.touch_id for t in with_click.touches] == ["t-ad", "t-click"]
    alone = gather_touches(request(invite_token="token-1234567890abcdef"), DIGEST, NOW, 30, source, SIGNER)
    assert [t.touch_id for t in alone.touches] == ["inv-c1-ab"]


def test_unsigned_or_forged_ids_and_ad_click_ids_credit_nothing_but_are_recorded():
    # Finding 2: a join could claim any visitor's path by naming its id or one of its clicks.
    victim, forged_click = "Ky6CYO0h4UJ06YCLle1L_A", CLICK[:-2] + ("AA" if not CLICK.endswith("AA") else "BB")
    source = MemoryTouchSource()
    source.add(f"VISITOR#{victim}", touch("victim-touch", 2, visitor_id=victim))
    source.clicks[("tc_click", forged_click)] = [victim]
    source.clicks[("gclid", "G1")] = [victim]
    other_key_id = Signer("another-key").new_visitor_id()
    for visitor in (victim, other_key_id, SIGNER.new_click_id()):  # unsigned, foreign key, a click id as visitor id
        captured = gather_touches(request(visitor_id=visitor, click_ids={"tc_click": [forged_click], "gclid": ["G1"]}),
                                  DIGEST, NOW, 30, source, SIGNER)
        assert captured.touches == [] and captured.claims == {} and captured.visitor_id is None
        assert captured.untrusted_ids == {"visitor_id": visitor, "tc_click": [forged_click]}
    # The ad click id still describes the join's own landing touch
    assert landing_touch(request(gclid="G1"), NOW).click_ids == {"gclid": "G1"}


def test_one_join_looks_up_at_most_five_signed_clicks():
    class Counting(MemoryTouchSource):
        lookups = 0

        def visitors_by_click(self, kind, value, limit=10):
            Counting.lookups += 1
            return super().visitors_by_click(kind, value, limit)

    clicks = [SIGNER.new_click_id() for _ in range(20)]
    gather_touches(request(click_ids={"tc_click": clicks, "gclid": [f"g{i}" for i in range(20)]}), DIGEST, NOW, 30,
                   Counting(), SIGNER)
    assert Counting.lookups == MAX_SIGNED_CLICKS == 5


def test_new_pending_and_member_emails_get_the_same_outcome_class_and_the_same_work():
    members, outbox = MemoryMembers(), Outbox()
    # new
    assert submit(members=members, outbox=outbox) == "mailed"
    new_calls = list(members.calls)
    # pending (an hour later, so it mails again)
    members.calls.clear()
    assert submit(now=NOW + timedelta(hours=1, seconds=1), members=members, outbox=outbox) == "mailed"
    pending_calls = list(members.calls)
    # member
    assert confirm_join(link_token(outbox), NOW + timedelta(hours=2), POLICY, SIGNER, members)
    members.calls.clear()
    assert submit(now=NOW + timedelta(hours=3), members=members, outbox=outbox) == "member_noted"
    assert new_calls == pending_calls == members.calls == ["is_member", "hold", "take_mail_slot"]
    to, subject, text = outbox.sent[-1]
    assert to == "ada@example.com" and "already" in subject and "/joins/confirm/" not in text


def test_mail_holds_no_caller_text_and_the_link_is_under_the_configured_base():
    outbox = Outbox()
    submit(request(name="Click here: https://evil.example/"), outbox=outbox)
    (_, subject, text), = outbox.sent
    assert "evil" not in subject + text and f"{BASE}/joins/confirm/" in text


def test_one_email_per_address_per_hour():
    members, outbox = MemoryMembers(), Outbox()
    assert submit(members=members, outbox=outbox) == "mailed"
    assert submit(now=NOW + timedelta(minutes=59), members=members, outbox=outbox) == "rate_limited"
    assert len(outbox.sent) == 1
    first = link_token(outbox)
    assert submit(now=NOW + timedelta(minutes=61), members=members, outbox=outbox) == "mailed"
    # The newest email's link is the one that works
    assert not confirm_join(first, NOW + timedelta(hours=2), POLICY, SIGNER, members)
    assert confirm_join(link_token(outbox), NOW + timedelta(hours=2), POLICY, SIGNER, members)


def test_tagged_addresses_of_one_mailbox_get_one_mail_an_hour():
    # Issue 13: victim+1@, victim+2@ … each got a confirmation; Gmail ignores dots too
    members, outbox = MemoryMembers(), Outbox()
    tagged = [request(email=f"victim+{n}@example.com") for n in range(50)]
    dotted = [request(email=address) for address in ("v.ictim@gmail.com", "VICTIM+x@googlemail.com", "vic.tim@gmail.com")]
    outcomes = [submit(req, members=members, outbox=outbox, digest=f"{n:064x}") for n, req in enumerate(tagged + dotted)]
    assert outcomes.count("mailed") == 2 and set(outcomes) == {"mailed", "rate_limited"}
    assert [to for to, _, _ in outbox.sent] == ["victim+0@example.com", "v.ictim@gmail.com"]  # the address typed
    # An hour later, one more
    assert submit(tagged[9], now=NOW + timedelta(hours=1, seconds=1), members=members, outbox=outbox,
                  digest=f"{9:064x}") == "mailed"


def test_one_network_causes_at_most_its_hourly_mails():
    members, outbox = MemoryMembers(), Outbox()
    policy = JoinPolicy(mails_per_source_hour=3)
    outcomes = [submit(request(email=f"p{n}@example.com"), members=members, outbox=outbox, digest=f"{n:064x}",
                       ip="2001:db8:7:7::" + f"{n + 1:x}", policy=policy) for n in range(6)]  # one /64
    assert outcomes == ["mailed"] * 3 + ["source_limited"] * 3 and len(outbox.sent) == 3
    # A refused submission wrote nothing: the address (and its mailbox) can still be mailed from elsewhere
    assert submit(request(email="p4@example.com"), members=members, outbox=outbox, digest=f"{4:064x}",
                  ip="2001:db8:7:8::1", policy=policy) == "mailed"
    # The next clock hour starts a new count
    assert submit(request(email="p5@example.com"), now=NOW + timedelta(hours=1), members=members, outbox=outbox,
                  digest=f"{5:064x}", ip="2001:db8:7:7::99", policy=policy) == "mailed"


def test_above_the_account_cap_mails_are_queued_then_sent_once_in_a_later_hour():
    members, outbox, later = MemoryMembers(), Outbox(), MemoryMailQueue()
    policy = JoinPolicy(mails_per_hour=1)
    assert submit(request(email="first@example.com"), members=members, outbox=outbox, digest="01" * 32, later=later,
                  policy=policy) == "mailed"
    # The second of the hour is held and its mail queued (naming the pending join, not the address)
    assert submit(request(email="second@example.com"), members=members, outbox=outbox, digest="02" * 32, later=later,
                  ip="198.51.100.8", policy=policy) == "deferred"
    (message, delay), = later.messages
    assert "second@" not in str(message) and message["email_hash"] == "02" * 32 and delay == 900
    assert len(outbox.sent) == 1 and members.pendings["02" * 32].email == "second@example.com"
    # Still the same hour: queued again; the next hour: sent, once
    assert send_deferred(message, NOW + timedelta(minutes=50), policy, SIGNER, members, outbox, later) == "deferred"
    assert later.messages[-1] == (message, 601) and len(outbox.sent) == 1  # ten minutes to the next hour
    assert send_deferred(message, NOW + timedelta(hours=1), policy, SIGNER, members, outbox, later) == "mailed"
    assert send_deferred(message, NOW + timedelta(hours=1), policy, SIGNER, members, outbox, later) == "sent_already"
    assert outbox.sent[-1][:2] == ("second@example.com", "Confirm you want to join our talent community")
    assert confirm_join(link_token(outbox), NOW + timedelta(hours=2), POLICY, SIGNER, members)
    # A confirmed (or replaced) join's queued mail is not needed any more
    assert send_deferred(message, NOW + timedelta(hours=3), policy, SIGNER, members, outbox, later) == "gone"


def test_a_members_deferred_note_goes_to_the_members_address_and_the_work_is_the_same():
    members, outbox, later = MemoryMembers(), Outbox(), MemoryMailQueue()
    assert submit(members=members, outbox=outbox) == "mailed"
    assert confirm_join(link_token(outbox), NOW, POLICY, SIGNER, members)
    capped = JoinPolicy(mails_per_hour=1)
    members.account[limits_window(NOW + timedelta(hours=1))] = 1  # the next hour's only mail is taken
    members.calls.clear()
    # A member's repeat and a new address, both over the cap: the same calls, both queued
    assert submit(now=NOW + timedelta(hours=1), members=members, outbox=outbox, later=later, policy=capped) == "deferred"
    member_calls = list(members.calls)
    members.calls.clear()
    assert submit(request(email="new@example.com"), now=NOW + timedelta(hours=1), members=members, outbox=outbox,
                  digest="cd" * 32, later=later, policy=capped) == "deferred"
    assert member_calls == members.calls == ["is_member", "hold", "take_mail_slot"]
    assert send_deferred(later.messages[0][0], NOW + timedelta(hours=2), capped, SIGNER, members, outbox,
                         later) == "member_noted"
    assert outbox.sent[-1][:2] == ("ada@example.com", "You are already in our talent community")


def test_a_failed_send_is_queued_for_a_retry_and_a_failed_queue_releases_the_limits():
    members, outbox, later = MemoryMembers(), Outbox(), MemoryMailQueue()
    outbox.fail = True
    assert submit(members=members, outbox=outbox, later=later) == "retry_queued"
    assert later.messages[0][1] == POLICY.retry_delay_seconds
    # The queue's retry fails too: the mark is cleared for the next delivery, and the error tells SQS to retry
    with pytest.raises(ConnectionError):
        send_deferred(later.messages[0][0], NOW + timedelta(minutes=1), POLICY, SIGNER, members, outbox, later)
    outbox.fail = False
    assert send_deferred(later.messages[0][0], NOW + timedelta(minutes=2), POLICY, SIGNER, members, outbox,
                         later) == "mailed"
    # Neither sent nor queued: the mailbox is not held, so the person's next try mails
    members2, later.fail, outbox.fail = MemoryMembers(), True, True
    assert submit(members=members2, outbox=outbox, later=later) == "mail_failed"
    outbox.fail = False
    assert submit(now=NOW + timedelta(minutes=1), members=members2, outbox=outbox, later=later) == "mailed"


def test_a_failed_mail_does_not_hold_the_rate_limit():
    members, outbox = MemoryMembers(), Outbox()
    outbox.fail = True
    assert submit(members=members, outbox=outbox) == "mail_failed"
    outbox.fail = False
    assert submit(now=NOW + timedelta(minutes=1), members=members, outbox=outbox) == "mailed"


def test_confirmation_counts_the_touches_captured_at_submission_credited_at_confirmation():
    source, members, outbox = MemoryTouchSource(), MemoryMembers(), Outbox()
    source.add(f"VISITOR#{VISITOR}", touch("a", 14, campaign="Q1", visitor_id=VISITOR))
    source.add(f"VISITOR#{VISITOR}", touch("b", 7, channel="email", campaign="Newsletter", source="crm", visitor_id=VISITOR))
    submit(request(visitor_id=VISITOR, consent_text_version="v-client"), source=source, members=members, outbox=outbox)
    assert members.members == {} and members.created == []  # nothing counted before confirmation
    source.add(f"VISITOR#{VISITOR}", touch("later", -1, visitor_id=VISITOR))  # after submission: not captured
    confirmed_at = NOW + timedelta(days=2)
    assert confirm_join(link_token(outbox), confirmed_at, POLICY, SIGNER, members)
    member, path = members.members[DIGEST]
    assert member.joined_at == confirmed_at and [t.touch_id for t in path] == ["a", "b"]
    assert path[0].credits["first_touch"] == 1 and path[0].credits["linear"] == Decimal("0.5")
    # time decay at confirmation: a is 16 days old, b 9 days old (half-life 7)
    weight_a, weight_b = 0.5 ** (16 / 7), 0.5 ** (9 / 7)
    assert float(path[0].credits["time_decay"]) == pytest.approx(weight_a / (weight_a + weight_b), abs=1e-9)
    assert len(members.created) == 1
    # Finding 5: the consent version is the server's, not the one the client sent
    assert member.consent["text_version"] == "v3" and member.consent["confirmed_at"] == confirmed_at.isoformat()
    assert member.visitor_id == VISITOR


def test_a_link_works_once_and_not_after_seven_days_and_not_when_tampered():
    members, outbox = MemoryMembers(), Outbox()
    submit(members=members, outbox=outbox)
    token = link_token(outbox)
    digest, nonce, expires, mac = token.split(".")
    assert int(expires) == int(NOW.timestamp()) + 7 * 86400
    tampered = [f"{'cd' * 32}.{nonce}.{expires}.{mac}", f"{digest}.{nonce}.{int(expires) + 86400}.{mac}",
                f"{digest}.{nonce}.{expires}.{mac[:-1]}{'B' if mac.endswith('A') else 'A'}", token[:-1], "", "x" * 5000, SIGNER.new_click_id()]
    for bad in tampered:
        assert not confirm_join(bad, NOW + timedelta(hours=1), POLICY, SIGNER, members), bad
    assert not confirm_join(token, NOW + timedelta(days=7, seconds=1), POLICY, SIGNER, members)
    assert not confirm_join(token, NOW, POLICY, Signer("another-key"), members)
    assert confirm_join(token, NOW + timedelta(days=6), POLICY, SIGNER, members)
    assert not confirm_join(token, NOW + timedelta(days=6), POLICY, SIGNER, members)
    assert len(members.created) == 1


def test_one_click_credits_one_join():
    # A shared landing URL carries tc_vid and tc_click: the first confirmed join is credited, the second is not.
    source = MemoryTouchSource()
    source.add(f"VISITOR#{VISITOR}", touch(CLICK, 1, visitor_id=VISITOR))
    source.clicks[("tc_click", CLICK)] = [VISITOR]
    members, outbox = MemoryMembers(), Outbox()
    shared = {"visitor_id": VISITOR, "click_ids": {"tc_click": [CLICK]}}
    submit(request(**shared), source=source, members=members, outbox=outbox)
    first = link_token(outbox)
    submit(request(email="friend@example.com", **shared), source=source, members=members, outbox=outbox, digest="cd" * 32)
    second = link_token(outbox)
    assert confirm_join(second, NOW, POLICY, SIGNER, members)
    assert confirm_join(first, NOW, POLICY, SIGNER, members)
    assert [t.touch_id for t in members.members["cd" * 32][1]] == [CLICK]
    (only,) = members.members[DIGEST][1]
    assert (only.channel, only.origin) == ("direct", "join")
    assert members.claimed == {CLICK: members.members["cd" * 32][0].member_id}


def test_one_invitation_credits_one_join():
    # Issue 13: unlike tc_click, an invitation token was never claimed: one token credited any number of joins.
    invitation = Touch(touch_id="inv-c1-ab", occurred_at=NOW - timedelta(days=2), origin="invite", channel="email",
                       campaign="Alumni", source="invitation", medium="email", link_code="inv01")
    source, members, outbox = MemoryTouchSource(), MemoryMembers(), Outbox()
    source.invites["token-1234567890abcdef"] = invitation
    tokens = []
    for index, email in enumerate(("ada@example.com", "forwarded@example.com", "again@example.com")):
        submit(request(email=email, invite_token="token-1234567890abcdef"), source=source, members=members,
               outbox=outbox, digest=f"{index:02d}" * 32)
        tokens.append(link_token(outbox))
    # When all three confirm (the invitee, someone it was forwarded to, a replay)
    assert all(confirm_join(token, NOW, POLICY, SIGNER, members) for token in tokens)
    # Then the first confirmed is credited with the invitation, the others with their own landing only
    paths = [members.members[f"{index:02d}" * 32][1] for index in range(3)]
    assert [[t.origin for t in path] for path in paths] == [["invite"], ["join"], ["join"]]
    assert members.invites_claimed == {"inv-c1-ab": members.members["00" * 32][0].member_id}


def test_an_invitation_stood_for_by_its_click_is_claimed_too():
    # The click on the invitation's link stands for it (one touch): the token is still used up by that join
    invitation = Touch(touch_id="inv-c1-cd", occurred_at=NOW - timedelta(days=2), origin="invite", channel="email",
                       campaign="Alumni", source="invitation", medium="email", link_code="inv01")
    source, members, outbox = MemoryTouchSource(), MemoryMembers(), Outbox()
    source.invites["token-abcdef1234567890"] = invitation
    source.add(f"VISITOR#{VISITOR}", touch("t-click", 1, channel="email", campaign="Alumni", source="invitation",
                                           link_code="inv01", visitor_id=VISITOR))
    submit(request(visitor_id=VISITOR, invite_token="token-abcdef1234567890"), source=source, members=members,
           outbox=outbox)
    clicked = link_token(outbox)
    submit(request(email="other@example.com", invite_token="token-abcdef1234567890"), source=source, members=members,
           outbox=outbox, digest="ef" * 32)
    replayed = link_token(outbox)
    assert confirm_join(clicked, NOW, POLICY, SIGNER, members) and confirm_join(replayed, NOW, POLICY, SIGNER, members)
    assert [t.touch_id for t in members.members[DIGEST][1]] == ["t-click"]
    assert [t.origin for t in members.members["ef" * 32][1]] == ["join"]


def test_touchless_join_is_attributed_from_its_own_campaign_parameters():
    members, outbox = MemoryMembers(), Outbox()
    submit(request(utm_source="google", utm_medium="cpc", utm_campaign="Brand"), members=members, outbox=outbox)
    assert confirm_join(link_token(outbox), NOW, POLICY, SIGNER, members)
    (only,) = members.members[DIGEST][1]
    assert (only.channel, only.source, only.campaign, only.origin) == ("paid_search", "google", "Brand", "join")
    assert set(only.credits.values()) == {Decimal(1)}


def test_join_click_ids_are_bounded_in_bytes_like_the_redirects():
    # 512 emoji are 512 characters but 2,048 bytes: more than a DynamoDB key may hold
    from pydantic import ValidationError

    base = {"email": "bytes@example.com", "name": "B", "consent": True}
    with pytest.raises(ValidationError) as error:
        JoinRequest.model_validate({**base, "gclid": "😀" * 512})
    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(("gclid",), "string_too_long")]
    assert JoinRequest.model_validate({**base, "gclid": "😀" * 128}).gclid == "😀" * 128  # exactly 512 bytes


class Queue:
    def __init__(self):
        self.sent: list[dict] = []

    def send(self, message: dict) -> None:
        self.sent.append(message)


@pytest.mark.parametrize("ads_consent", [True, False])
def test_the_form_s_browser_is_kept_with_the_ads_consent_only_and_reaches_the_conversion(ads_consent):
    members, outbox, queue = MemoryMembers(), Outbox(), Queue()
    browser = {"client_user_agent": "Mozilla/5.0 (X11)", "event_source_url": "https://careers.example.com/join"}
    assert submit_join(request(ads_consent=ads_consent, fbclid="IwAR-1"), DIGEST, NOW, POLICY, SIGNER, BASE,
                       MemoryTouchSource(), members, outbox, browser,
                       requester=requester("ada@example.com", "198.51.100.7", "pepper")) == "mailed"
    assert members.pendings[DIGEST].browser == (browser if ads_consent else {})
    assert confirm_join(link_token(outbox), NOW + timedelta(hours=1), POLICY, SIGNER, members, queue)
    assert [{k: m[k] for k in browser} for m in queue.sent] == ([browser] if ads_consent else [])


def test_a_join_through_an_invitation_takes_what_its_form_left_out_from_the_record():
    # Issue 14: data from invitations counts for scoring: the employer's record gave skills and a location
    invitation = Touch(touch_id="inv-c9-ab", occurred_at=NOW - timedelta(days=1), origin="invite", channel="email",
                       campaign="Alumni", source="invitation", medium="email", link_code="inv09")
    source, members, outbox = MemoryTouchSource(), MemoryMembers(), Outbox()
    source.invites["token-invited0000000000"] = invitation
    source.invited["token-invited0000000000"] = (["Python", "SQL"], "Berlin")
    # When the form sends no skills, only a location
    submit(request(email="ada@example.com", invite_token="token-invited0000000000", location="Potsdam"),
           source=source, members=members, outbox=outbox, digest="0a" * 32)
    submit(request(email="bo@example.com"), source=source, members=members, outbox=outbox, digest="0b" * 32)
    # Then the pending join keeps the form's location and the record's skills; a join without invitation gets none
    assert (members.pendings["0a" * 32].skills, members.pendings["0a" * 32].location) == (
        ["Python", "SQL"], "Potsdam")
    assert (members.pendings["0b" * 32].skills, members.pendings["0b" * 32].location) == ([], None)
