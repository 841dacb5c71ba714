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
