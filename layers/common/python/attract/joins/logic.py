"""A join: identify the person, gather the touches that led here, credit them, store it all once."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from attract.attribution.channels import group_channel
from attract.attribution.logic import credit_path
from attract.errors import AlreadyExistsError
from attract.joins.models import CreditedTouch, JoinRequest, JoinResponse, Member
from attract.tracking.logic import clean_referrer
from attract.tracking.models import Touch

MAX_PATH = 20  # the latest touches of a long path: keeps one join's aggregate update under DynamoDB's 4 KB expression limit
MAX_VISITORS_PER_JOIN = 10
CLOCK_SKEW = timedelta(minutes=5)


class TouchSource(Protocol):
    def touches_of(self, subject: str, since: datetime | None = None) -> list[Touch]: ...
    def visitors_by_click(self, kind: str, value: str, limit: int = 10) -> list[str]: ...
    def invite_touch(self, token: str) -> Touch | None: ...


class MemberStore(Protocol):
    table: str

    def find(self, email_hash: str) -> tuple[Member, list[CreditedTouch]] | None: ...
    def create(self, member: Member, path: list[CreditedTouch]) -> None:
        """Member, attribution and the join's aggregates in one transaction (AggregateRepository.join_actions)."""
        ...


@dataclass(frozen=True)
class JoinPolicy:
    lookback_days: int = 30
    half_life_days: float = 7
    consent_text_version: str = "v1"
    aggregate_shards: int = 4


def gather_touches(request: JoinRequest, email_digest: str, joined_at: datetime, lookback_days: int,
                   source: TouchSource) -> list[Touch]:
    """Touches reachable from the visitor id, click ids, invite token and the email, deduplicated, in the window."""
    since = joined_at - timedelta(days=lookback_days)
    visitors: list[str] = [request.visitor_id] if request.visitor_id else []
    for kind, values in request.all_click_ids().items():
        for value in values:
            for visitor in source.visitors_by_click(kind, value):
                if visitor not in visitors:
                    visitors.append(visitor)
    found: dict[str, Touch] = {}
    for visitor in visitors[:MAX_VISITORS_PER_JOIN]:
        for touch in source.touches_of(f"VISITOR#{visitor}", since):
            found.setdefault(touch.touch_id, touch)
    for touch in source.touches_of(f"EMAIL#{email_digest}", since):
        found.setdefault(touch.touch_id, touch)
    if request.invite_token:
        invite = source.invite_touch(request.invite_token)
        if invite is not None:
            found.setdefault(invite.touch_id, invite)
    in_window = [t for t in found.values() if since <= t.occurred_at <= joined_at + CLOCK_SKEW]
    in_window.sort(key=lambda t: (t.occurred_at, t.touch_id))
    return in_window[-MAX_PATH:]


def landing_touch(request: JoinRequest, joined_at: datetime) -> Touch:
    """The one touch of a join nobody tracked before: its own utm_*, click ids and referrer, grouped."""
    utm = request.utm()
    first_ids = {kind: values[0] for kind, values in request.all_click_ids().items() if values}
    referrer = clean_referrer(request.referrer)
    channel, source, medium = group_channel(utm, first_ids, referrer)
    return Touch(
        touch_id="j" + uuid.uuid4().hex, occurred_at=joined_at, origin="join", channel=channel,
        campaign=utm.get("utm_campaign") or "(none)", source=source, medium=medium,
        content=utm.get("utm_content"), term=utm.get("utm_term"),
        click_ids={k: v for k, v in first_ids.items() if k != "tc_click"}, utm=utm, referrer=referrer,
    )


def record_join(request: JoinRequest, email_digest: str, now: datetime, policy: JoinPolicy,
                touches: TouchSource, members: MemberStore) -> JoinResponse:
    """First join: 201-worthy response with its attribution. Repeat (or lost race): the stored one, created=False."""
    existing = members.find(email_digest)
    if existing is not None:
        return _existing(*existing)
    path_touches = gather_touches(request, email_digest, now, policy.lookback_days, touches) or [landing_touch(request, now)]
    path = credit_path(path_touches, now, policy.half_life_days)
    member = Member(
        member_id=str(uuid.uuid4()), email=request.email, email_hash=email_digest, name=request.name,
        skills=request.skills, location=request.location, joined_at=now, visitor_id=request.visitor_id,
        consent={"granted": True, "text_version": request.consent_text_version or policy.consent_text_version,
                 "at": now.isoformat()},
    )
    try:
        members.create(member, path)
    except AlreadyExistsError:
        # A concurrent join of the same email won the race; it counted, this one must not.
        found = members.find(email_digest)
        if found is None:
            raise
        return _existing(*found)
    return JoinResponse(member_id=member.member_id, joined_at=now, created=True, touches=path)


def _existing(member: Member, path: list[CreditedTouch]) -> JoinResponse:
    return JoinResponse(member_id=member.member_id, joined_at=member.joined_at, created=False, touches=path)
