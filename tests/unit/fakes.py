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
        self.day_clicks: list = []

    def record_click(self, touch, expires_at: int, ad_click=None) -> None:
        if ad_click is not None:
            if (touch.link_code, *ad_click) in self.landings:
                raise AlreadyExistsError("landing")
            self.landings.add((touch.link_code, *ad_click))
        self.clicks.append((touch, expires_at))

    def count_click(self, code: str) -> None:
        if self.links is not None:
            self.links.items[code][1] += 1

    def count_day_click(self, link, at) -> None:
        self.day_clicks.append((link.code, at.date()))

    def put_many(self, touches, expires_at) -> None:
        for touch in touches:
            self.imported[touch.touch_id] = (touch, expires_at[touch.touch_id])


class MemoryTouchSource:
    """Touches by subject, click lookups and invites, as the join reads them."""

    def __init__(self):
        self.by_subject: dict[str, list] = {}
        self.clicks: dict[tuple[str, str], list[str]] = {}
        self.invites: dict[str, object] = {}
        self.invited: dict[str, tuple[list[str], str | None]] = {}  # token -> the record's (skills, location)

    def add(self, subject: str, touch) -> None:
        self.by_subject.setdefault(subject, []).append(touch)

    def touches_of(self, subject, since=None):
        return [t for t in self.by_subject.get(subject, []) if since is None or t.occurred_at >= since]

    def visitors_by_click(self, kind, value, limit=10):
        return self.clicks.get((kind, value), [])[:limit]

    def invite_touch(self, token):
        return self.invites.get(token)

    def invited_facts(self, token):
        return self.invited.get(token, ([], None))


class MemoryMembers:
    """Members, pending joins and click claims with the repository's conditions, counting what it is asked."""

    table = "memory"

    def __init__(self):
        self.members: dict[str, tuple] = {}
        self.pendings: dict = {}
        self.claimed: dict[str, str] = {}
        self.invites_claimed: dict[str, str] = {}  # invitation touch id -> the member it credited
        self.created: list[tuple] = []  # (member, path) of each join counted: the aggregates are added with it
        self.mailboxes: dict[str, tuple[int, str]] = {}  # mailbox hash -> (mailed_at, nonce)
        self.sources: dict[tuple[str, str], int] = {}  # (source hash, hour) -> mails
        self.account: dict[str, int] = {}  # hour -> mails
        self.calls: list[str] = []

    def is_member(self, email_hash):
        self.calls.append("is_member")
        return email_hash in self.members

    def hold(self, pending, mailed_before, requester=None, window="", source_limit=0, window_expires_at=0):
        """As the repository's transaction: the pending join, the mailbox mark and the source's count, all or nothing."""
        self.calls.append("hold")
        current = self.pendings.get(pending.email_hash)
        mark = self.mailboxes.get(requester.mailbox) if requester else None
        if (current is not None and current.mailed_at >= mailed_before) or (mark and mark[0] >= mailed_before):
            return "rate_limited"
        if requester and self.sources.get((requester.source, window), 0) >= source_limit:
            return "source_limited"
        self.pendings[pending.email_hash] = pending
        if requester:
            self.mailboxes[requester.mailbox] = (pending.mailed_at, pending.nonce)
            self.sources[(requester.source, window)] = self.sources.get((requester.source, window), 0) + 1
        return "held"

    def take_mail_slot(self, window, cap, window_expires_at):
        self.calls.append("take_mail_slot")
        if self.account.get(window, 0) >= cap:
            return False
        self.account[window] = self.account.get(window, 0) + 1
        return True

    def release(self, email_hash, nonce, mailbox=None):
        current = self.pendings.get(email_hash)
        if current is not None and current.nonce == nonce:
            self.pendings[email_hash] = current.model_copy(update={"mailed_at": 0})
        if mailbox:
            self.release_mailbox(mailbox, nonce)

    def release_mailbox(self, mailbox, nonce):
        if self.mailboxes.get(mailbox, (0, None))[1] == nonce:
            self.mailboxes[mailbox] = (0, nonce)

    def claim_send(self, email_hash, nonce, sent_at):
        current = self.pendings.get(email_hash)
        if current is None or current.nonce != nonce or current.sent_at is not None:
            return False
        self.pendings[email_hash] = current.model_copy(update={"sent_at": sent_at})
        return True

    def unclaim_send(self, email_hash, nonce):
        current = self.pendings.get(email_hash)
        if current is not None and current.nonce == nonce:
            self.pendings[email_hash] = current.model_copy(update={"sent_at": None})

    def member_email(self, email_hash):
        found = self.members.get(email_hash)
        return found[0].email if found else None

    def pending(self, email_hash):
        return self.pendings.get(email_hash)

    def confirm(self, member, path, nonce, claims, untrusted_ids, invite=None):
        from attract.joins.logic import ClickClaimedError, LinkUsedError

        current = self.pendings.get(member.email_hash)
        if member.email_hash in self.members or current is None or current.nonce != nonce:
            raise LinkUsedError()
        taken = [click for click in claims if click in self.claimed]
        invite_taken = invite is not None and invite in self.invites_claimed
        if taken or invite_taken:
            raise ClickClaimedError(taken, invite=invite_taken)
        self.claimed.update({click: member.member_id for click in claims})
        if invite is not None:
            self.invites_claimed[invite] = member.member_id
        del self.pendings[member.email_hash]
        self.members[member.email_hash] = (member, path)
        self.created.append((member, path))


