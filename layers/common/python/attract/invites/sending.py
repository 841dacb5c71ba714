"""Sending one invitation at most once (docs/decisions.md, "Invitations sent at most once").

Powertools idempotency is not enough: if the function dies after SES accepted the message but before
the COMPLETED record, the in-progress record expires and a redelivery sends again. So a claim:
1. a conditional put of (campaign, recipient) as SENDING, never taken over on a timer;
2. send;
3. mark SENT with SES's MessageId;
4. release the claim only when the send failed in a way known to happen before SES accepted anything
   (`NotSent`, raised by the provider). Any other failure leaves SENDING: the redelivery finds it,
   sends nothing and is counted for reconciliation.
The suppression list and the per-person cooldown are re-checked here: planning was hours ago. The
cooldown is taken with the claim (so two campaigns cannot both invite someone) and given back as it was
whenever the claim is released: a message SES refused invited nobody, and must not keep other campaigns
away from the person for `cooldown_days`.
Each job's outcome advances the run's progress once however often its message comes: `sent` is counted once
because only the claim's holder counts it; the outcomes no claim guards (skipped at send time, reconcile)
with an outcome mark (`count_once`); a `duplicate` adds to its own counter only.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from attract.invites.messages import compose, mime
from attract.invites.models import Cooldown, CooldownHold, InvitationJob
from attract.invites.ports import RunStore
from attract.invites.tokens import (  # noqa: F401 - re-exported: callers imported them from here before
    INVITE,
    UNSUBSCRIBE,
    UNSUBSCRIBE_TOKEN_DAYS,
    invite_token,
    open_unsubscribe_token,
    recipient_key,
    unsubscribe_token,
)
from attract.people.forget_link import forget_url
from attract.signing import Signer

Outcome = Literal["sent", "duplicate", "reconcile", "suppressed", "cooldown"]
Claim = Literal["claimed", "sent", "sending"]


class NotSent(Exception):
    """The send failed before SES accepted the message (rejected, throttled, never connected): safe to retry."""


class InviteStore(Protocol):
    def is_suppressed(self, email_hash: str) -> bool: ...
    def claim(self, campaign_id: str, email_hash: str, run_id: str, now: datetime) -> Claim: ...
    def release(self, campaign_id: str, email_hash: str) -> None: ...
    def mark_sent(self, campaign_id: str, email_hash: str, message_id: str, now: datetime,
                  campaign_name: str | None = None) -> None: ...
    def hold_cooldown(self, email_hash: str, campaign_id: str, now: datetime, days: int) -> CooldownHold | None:
        """Take the cooldown for this campaign; None while another campaign holds it."""
        ...

    def release_cooldown(self, email_hash: str, campaign_id: str, now: datetime, previous: Cooldown | None) -> None:
        """Put back `previous` if the cooldown is still the one this campaign took at `now`."""
        ...

    def put_invite_touch(self, token: str, job: InvitationJob, email_hash: str, now: datetime, expires_at: int) -> None: ...
    def count(self, campaign_id: str, run_id: str, name: str, value: int = 1, at: datetime | None = None) -> None:
        """ADD to the run's counter; `at` for an outcome that advances the run's progress (stamps its rate)."""
        ...

    def count_once(self, campaign_id: str, run_id: str, email_hash: str, name: str, at: datetime) -> bool:
        """`count` with `at`, once per job (run, person) however often its message is delivered."""
        ...


class RawMailer(Protocol):
    def send_raw(self, raw: bytes, tags: dict[str, str]) -> str:
        """SES's MessageId; NotSent when SES certainly did not accept the message."""
        ...


