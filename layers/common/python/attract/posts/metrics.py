"""The metrics sync: each published post's impressions and clicks, stored where the report reads spend.

Posts published in the last METRICS_DAYS are asked for their lifetime counts every run; the counts replace the
last run's (SET, never ADD), on the day the post was published. One channel failing (its secret, its API) never
stops the others: its outcome records the error, the next run tries again.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from attract.posts.channels import ORGANIC_CHANNELS
from attract.posts.live_repository import LivePostRepository
from attract.posts.ports import OrganicGateway

METRICS_DAYS = 30  # organic posts gather nearly all their reach in their first days
BATCH = 50  # post ids per metrics call (X's tweets lookup takes 100, Facebook's batch 50)


@dataclass
class MetricsOutcome:
    channel: str
    posts: int = 0
    stored: int = 0
    ok: bool = True
    error_codes: list[str] = field(default_factory=list)


def sync_metrics(gateways: dict[str, Callable[[], OrganicGateway]], live: LivePostRepository,
                 now: datetime) -> list[MetricsOutcome]:
    outcomes = []
    for channel in ORGANIC_CHANNELS:
        outcome = MetricsOutcome(channel=channel)
        outcomes.append(outcome)
        posts = live.since(channel, now - timedelta(days=METRICS_DAYS))
        outcome.posts = len(posts)
        if not posts or channel not in gateways:
            continue
        try:
            gateway = gateways[channel]()
            for start in range(0, len(posts), BATCH):
                chunk = posts[start:start + BATCH]
                counts = gateway.metrics([post.platform_post_id for post in chunk])
                rows = [(post, counts[post.platform_post_id]) for post in chunk if post.platform_post_id in counts]
                live.put_metrics(rows, now)
                outcome.stored += len(rows)
        except Exception as error:  # noqa: BLE001 - one channel's failure must not stop the others
            outcome.ok = False
            outcome.error_codes = list(getattr(error, "codes", None) or [type(error).__name__])
    return outcomes
