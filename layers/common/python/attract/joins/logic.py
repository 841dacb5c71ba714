"""A join in two steps (double opt-in, docs/security.md).

1. `submit_join` (POST /joins): capture the touches reachable now, hold them in a pending item and mail
   a signed confirmation link. Nothing is counted; the answer is the same whoever the email belongs to.
2. `confirm_join` (POST /joins/confirm/{token}): in one transaction create the member and its
   attribution, consume the pending item, claim the clicks credited and add to the aggregates.
"""

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from attract.attribution.channels import group_channel
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

Submitted = Literal["mailed", "member_noted", "rate_limited", "mail_failed"]


class TouchSource(Protocol):
    def touches_of(self, subject: str, since: datetime | None = None) -> list[Touch]: ...
    def visitors_by_click(self, kind: str, value: str, limit: int = 10) -> list[str]: ...
    def invite_touch(self, token: str) -> Touch | None: ...


class LinkUsedError(Exception):
    """The pending join is gone (confirmed, replaced by a newer email, expired) or the email already joined."""


class ClickClaimedError(Exception):
    """Some tc_click values of this join were already credited to another join."""

    def __init__(self, clicks: list[str]):
        super().__init__(f"{len(clicks)} click(s) already claimed")
        self.clicks = clicks


class MemberStore(Protocol):
    table: str

    def is_member(self, email_hash: str) -> bool: ...
    def hold(self, pending: PendingJoin, mailed_before: int) -> bool: ...
    def release(self, email_hash: str, nonce: str) -> None: ...
    def pending(self, email_hash: str) -> PendingJoin | None: ...
    def confirm(self, member: Member, path: list[CreditedTouch], nonce: str, claims: list[str],
                untrusted_ids: dict) -> None:
        """Member, attribution, claims and the join's aggregates in one transaction."""
        ...


class MailSender(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class ConversionQueue(Protocol):
    def send(self, message: dict) -> None:
        """Enqueue a confirmed join for the ad platforms (attract.joins.feedback). Never raises: a failure
        is logged and counted by the adapter, and the join stands."""
        ...


@dataclass(frozen=True)
class JoinPolicy:
    lookback_days: int = 30
    half_life_days: float = 7
    consent_text_version: str = "v1"
    aggregate_shards: int = 4
    confirm_days: int = 7
    mail_interval: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Captured:
    touches: list[Touch]
    claims: dict[str, str]
    visitor_id: str | None
    untrusted_ids: dict


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
    if request.invite_token:
        invite = source.invite_touch(request.invite_token)
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
    return Captured(path, {c: v for c, v in claims.items() if v in credited_visitors}, trusted_visitor, untrusted)


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


def submit_join(request: JoinRequest, email_digest: str, now: datetime, policy: JoinPolicy, signer: Signer,
                base_url: str, touches: TouchSource, members: MemberStore, mail: MailSender,
                browser: dict[str, str] | None = None) -> Submitted:
    """Hold the join and mail its confirmation (or a member's note), at most once an hour per address.

    Every email does the same reads and one conditional write whether it is new, pending or a member's,
    so neither the answer nor its timing class tells them apart (the caller always answers 202).
    `browser` (feedback.browser_context of the request) is kept only with the ads consent.
    """
    member = members.is_member(email_digest)
    captured = gather_touches(request, email_digest, now, policy.lookback_days, touches, signer)
    stamp = int(now.timestamp())
    expires_at = stamp + policy.confirm_days * 86400
    nonce = secrets.token_urlsafe(16)
    pending = PendingJoin(email_hash=email_digest, nonce=nonce, submitted_at=now, mailed_at=stamp, expires_at=expires_at,
                          member=member)
    if not member:
        pending = pending.model_copy(update={
            "email": request.email, "name": request.name, "skills": request.skills, "location": request.location,
            # The version the server shows: the client's consent_text_version is ignored (finding 5).
            "consent_text_version": policy.consent_text_version, "ads_consent": request.ads_consent,
            "visitor_id": captured.visitor_id, "touches": [t.model_dump(mode="json") for t in captured.touches],
            "landing": landing_touch(request, now).model_dump(mode="json"), "claims": captured.claims,
            "untrusted_ids": captured.untrusted_ids, "browser": dict(browser or {}) if request.ads_consent else {}})
    if not members.hold(pending, stamp - int(policy.mail_interval.total_seconds())):
        return "rate_limited"
    try:
        if member:
            mail.send(request.email, MEMBER_SUBJECT, MEMBER_TEXT)
        else:
            token = signer.token(TOKEN_PURPOSE, [email_digest, nonce], expires_at)
            link = confirm_link(base_url, token)
            mail.send(request.email, CONFIRM_SUBJECT, CONFIRM_TEXT.format(days=policy.confirm_days, link=link))
    except Exception:  # noqa: BLE001 - any mail failure: let the next attempt mail again, answer the same
        members.release(email_digest, nonce)
        return "mail_failed"
    return "member_noted" if member else "mailed"


def open_token(token: str, now: datetime, signer: Signer) -> tuple[str, str] | None:
    """(email hash, nonce) of a genuine, unexpired confirmation token; None for anything else."""
    fields = signer.open(TOKEN_PURPOSE, token, int(now.timestamp()), 2)
    return (fields[0], fields[1]) if fields else None


def confirm_join(token: str, now: datetime, policy: JoinPolicy, signer: Signer, members: MemberStore,
                 conversions: ConversionQueue | None = None) -> bool:
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
    member = Member(
        member_id=str(uuid.uuid4()), email=pending.email, email_hash=email_digest, name=pending.name or "",
        skills=pending.skills, location=pending.location, joined_at=now, visitor_id=pending.visitor_id,
        consent={"granted": True, "text_version": pending.consent_text_version or policy.consent_text_version,
                 "at": pending.submitted_at.isoformat(), "confirmed_at": now.isoformat(), "ads": pending.ads_consent},
    )
    for _ in range(MAX_SIGNED_CLICKS + 1):  # each retry drops at least one claimed click
        path_touches = captured or ([Touch.model_validate(pending.landing)] if pending.landing else [])
        path = credit_path(path_touches, now, policy.half_life_days)
        try:
            members.confirm(member, path, nonce, sorted(claims), pending.untrusted_ids)
        except LinkUsedError:
            return False
        except ClickClaimedError as taken:
            # Another join was credited with these clicks (a shared link): confirm without their visitors.
            lost = {claims.pop(click) for click in taken.clicks if click in claims}
            captured = [t for t in captured if t.visitor_id not in lost]
            claims = {c: v for c, v in claims.items() if v not in lost}
            continue
        # After the transaction, once: a redelivered confirmation is refused above and enqueues nothing.
        # The landing touch counts for its click ids even when other touches were credited: an ad's
        # auto-tagged click (gclid on the careers page itself) is only there.
        landing = [Touch.model_validate(pending.landing)] if pending.landing and captured else []
        message = conversion_message(member.member_id, now, pending.email, path_touches + landing, pending.ads_consent,
                                     pending.browser)
        if conversions is not None and message is not None:
            conversions.send(message)
        return True
    return False
