"""A join in two steps (double opt-in, docs/security.md).

1. `submit_join` (POST /joins): capture the touches reachable now, hold them in a pending item and mail
   a signed confirmation link, within the mail limits (attract.joins.limits): one an hour per mailbox, a
   few an hour per source network, and above the account's hourly cap the mail waits in a queue
   (`send_deferred` sends it later). Nothing is counted; the answer is the same whoever the email
   belongs to and whichever limit applied.
2. `confirm_join` (POST /joins/confirm/{token}): in one transaction create the member and its
   attribution, consume the pending item, claim the clicks (and the invitation) credited and add to the
   aggregates.
"""

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from attract.attribution.channels import group_channel
from attract.joins.limits import Requester, hour_window, seconds_to_next_window, window_end
from attract.joins.models import CreditedTouch, JoinRequest, Member, PendingJoin
from attract.signing import Signer
from attract.tracking.logic import clean_referrer
from attract.tracking.models import Touch
from attract.tracking.records import email_subject, visitor_subject

MAX_PATH = 20  # the latest touches of a long path: keeps one join's aggregate update under DynamoDB's 4 KB expression limit
MAX_SIGNED_CLICKS = 5  # tc_click lookups per join (finding 5: was 7 kinds x 20 = 140 queries)
MAX_VISITORS_PER_JOIN = 5
CLOCK_SKEW = timedelta(minutes=5)
TOKEN_PURPOSE = "join-confirm"

# What a submission did (the caller answers the same 202 for each): mailed (a link, or a member's note);
# rate_limited (this mailbox had its mail this hour), source_limited (this network had its mails this hour),
# busy (racing submissions of one source kept conflicting): nothing written, nothing sent; deferred (the
# account's hourly cap: held, its mail queued for a later hour), retry_queued (the send failed: queued);
# mail_failed (not sent and not queued: the limits released, so a retry may mail).
Submitted = Literal["mailed", "member_noted", "rate_limited", "source_limited", "busy", "deferred", "retry_queued",
                    "mail_failed"]
Held = Literal["held", "rate_limited", "source_limited", "busy"]
Delivered = Literal["mailed", "member_noted", "deferred", "gone", "sent_already"]
DEFERRED_MAIL_VERSION = 1


class TouchSource(Protocol):
    def touches_of(self, subject: str, since: datetime | None = None) -> list[Touch]: ...
    def visitors_by_click(self, kind: str, value: str, limit: int = 10) -> list[str]: ...
    def invite_touch(self, token: str) -> Touch | None: ...
    def invited_facts(self, token: str) -> tuple[list[str], str | None]: ...


class LinkUsedError(Exception):
    """The pending join is gone (confirmed, replaced by a newer email, expired) or the email already joined."""


class ClickClaimedError(Exception):
    """Some tc_click values of this join (or its invitation) were already credited to another join."""

    def __init__(self, clicks: list[str], invite: bool = False):
        super().__init__(f"{len(clicks)} click(s){' and the invitation' if invite else ''} already claimed")
        self.clicks = clicks
        self.invite = invite


class MemberStore(Protocol):
    table: str

    def is_member(self, email_hash: str) -> bool: ...
    def hold(self, pending: PendingJoin, mailed_before: int, requester: Requester, window: str, source_limit: int,
             window_expires_at: int) -> Held:
        """The pending join, its mailbox's mark and one of its source's mails of `window`, all or nothing:
        "held", "rate_limited", "source_limited" or "busy"."""
        ...

    def take_mail_slot(self, window: str, cap: int, window_expires_at: int) -> bool:
        """One of the account's `cap` confirmation mails of `window`."""
        ...

    def release(self, email_hash: str, nonce: str, mailbox: str | None = None) -> None: ...
    def release_mailbox(self, mailbox: str, nonce: str) -> None: ...
    def pending(self, email_hash: str) -> PendingJoin | None: ...
    def confirm(self, member: Member, path: list[CreditedTouch], nonce: str, claims: list[str],
                untrusted_ids: dict, invite: str | None = None) -> None:
        """Member, attribution, claims (the tc_click values and the invitation) and the join's aggregates in
        one transaction."""
        ...


