"""The posts domain's port: what every organic platform adapter offers.

Adapters (`attract.providers.facebook_page`, `attract.providers.linkedin_posts`, `attract.providers.x_posts`,
named by the channel registry `attract.posts.channels`) import their SDK; this module imports none. Errors are
the ads ports' (`PlatformError`, `RateLimited`): a platform refusal is the same thing whatever it refuses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from attract.campaigns.ports import PlatformError, RateLimited

__all__ = ["OrganicGateway", "PlatformError", "PostContent", "PostMetrics", "PublishedPost", "RateLimited"]


@dataclass(frozen=True)
class PostContent:
    """One channel's post: the marketer's text, this channel's tracked link, an optional image."""

    text: str  # as the marketer wrote it, without the link
    link: str  # this channel's tracked link (`<PUBLIC_BASE_URL>/r/<code>`): unique per post and channel, the marker
    image_url: str | None = None  # https, checked against the channel's image rules before any call


@dataclass(frozen=True)
class PublishedPost:
    post_id: str  # the platform's id (Facebook `<page>_<post>`, LinkedIn `urn:li:share:…`/`urn:li:ugcPost:…`, X id)
    url: str  # where a person sees it


@dataclass(frozen=True)
class PostMetrics:
    impressions: int | None  # None: the platform's API does not offer it (or not to this token)
    clicks: int | None


class OrganicGateway(Protocol):
    """Constructed as `Adapter(config, endpoint, attempts=..., backoff_base_s=...)`: config is the channel's secret
    (JSON), endpoint the API's base URL (the local sandbox's, or the platform's)."""

    channel: str  # a name of the registry (attract.posts.channels)

    def publish(self, content: PostContent) -> PublishedPost:
        """Post once. Raises RateLimited (after its own retries with backoff) or PlatformError."""
        ...

    def find(self, marker: str, since: datetime) -> PublishedPost | None:
        """The post published since `since` whose text or link holds `marker` (the tracked link), if any: after a
        lost answer the publisher looks before it posts again."""
        ...

    def delete(self, post_id: str) -> None:
        """Remove the post; a post already gone is not an error."""
        ...

    def metrics(self, post_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Impressions and clicks of each post, as far as the platform's API offers them."""
        ...
