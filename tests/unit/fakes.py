"""In-memory stand-ins for the repositories, passed to logic as arguments."""

from attract.errors import AlreadyExistsError
from attract.links.models import Link


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


class MemoryTouches:
    def __init__(self, links: MemoryLinks | None = None):
        self.clicks = []
        self.imported = {}
        self.links = links

    def record_click(self, touch, expires_at: int) -> None:
        self.clicks.append((touch, expires_at))
        if self.links is not None:
            self.links.items[touch.link_code][1] += 1

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
    table = "memory"

    def __init__(self):
        self.members: dict[str, tuple] = {}
        self.created: list[tuple] = []  # (member, path) of each join counted: the aggregates are added with it

    def find(self, email_hash):
        return self.members.get(email_hash)

    def create(self, member, path):
        if member.email_hash in self.members:
            raise AlreadyExistsError(member.email_hash)
        self.members[member.email_hash] = (member, path)
        self.created.append((member, path))