class TokenBucket:
    """At most `rate` sends per second per warm function (SES's account rate is shared by all of them)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate, self._clock, self._sleep = rate, clock, sleep
        self._tokens, self._at = 1.0, clock()

    def take(self) -> None:
        now = self._clock()
        self._tokens = min(max(self.rate, 1.0), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            self._sleep((1 - self._tokens) / self.rate)
            self._tokens, self._at = 1.0, self._clock()
        self._tokens -= 1


@dataclass(frozen=True)
class SendPolicy:
    public_base_url: str
    cooldown_days: int
    invite_token_days: int


def send_invitation(job: InvitationJob, email: str, email_hash: str, now: datetime, policy: SendPolicy,
                    signer: Signer, store: InviteStore, mailer: RawMailer, bucket: TokenBucket) -> Outcome:
    """Send `job` to `email` (normalised) unless it was sent, is being sent, or must not be."""
    campaign, run = job.campaign_id, job.run_id
    if store.is_suppressed(email_hash):
        store.count_once(campaign, run, email_hash, "skipped_suppressed", now)
        return "suppressed"
    claim = store.claim(campaign, email_hash, run, now)
    if claim == "sent":
        # An outcome too (the run is done once every job has one), but not progress: no `at`, it was counted sent.
        store.count(campaign, run, "duplicate")
        return "duplicate"  # the producer's duplicate, or a redelivery after a completed send
    if claim == "sending":
        # A previous attempt died between claiming and marking: SES may have sent it. Never resend.
        store.count_once(campaign, run, email_hash, "reconcile", now)
        return "reconcile"
    hold = store.hold_cooldown(email_hash, campaign, now, policy.cooldown_days)
    if hold is None:
        store.release(campaign, email_hash)  # not invited by this campaign: a later run may
        store.count_once(campaign, run, email_hash, "skipped_cooldown", now)
        return "cooldown"
    try:
        expires_at = int(now.timestamp()) + policy.invite_token_days * 86400
        token = invite_token(signer, job, email_hash, expires_at)
        # The join credits the invitation through this item (attract.tracking.repository.invite_touch).
        store.put_invite_touch(token, job, email_hash, now, expires_at)
        raw = mime(letter(job, email, email_hash, token, now, policy, signer))
        bucket.take()
    except Exception:
        _give_back(store, campaign, email_hash, now, hold)  # nothing reached SES
        raise
    try:
        message_id = mailer.send_raw(raw, {"campaign_id": campaign, "run_id": run})
    except NotSent:
        _give_back(store, campaign, email_hash, now, hold)  # SES refused it: nobody was invited
        raise
    store.mark_sent(campaign, email_hash, message_id, now, campaign_name=job.campaign_name)
    store.count(campaign, run, "sent", at=now)
    return "sent"


def _give_back(store: InviteStore, campaign_id: str, email_hash: str, now: datetime, hold: CooldownHold) -> None:
    """Release the claim, then the cooldown. In that order: dying in between leaves this campaign's own cooldown,
    which its retry takes again (the same campaign passes), never a SENDING claim nobody would resend."""
    store.release(campaign_id, email_hash)
    store.release_cooldown(email_hash, campaign_id, now, hold.previous)


def send_and_settle(job: InvitationJob, email: str, email_hash: str, now: datetime, policy: SendPolicy,
                    signer: Signer, store: InviteStore, mailer: RawMailer, bucket: TokenBucket, runs: RunStore,
                    last_attempt: bool) -> Outcome:
    """send_invitation, then let the run settle (sending -> done once every planned job has an outcome).

    A job failing on its last receive goes to the dead-letter queue next: it is counted `failed`, an
    outcome like the others, so the run still gets done.
    """
    try:
        outcome = send_invitation(job, email, email_hash, now, policy, signer, store, mailer, bucket)
    except Exception:
        if last_attempt:
            store.count(job.campaign_id, job.run_id, "failed", at=now)
            runs.settle(job.campaign_id, job.run_id, now)
        raise
    runs.settle(job.campaign_id, job.run_id, now)
    return outcome


def letter(job: InvitationJob, email: str, email_hash: str, token: str, now: datetime, policy: SendPolicy,
           signer: Signer):
    base = policy.public_base_url.rstrip("/")
    person = job.recipient
    fields = {"first_name": person.first_name, "last_name": person.last_name, "location": person.location,
              "skills": person.skills}
    return compose(
        fields, job.templates.subject, job.templates.text, job.templates.html, job.sender.from_,
        job.sender.reply_to, email, job.sender.postal_address,
        invite_url=f"{base}/r/{job.link_code}?tc_inv={token}",
        unsubscribe_url=f"{base}/u/{unsubscribe_token(signer, job.campaign_id, email_hash, now)}",
        message_key=f"{job.campaign_id}/{recipient_key(email_hash)}",
        forget_url=forget_url(signer, base, email_hash, now))