class MemoryMailQueue:
    """A MailQueue keeping (message, delay); `fail` makes the next defers raise."""

    def __init__(self):
        self.messages: list[tuple[dict, int]] = []
        self.fail = False

    def defer(self, message, delay_seconds):
        if self.fail:
            raise ConnectionError("queue down")
        self.messages.append((dict(message), delay_seconds))


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

    def preflight(self, plan):
        self._called("preflight")
        return []

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


class MemoryScores:
    """`attract.relevance.rescoring.ScoreStore` in memory, with the transaction's conditions and counts:
    `counts[scope]` is the relevant joins counted under a profile id or `any`."""

    def __init__(self, profile_versions: dict[str, int] | None = None):
        from attract.relevance.records import IndexedMember, StoredScore  # noqa: F401 - the shapes it holds

        self.index: dict = {}  # email hash -> IndexedMember
        self.scores: dict = {}  # (email hash, profile id) -> StoredScore
        self.matches: dict = {}  # profile id -> {email hash: score}
        self.counts: dict[str, int] = {}
        self.profile_versions = profile_versions or {}
        self.applied = 0
        self.race = None  # a callable run once before the next apply: another writer at the same moment

    def member(self, email_hash):
        found = self.index.get(email_hash)
        return found.model_copy(deep=True) if found else None

    def members(self, email_hashes):
        return [self.member(h) for h in email_hashes if h in self.index]

    def scores_of(self, email_hash):
        return {pid: s for (h, pid), s in self.scores.items() if h == email_hash}

    def scores_for(self, profile_id, email_hashes):
        return {h: self.scores[(h, profile_id)] for h in email_hashes if (h, profile_id) in self.scores}

    def member_page(self, cursor, limit):
        keys = sorted(h for h in self.index if h > cursor)
        page = keys[:limit]
        return [self.member(h) for h in page], (page[-1] if len(keys) > limit else None)

    def match_page(self, profile_id, cursor, limit):
        ranked = sorted(self.matches.get(profile_id, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        hashes = [h for h, _ in ranked][:limit]
        return hashes, (hashes[-1] if len(ranked) > limit else None)

    def apply(self, change, check_profile=True):
        from attract.relevance.records import StoredScore

        if self.race is not None:
            race, self.race = self.race, None
            race()
        member = self.index[change.member.email_hash]
        pid = change.profile_id
        if check_profile and self.profile_versions.get(pid) != change.version:
            return "stale"
        old = self.scores.get((member.email_hash, pid))
        if old is not None and old.version >= change.version:
            return "already"
        if change.relevant != change.was_relevant:  # the set's condition, as the repository writes it
            others = member.relevant - {pid}
            if change.relevant and (pid in member.relevant or bool(others) == change.enters_any):
                return "retry"
            if not change.relevant and (pid not in member.relevant or bool(others) == change.leaves_any):
                return "retry"
        self.scores[(member.email_hash, pid)] = StoredScore(profile_id=pid, version=change.version,
                                                           score=change.score, relevant=change.relevant)
        if change.relevant:
            self.matches.setdefault(pid, {})[member.email_hash] = change.score
        else:
            self.matches.get(pid, {}).pop(member.email_hash, None)
        if change.relevant != change.was_relevant:
            sign = 1 if change.relevant else -1
            (member.relevant.add if change.relevant else member.relevant.discard)(pid)
            self.counts[pid] = self.counts.get(pid, 0) + sign
            if change.enters_any or change.leaves_any:
                self.counts["any"] = self.counts.get("any", 0) + sign
        self.applied += 1
        return "applied"

    def remove_match(self, profile_id, score, email_hash):
        self.matches.get(profile_id, {}).pop(email_hash, None)

    def remove_scores(self, email_hash):
        for key in [k for k in self.scores if k[0] == email_hash]:
            del self.scores[key]

    def remove_index(self, email_hash):
        self.index.pop(email_hash, None)
