"""In-memory stand-ins for the repositories, passed to logic as arguments."""

from attract.errors import AlreadyExistsError
from attract.links.models import Link
from attract.links.records import LinkTarget


class MemoryLinks:
    def __init__(self, *links: Link):
        self.items = {link.code: [link, 0] for link in links}
        self.reads = 0

    def create(self, link: Link) -> None:
        if link.code in self.items:
            raise AlreadyExistsError(link.code)
        self.items[link.code] = [link, 0]

    def get(self, code: str):
        self.reads += 1
        found = self.items.get(code)
        return (found[0], found[1]) if found else None

    def delete(self, code: str) -> None:
        self.items.pop(code, None)

    def target(self, code: str) -> LinkTarget | None:
        """What the redirect reads: the stored item as a plain record, as the repository gives it."""
        self.reads += 1
        found = self.items.get(code)
        return LinkTarget.from_values(found[0].model_dump(mode="json")) if found else None


class MemoryTouches:
    def __init__(self, links: MemoryLinks | None = None):
        self.clicks = []
        self.imported = {}
        self.links = links
        self.landings: set[tuple[str, str, str]] = set()

    def record_click(self, touch, expires_at: int, ad_click=None) -> None:
        if ad_click is not None:
            if (touch.link_code, *ad_click) in self.landings:
                raise AlreadyExistsError("landing")
            self.landings.add((touch.link_code, *ad_click))
        self.clicks.append((touch, expires_at))

    def count_click(self, code: str) -> None:
        if self.links is not None:
            self.links.items[code][1] += 1

    def put_many(self, touches, expires_at) -> None:
        for touch in touches:
            self.imported[touch.touch_id] = (touch, expires_at[touch.touch_id])


class MemoryTouchSource:
    """Touches by subject, click lookups and invites, as the join reads them."""

    def __init__(self):
        self.by_subject: dict[str, list] = {}
        self.clicks: dict[tuple[str, str], list[str]] = {}
        self.invites: dict[str, object] = {}

    def add(self, subject: str, touch) -> None:
        self.by_subject.setdefault(subject, []).append(touch)

    def touches_of(self, subject, since=None):
        return [t for t in self.by_subject.get(subject, []) if since is None or t.occurred_at >= since]

    def visitors_by_click(self, kind, value, limit=10):
        return self.clicks.get((kind, value), [])[:limit]

    def invite_touch(self, token):
        return self.invites.get(token)


class MemoryMembers:
    """Members, pending joins and click claims with the repository's conditions, counting what it is asked."""

    table = "memory"

    def __init__(self):
        self.members: dict[str, tuple] = {}
        self.pendings: dict = {}
        self.claimed: dict[str, str] = {}
        self.created: list[tuple] = []  # (member, path) of each join counted: the aggregates are added with it
        self.calls: list[str] = []

    def is_member(self, email_hash):
        self.calls.append("is_member")
        return email_hash in self.members

    def hold(self, pending, mailed_before):
        self.calls.append("hold")
        current = self.pendings.get(pending.email_hash)
        if current is not None and current.mailed_at >= mailed_before:
            return False
        self.pendings[pending.email_hash] = pending
        return True

    def release(self, email_hash, nonce):
        current = self.pendings.get(email_hash)
        if current is not None and current.nonce == nonce:
            self.pendings[email_hash] = current.model_copy(update={"mailed_at": 0})

    def pending(self, email_hash):
        return self.pendings.get(email_hash)

    def confirm(self, member, path, nonce, claims, untrusted_ids):
        from attract.joins.logic import ClickClaimedError, LinkUsedError

        current = self.pendings.get(member.email_hash)
        if member.email_hash in self.members or current is None or current.nonce != nonce:
            raise LinkUsedError()
        taken = [click for click in claims if click in self.claimed]
        if taken:
            raise ClickClaimedError(taken)
        self.claimed.update({click: member.member_id for click in claims})
        del self.pendings[member.email_hash]
        self.members[member.email_hash] = (member, path)
        self.created.append((member, path))


class Outbox:
    """A MailSender that keeps what it was asked to send; `fail` makes the next sends raise."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []
        self.fail = False

    def send(self, to, subject, text):
        if self.fail:
            raise ConnectionError("mail service down")
        self.sent.append((to, subject, text))


class MemoryCampaigns:
    """CampaignStore: conditional on the version read, like attract.campaigns.repository."""

    def __init__(self):
        self.items: dict = {}

    def create(self, campaign) -> None:
        if campaign.id in self.items:
            raise AlreadyExistsError(campaign.id)
        self.items[campaign.id] = campaign

    def get(self, campaign_id: str):
        return self.items.get(campaign_id)

    def save(self, campaign):
        from attract.errors import ConflictError

        if self.items[campaign.id].version != campaign.version:
            raise ConflictError(f"campaign {campaign.id} changed")
        saved = campaign.model_copy(update={"version": campaign.version + 1})
        self.items[campaign.id] = saved
        return saved


class FakeAdsGateway:
    """An AdsGateway in memory: every call is recorded as (channel, method); `refuse`/`crash` make one call fail."""

    def __init__(self, channel: str, calls: list):
        self.channel, self.calls = channel, calls
        self.refuse: dict[str, Exception] = {}  # method -> the exception its next call raises
        self.statuses: dict[str, str] = {}  # platform campaign id -> status

    def _called(self, method: str) -> None:
        self.calls.append((self.channel, method))
        if method in self.refuse:
            raise self.refuse.pop(method)

    def create_paused(self, plan, done):
        from attract.campaigns.models import PlatformIds

        self._called("create_paused")
        self.plans = [*getattr(self, "plans", []), plan]
        ids = PlatformIds(campaign=f"{self.channel}-c", budget="b", ad_group="g", creative="cr", ad="a",
                          status="PAUSED")
        self.statuses[ids.campaign or ""] = "PAUSED"
        return ids

    def activate(self, ids):
        self._called("activate")
        self.statuses[ids.campaign] = "ENABLED"
        return ids.model_copy(update={"status": "ENABLED"})

    def set_status(self, ids, status):
        self._called(f"set_status:{status}")
        self.statuses[ids.campaign] = status
        return ids.model_copy(update={"status": status})

    def dry_run(self, plan):
        self._called("dry_run")
        self.plans = [*getattr(self, "plans", []), plan]
        return []
