"""InMemoryOrganicGateway: a fake AT THE PORT (attract.posts.ports.OrganicGateway), for the publisher's own logic
tests only (claims, lost answers, rate limits, independence of channels). The real adapters are tested against
their wire sandboxes (attract_local.sandboxes), never against this."""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from attract.posts.ports import PlatformError, PostContent, PostMetrics, PublishedPost, RateLimited


@dataclass
class StoredPost:
    post_id: str
    content: PostContent
    created_at: datetime


@dataclass
class InMemoryOrganicGateway:
    channel: str
    posts: dict[str, StoredPost] = field(default_factory=dict)
    publish_calls: int = 0
    find_calls: int = 0
    deleted: list[str] = field(default_factory=list)
    # Faults, consumed one per publish call, in order: "lose_answer" (created, then the connection drops),
    # "fail_before" (the connection drops before anything is created), "rate_limit", "refuse", "server_error".
    faults: list[str] = field(default_factory=list)
    counts: dict[str, PostMetrics] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def publish(self, content: PostContent) -> PublishedPost:
        self.publish_calls += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault == "fail_before":
            raise ConnectionError("connection reset before the request was sent")
        if fault == "rate_limit":
            raise RateLimited(self.channel, "too many requests", ["429"])
        if fault == "refuse":
            raise PlatformError(self.channel, "duplicate content", ["187"])
        post_id = f"{self.channel}-{next(self._ids)}"
        self.posts[post_id] = StoredPost(post_id, content, datetime.now(UTC))
        if fault == "lose_answer":
            raise ConnectionError("connection reset: the answer is lost")
        if fault == "server_error":
            raise PlatformError(self.channel, "internal error", ["500"], retryable=True)
        return PublishedPost(post_id=post_id, url=f"https://{self.channel}.example/{post_id}")

    def find(self, marker: str, since: datetime) -> PublishedPost | None:
        self.find_calls += 1
        for post in self.posts.values():
            if post.created_at >= since and marker in (post.content.text + " " + post.content.link):
                return PublishedPost(post_id=post.post_id, url=f"https://{self.channel}.example/{post.post_id}")
        return None

    def delete(self, post_id: str) -> None:
        self.deleted.append(post_id)
        self.posts.pop(post_id, None)

    def metrics(self, post_ids: Sequence[str]) -> dict[str, PostMetrics]:
        return {post_id: self.counts.get(post_id, PostMetrics(impressions=0, clicks=0)) for post_id in post_ids
                if post_id in self.posts}
