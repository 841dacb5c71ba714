"""The claim state machine with in-memory fakes: at most once whatever fails where."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from attract.invites.models import Cooldown, CooldownHold, InvitationJob
from attract.invites.sending import (
    NotSent,
    SendPolicy,
    TokenBucket,
    invite_token,
    open_unsubscribe_token,
    send_invitation,
    unsubscribe_token,
)
from attract.signing import Signer
from tests.support import EVENTS

NOW = datetime(2026, 11, 26, 8, tzinfo=timezone.utc)
POLICY = SendPolicy(public_base_url="https://go.acme.example", cooldown_days=30, invite_token_days=60)
SIGNER = Signer("k" * 32)
HASH = "a" * 64


class MemoryInvites:
    def __init__(self):
        self.claims: dict[tuple[str, str], str] = {}
        self.suppressed: set[str] = set()
        self.cooldowns: dict[str, tuple[datetime, str]] = {}
        self.touches: dict[str, dict] = {}
        self.counts: dict[str, int] = {}
        self.stamped: list[tuple[str, datetime]] = []  # (outcome, at): what the progress rate is measured from
        self.marks: set[tuple[str, str, str]] = set()  # (campaign, run, person): outcomes counted once

    def is_suppressed(self, email_hash):
        return email_hash in self.suppressed

    def claim(self, campaign_id, email_hash, run_id, now):
        key = (campaign_id, email_hash)
        if key in self.claims:
            return self.claims[key].lower()  # "sending" or "sent"
        self.claims[key] = "SENDING"
        return "claimed"

    def release(self, campaign_id, email_hash):
        if self.claims.get((campaign_id, email_hash)) == "SENDING":
            del self.claims[(campaign_id, email_hash)]

    def mark_sent(self, campaign_id, email_hash, message_id, now, campaign_name=None):
        self.claims[(campaign_id, email_hash)] = "SENT"

    def hold_cooldown(self, email_hash, campaign_id, now, days):
        held = self.cooldowns.get(email_hash)
        if held and held[0] > now - timedelta(days=days) and held[1] != campaign_id:
            return None
        self.cooldowns[email_hash] = (now, campaign_id)
        return CooldownHold(previous=Cooldown(int(held[0].timestamp()), held[1]) if held else None)

    def release_cooldown(self, email_hash, campaign_id, now, previous):
        if self.cooldowns.get(email_hash) != (now, campaign_id):
            return  # taken by someone else since
        if previous is None:
            del self.cooldowns[email_hash]
        else:
            self.cooldowns[email_hash] = (datetime.fromtimestamp(previous.invited_at, timezone.utc), previous.campaign_id)

    def put_invite_touch(self, token, job, email_hash, now, expires_at):
        self.touches[token] = {"campaign": job.campaign_name, "channel": "email"}

    def count_once(self, campaign_id, run_id, email_hash, name, at):
        if (campaign_id, run_id, email_hash) in self.marks:
            return False
        self.marks.add((campaign_id, run_id, email_hash))
        self.count(campaign_id, run_id, name, at=at)
        return True

    def count(self, campaign_id, run_id, name, value=1, at=None):
        self.counts[name] = self.counts.get(name, 0) + value
        if at is not None:
            self.stamped.append((name, at))


class Mailer:
    def __init__(self, fail: list[BaseException] | None = None):
        self.sent: list[bytes] = []
        self.fail = fail or []

    def send_raw(self, raw, tags):
        if self.fail:
            error = self.fail.pop(0)
            if isinstance(error, NotSent):
                raise error
            self.sent.append(raw)  # SES accepted it, then the function failed
            raise error
        self.sent.append(raw)
        return f"ses-{len(self.sent)}"


def _job(campaign="alumni") -> InvitationJob:
    body = json.loads((EVENTS / "invites" / "job.json").read_text())
    return InvitationJob.model_validate({**body, "campaign_id": campaign})


def _send(store, mailer, job=None, now=NOW):
    return send_invitation(job or _job(), "ada@example.com", HASH, now, POLICY, SIGNER, store, mailer,
                           TokenBucket(1000, clock=lambda: 0.0, sleep=lambda s: None))


def test_sent_once_then_duplicates_send_nothing():
    store, mailer = MemoryInvites(), Mailer()
    assert [_send(store, mailer) for _ in range(3)] == ["sent", "duplicate", "duplicate"]
    assert len(mailer.sent) == 1 and store.counts == {"sent": 1, "duplicate": 2}


def test_a_rejection_before_the_send_releases_the_claim_and_the_retry_sends_once():
    store, mailer = MemoryInvites(), Mailer(fail=[NotSent("TooManyRequestsException")])
    with pytest.raises(NotSent):
        _send(store, mailer)
    assert store.claims == {}
    assert _send(store, mailer) == "sent" and len(mailer.sent) == 1


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "SendingPausedException",
                                  "AccountSuspendedException", "TooManyRequestsException"])
def test_a_send_ses_refuses_takes_nobodys_cooldown_and_gives_back_the_one_it_replaced(code):
    # Given a person another campaign invited 40 days ago (its cooldown of 30 days is over, its item still there)
    store = MemoryInvites()
    store.cooldowns[HASH] = (NOW - timedelta(days=40), "older")
    # When SES refuses campaign "first"'s invitation
    with pytest.raises(NotSent):
        _send(store, Mailer(fail=[NotSent(code)]), _job("first"))
    # Then neither the claim nor the cooldown is taken: the person's cooldown is the one before, as it was
    assert store.claims == {} and store.cooldowns == {HASH: (NOW - timedelta(days=40), "older")}
    # And another campaign invites them right away (it would have waited 30 days for an invitation never sent)
    mailer = Mailer()
    assert _send(store, mailer, _job("second")) == "sent" and len(mailer.sent) == 1
    assert store.cooldowns[HASH] == (NOW, "second")


def test_a_refused_first_invitation_leaves_no_cooldown_at_all():
    store = MemoryInvites()
    with pytest.raises(NotSent):
        _send(store, Mailer(fail=[NotSent("MessageRejected")]), _job("first"))
    assert store.cooldowns == {} and store.claims == {}


def test_a_failure_building_the_message_gives_the_claim_and_the_cooldown_back():
    store = MemoryInvites()
    job = _job("first")
    job.sender.from_ = "not an address"  # no From header can carry it
    with pytest.raises(ValueError):
        _send(store, Mailer(), job)
    assert store.cooldowns == {} and store.claims == {}


def test_an_unknown_failure_after_the_request_keeps_the_claim_and_is_reconciled_not_resent():
    store, mailer = MemoryInvites(), Mailer(fail=[TimeoutError("read timeout")])
    with pytest.raises(TimeoutError):
        _send(store, mailer)
    assert store.claims == {("alumni", HASH): "SENDING"}
    assert store.cooldowns == {HASH: (NOW, "alumni")}  # SES may have sent it: the cooldown stays taken
    assert _send(store, mailer) == "reconcile" and _send(store, mailer) == "reconcile"
    assert len(mailer.sent) == 1 and store.counts == {"reconcile": 1}  # one job: counted once however often it comes


def test_suppressed_and_cooldown_people_are_skipped_and_a_cooldown_skip_leaves_no_claim():
    store, mailer = MemoryInvites(), Mailer()
    store.suppressed.add(HASH)
    assert _send(store, mailer) == "suppressed"
    store.suppressed.clear()
    assert _send(store, mailer, _job("first")) == "sent"
    assert _send(store, mailer, _job("second"), NOW + timedelta(days=29)) == "cooldown"
    assert ("second", HASH) not in store.claims
    assert _send(store, mailer, _job("second"), NOW + timedelta(days=31)) == "sent"
    assert len(mailer.sent) == 2


def test_the_invite_touch_is_written_before_the_send_and_tokens_verify_only_for_their_purpose():
    store, mailer = MemoryInvites(), Mailer()
    _send(store, mailer)
    (token,) = store.touches
    assert token.encode() in mailer.sent[0].replace(b"=\r\n", b"")
    assert SIGNER.open("invite", token, int(NOW.timestamp()), 2) == ["alumni", HASH[:32]]
    assert SIGNER.open("invite", token[:-1] + "x", int(NOW.timestamp()), 2) is None
    assert SIGNER.open("invite", token, int((NOW + timedelta(days=61)).timestamp()), 2) is None  # expired
    assert open_unsubscribe_token(SIGNER, token, NOW) is None  # an invite token never unsubscribes
    unsubscribe = unsubscribe_token(SIGNER, "alumni", HASH, NOW)
    assert open_unsubscribe_token(SIGNER, unsubscribe, NOW + timedelta(days=3000)) == (HASH, "alumni")
    assert open_unsubscribe_token(Signer("other" * 8), unsubscribe, NOW) is None
    assert invite_token(SIGNER, _job(), HASH, 1) != token


def test_token_bucket_waits_for_the_rate():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.take()
    assert sum(slept) == pytest.approx(2.0)  # the first from the initial token, each of the 4 others 0.5 s


def test_every_outcome_but_a_duplicate_is_stamped_for_the_progress_rate():
    # A sent job, its redelivery (a duplicate: counted, not stamped), a suppressed person an hour later
    store, mailer = MemoryInvites(), Mailer()
    assert _send(store, mailer) == "sent" and _send(store, mailer, now=NOW + timedelta(minutes=1)) == "duplicate"
    store.suppressed.add("b" * 64)
    assert send_invitation(_job(), "bob@example.com", "b" * 64, NOW + timedelta(hours=1), POLICY, SIGNER, store,
                           mailer, TokenBucket(1000, clock=lambda: 0.0, sleep=lambda s: None)) == "suppressed"
    assert store.stamped == [("sent", NOW), ("skipped_suppressed", NOW + timedelta(hours=1))]
    assert store.counts == {"sent": 1, "duplicate": 1, "skipped_suppressed": 1}


def test_a_skip_delivered_again_is_counted_once_and_another_run_counts_its_own():
    store, mailer = MemoryInvites(), Mailer()
    store.suppressed.add(HASH)
    assert [_send(store, mailer) for _ in range(3)] == ["suppressed"] * 3
    assert _send(store, mailer, _job().model_copy(update={"run_id": "run-2"})) == "suppressed"
    assert store.counts == {"skipped_suppressed": 2} and len(store.stamped) == 2 and mailer.sent == []