class DeferredMailStore(MemberStore, Protocol):
    def claim_send(self, email_hash: str, nonce: str, sent_at: int) -> bool:
        """Mark the submission's deferred mail as going out, once (False: it went out already)."""
        ...

    def unclaim_send(self, email_hash: str, nonce: str) -> None: ...
    def member_email(self, email_hash: str) -> str | None: ...


class MailSender(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class MailQueue(Protocol):
    def defer(self, message: dict, delay_seconds: int) -> None:
        """Queue a confirmation mail for later (`send_deferred`); raises when it could not be queued."""
        ...


class ConversionQueue(Protocol):
    def send(self, message: dict) -> None:
        """Enqueue a confirmed join for the ad platforms (attract.joins.feedback). Never raises: a failure
        is logged and counted by the adapter, and the join stands."""
        ...


class ScoringNotice(Protocol):
    def member_joined(self, email_hash: str) -> None:
        """Queue the new member for scoring against the target profiles. Never raises: a failure is logged and
        counted by the adapter, and the join stands (the member's index entry is written: a re-score finds them)."""
        ...


@dataclass(frozen=True)
class JoinPolicy:
    lookback_days: int = 30
    half_life_days: float = 7
    consent_text_version: str = "v1"
    aggregate_shards: int = 4
    confirm_days: int = 7
    mail_interval: timedelta = timedelta(hours=1)  # per mailbox (attract.identity.mailbox_key)
    mails_per_source_hour: int = 30  # per client network (IPv4 address, IPv6 /64), clock hour
    mails_per_hour: int = 500  # account-wide, clock hour: above it mails wait in the queue
    retry_delay_seconds: int = 60  # a failed send tries again from the queue after this


@dataclass(frozen=True)
class Captured:
    touches: list[Touch]
    claims: dict[str, str]
    visitor_id: str | None
    untrusted_ids: dict
    invite: str | None = None  # the invitation's touch id, claimed at confirmation (one join per invitation)


def gather_touches(request: JoinRequest, email_digest: str, now: datetime, lookback_days: int,
                   source: TouchSource, signer: Signer) -> Captured:
    """Touches reachable from ids the redirect signed, the email and the invite token; deduplicated, in the window.

    An id that does not verify is recorded in `untrusted_ids` and credits nothing: a forged or copied
    visitor id must not pull in someone else's path. Ad click ids are never looked up (anyone can read
    them in a URL); they describe the landing touch only.
    """
    since = now - timedelta(days=lookback_days)
    visitors: list[str] = []
    untrusted: dict = {}
    trusted_visitor = request.visitor_id if signer.is_visitor_id(request.visitor_id) else None
    if trusted_visitor:
        visitors.append(trusted_visitor)
    elif request.visitor_id:
        untrusted["visitor_id"] = request.visitor_id
    clicks = request.click_ids.get("tc_click", [])
    signed = [click for click in clicks if signer.is_click_id(click)]
    if len(signed) != len(clicks):
        untrusted["tc_click"] = [click for click in clicks if click not in signed]
    claims: dict[str, str] = {}
    for click in signed[-MAX_SIGNED_CLICKS:]:  # the latest clicks: the snippet appends
        for visitor in source.visitors_by_click("tc_click", click, limit=1):
            claims[click] = visitor
            if visitor not in visitors:
                visitors.append(visitor)
    found: dict[str, Touch] = {}
    for visitor in visitors[:MAX_VISITORS_PER_JOIN]:
        for touch in source.touches_of(visitor_subject(visitor), since):
            found.setdefault(touch.touch_id, touch)
    for touch in source.touches_of(email_subject(email_digest), since):
        found.setdefault(touch.touch_id, touch)
    invite = source.invite_touch(request.invite_token) if request.invite_token else None
    # An invitation and the click on its link are one touch: the click (it says when) stands for it.
    clicked = invite is not None and any(
        t.link_code == invite.link_code and t.origin != "invite" and t.occurred_at >= invite.occurred_at
        for t in found.values())
    if invite is not None and not clicked:
        found.setdefault(invite.touch_id, invite)
    in_window = [t for t in found.values() if since <= t.occurred_at <= now + CLOCK_SKEW]
    in_window.sort(key=lambda t: (t.occurred_at, t.touch_id))
    path = in_window[-MAX_PATH:]
    credited_visitors = {t.visitor_id for t in path}
    # The invitation is claimed whether its own touch or the click on its link stands for it: either way the
    # token credited this join, and must credit no other (issue 13: one token credited any number of joins).
    credited_invite = invite is not None and (clicked or any(t.touch_id == invite.touch_id for t in path))
    return Captured(path, {c: v for c, v in claims.items() if v in credited_visitors}, trusted_visitor, untrusted,
                    invite.touch_id if credited_invite and invite is not None else None)


def landing_touch(request: JoinRequest, joined_at: datetime) -> Touch:
    """The one touch of a join nobody tracked before: its own utm_*, click ids and referrer, grouped."""
    utm = request.utm()
    first_ids = {kind: values[0] for kind, values in request.all_click_ids().items() if values}
    referrer = clean_referrer(request.referrer)
    channel, source, medium = group_channel(utm, dict(first_ids), referrer)
    return Touch(
        touch_id="j" + uuid.uuid4().hex, occurred_at=joined_at, origin="join", channel=channel,
        campaign=utm.get("utm_campaign") or "(none)", source=source, medium=medium,
        content=utm.get("utm_content"), term=utm.get("utm_term"),
        click_ids={k: v for k, v in first_ids.items() if k != "tc_click"}, utm=utm, referrer=referrer,
    )


def confirm_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/joins/confirm/{token}"


# Mail texts hold no caller input (not even the name): a join form must not be a way to send
# arbitrary text to someone else's inbox from the employer's address.
CONFIRM_SUBJECT = "Confirm you want to join our talent community"
CONFIRM_TEXT = (
    "Someone, hopefully you, asked to join our talent community with this email address.\n\n"
    "To confirm, open this link and press the button (it works for {days} days, once):\n{link}\n\n"
    "If it was not you, ignore this email: nothing is stored about you unless you confirm.\n"
)
MEMBER_SUBJECT = "You are already in our talent community"
MEMBER_TEXT = (
    "Someone, hopefully you, asked to join our talent community with this email address.\n\n"
    "You are already a member, so there is nothing to do. If it was not you, ignore this email.\n"
)
FORGET_FOOTER = "\n--\nTo have us delete what we hold about this address, open this link and press the button:\n{link}\n"


def submit_join(request: JoinRequest, email_digest: str, now: datetime, policy: JoinPolicy, signer: Signer,
                base_url: str, touches: TouchSource, members: MemberStore, mail: MailSender,
                browser: dict[str, str] | None = None, *, requester: Requester,
                later: MailQueue | None = None) -> Submitted:
    """Hold the join and mail its confirmation (or a member's note), within the mail limits.

    Every email does the same reads and writes whether it is new, pending or a member's (a member's mail is
    a note instead of a link), so neither the answer nor its work tells them apart (the caller always
    answers 202). A limit that refuses writes nothing and sends nothing; above the account's hourly cap the
    join is held and its mail queued on `later` for a later hour. `browser` (feedback.browser_context of the
    request) is kept only with the ads consent.
    """
    member = members.is_member(email_digest)
    captured = gather_touches(request, email_digest, now, policy.lookback_days, touches, signer)
    stamp = int(now.timestamp())
    expires_at = stamp + policy.confirm_days * 86400
    nonce = secrets.token_urlsafe(16)
    pending = PendingJoin(email_hash=email_digest, nonce=nonce, submitted_at=now, mailed_at=stamp, expires_at=expires_at,
                          member=member, mailbox=requester.mailbox)
    skills, location = request.skills, request.location
    if captured.invite and request.invite_token and (not skills or not location):
        # The invitation's record (the employer's database row) fills what the form left out (issue 14).
        invited_skills, invited_location = touches.invited_facts(request.invite_token)
        skills, location = skills or invited_skills, location or invited_location
    if not member:
        pending = pending.model_copy(update={
            "email": request.email, "name": request.name, "skills": skills, "location": location,
            # The version the server shows: the client's consent_text_version is ignored (finding 5).
            "consent_text_version": policy.consent_text_version, "ads_consent": request.ads_consent,
            # The invitation's own form, or the careers site's (attract.people.consent.CHANNELS).
            "consent_channel": "invitation" if captured.invite else "join_form",
            "visitor_id": captured.visitor_id, "touches": [t.model_dump(mode="json") for t in captured.touches],
            "landing": landing_touch(request, now).model_dump(mode="json"), "claims": captured.claims,
            "invite": captured.invite,
            "untrusted_ids": captured.untrusted_ids, "browser": dict(browser or {}) if request.ads_consent else {}})
    window, window_expires_at = hour_window(now), int(window_end(now).timestamp()) + 3600
    held = members.hold(pending, stamp - int(policy.mail_interval.total_seconds()), requester, window,
                        policy.mails_per_source_hour, window_expires_at)
    if held != "held":
        return held  # type: ignore[return-value]  # one of Submitted's refusals
    subject, text = confirmation_mail(member, email_digest, nonce, expires_at, base_url, policy, signer)
    deferred: Submitted
    if members.take_mail_slot(window, policy.mails_per_hour, window_expires_at):
        try:
            mail.send(request.email, subject, text)
            return "member_noted" if member else "mailed"
        except Exception:  # noqa: BLE001 - any mail failure: queue it for a retry, answer the same
            deferred, delay = "retry_queued", policy.retry_delay_seconds
    else:
        deferred, delay = "deferred", seconds_to_next_window(now)
    if later is not None:
        try:
            later.defer(deferred_mail(email_digest, nonce, base_url), delay)
            return deferred
        except Exception:  # noqa: BLE001 - not queued either: release the limits below, answer the same
            pass
    members.release(email_digest, nonce, requester.mailbox)  # let the next attempt mail again
    return "mail_failed"


def confirmation_mail(member: bool, email_digest: str, nonce: str, expires_at: int, base_url: str, policy: JoinPolicy,
                      signer: Signer) -> tuple[str, str]:
    """Subject and text of the submission's mail: its signed link, or a member's note (no caller text in either).
    Both end with the person's "delete my data" link (issue 15: every email we send carries it)."""
    from attract.clock import utc_now
    from attract.people.forget_link import forget_url

    footer = FORGET_FOOTER.format(link=forget_url(signer, base_url, email_digest, utc_now()))
    if member:
        return MEMBER_SUBJECT, MEMBER_TEXT + footer
    link = confirm_link(base_url, signer.token(TOKEN_PURPOSE, [email_digest, nonce], expires_at))
    return CONFIRM_SUBJECT, CONFIRM_TEXT.format(days=policy.confirm_days, link=link) + footer


def deferred_mail(email_digest: str, nonce: str, base_url: str) -> dict:
    """The queue message of a mail put off: names the pending join, never the address (it stays in the table)."""
    return {"v": DEFERRED_MAIL_VERSION, "email_hash": email_digest, "nonce": nonce, "base_url": base_url}


def send_deferred(message: dict, now: datetime, policy: JoinPolicy, signer: Signer, members: DeferredMailStore,
                  mail: MailSender, later: MailQueue) -> Delivered:
    """Send a confirmation mail the account's cap (or a failed send) put off, once, if this hour allows.

    Still capped: queued again for the next hour ("deferred"). Confirmed, replaced by a newer submission
    (which has its own mail) or expired: nothing to send ("gone"). A redelivered message finds the
    pending join's `sent_at` and sends nothing more ("sent_already"). A failed send raises, after
    clearing `sent_at`, so the queue delivers the message again (and then to its dead-letter queue).
    """
    email_digest, nonce, base_url = str(message["email_hash"]), str(message["nonce"]), str(message["base_url"])
    pending = members.pending(email_digest)
    if (pending is None or not hmac.compare_digest(pending.nonce.encode(), nonce.encode())
            or pending.expires_at <= now.timestamp()):
        return "gone"
    if pending.sent_at is not None:
        return "sent_already"
    if not members.take_mail_slot(hour_window(now), policy.mails_per_hour, int(window_end(now).timestamp()) + 3600):
        later.defer(message, seconds_to_next_window(now))
        return "deferred"
    address = members.member_email(email_digest) if pending.member else pending.email
    if not address:
        return "gone"
    if not members.claim_send(email_digest, nonce, int(now.timestamp())):
        return "sent_already"
    subject, text = confirmation_mail(pending.member, email_digest, nonce, pending.expires_at, base_url, policy, signer)
    try:
        mail.send(address, subject, text)
    except Exception:
        members.unclaim_send(email_digest, nonce)
        raise
    return "member_noted" if pending.member else "mailed"


def open_token(token: str, now: datetime, signer: Signer) -> tuple[str, str] | None:
    """(email hash, nonce) of a genuine, unexpired confirmation token; None for anything else."""
    fields = signer.open(TOKEN_PURPOSE, token, int(now.timestamp()), 2)
    return (fields[0], fields[1]) if fields else None


def confirm_join(token: str, now: datetime, policy: JoinPolicy, signer: Signer, members: MemberStore,
                 conversions: ConversionQueue | None = None, scoring: ScoringNotice | None = None) -> bool:
    """Create the member and count the join, once. False for an expired, used, tampered or unknown link.

    A join that came from an ad, with the person's ads consent, is then enqueued once for the platforms.
    """
    opened = open_token(token, now, signer)
    if opened is None:
        return False
    email_digest, nonce = opened
    pending = members.pending(email_digest)
    if pending is None or pending.member or not pending.email or not hmac.compare_digest(pending.nonce.encode(), nonce.encode()):
        return False
    # Only a confirmation credits and reports: the submission path (POST /joins) never imports these.
    from attract.attribution.logic import credit_path
    from attract.joins.feedback import conversion_message

    captured = [Touch.model_validate(t) for t in pending.touches]
    claims = dict(pending.claims)
    invite = pending.invite
    member = Member(
        member_id=str(uuid.uuid4()), email=pending.email, email_hash=email_digest, name=pending.name or "",
        skills=pending.skills, location=pending.location, joined_at=now, visitor_id=pending.visitor_id,
        consent={"granted": True, "text_version": pending.consent_text_version or policy.consent_text_version,
                 "at": pending.submitted_at.isoformat(), "confirmed_at": now.isoformat(), "ads": pending.ads_consent,
                 # Pending joins held before the channel was kept: unknown (attract.people.consent.consent_channel).
                 "channel": pending.consent_channel or "unknown"},
    )
    for _ in range(MAX_SIGNED_CLICKS + 2):  # each retry drops at least one claim (a click or the invitation)
        path_touches = captured or ([Touch.model_validate(pending.landing)] if pending.landing else [])
        path = credit_path(path_touches, now, policy.half_life_days)
        try:
            members.confirm(member, path, nonce, sorted(claims), pending.untrusted_ids, invite)
        except LinkUsedError:
            return False
        except ClickClaimedError as taken:
            # Another join was credited with these clicks (a shared link): confirm without their visitors.
            lost = {claims.pop(click) for click in taken.clicks if click in claims}
            captured = [t for t in captured if t.visitor_id not in lost]
            claims = {c: v for c, v in claims.items() if v not in lost}
            if taken.invite:
                # The invitation credited another join already (a forwarded or replayed token): not this one.
                captured = [t for t in captured if not (t.origin == "invite" and t.touch_id == invite)]
                invite = None
            continue
        # After the transaction, once: a redelivered confirmation is refused above and enqueues nothing.
        # The landing touch counts for its click ids even when other touches were credited: an ad's
        # auto-tagged click (gclid on the careers page itself) is only there.
        landing = [Touch.model_validate(pending.landing)] if pending.landing and captured else []
        message = conversion_message(member.member_id, now, pending.email, path_touches + landing, pending.ads_consent,
                                     pending.browser)
        if conversions is not None and message is not None:
            conversions.send(message)
        if scoring is not None:  # scored against every profile in the background (attract.relevance.worker)
            scoring.member_joined(email_digest)
        if pending.mailbox:
            try:  # a member's note may follow at once, as before marks were per mailbox
                members.release_mailbox(pending.mailbox, nonce)
            except Exception:  # noqa: BLE001 - the join stands; the mark lapses within the hour anyway
                pass
        return True
    return False
