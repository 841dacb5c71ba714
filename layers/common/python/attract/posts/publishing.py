"""The publisher: one (post, channel) per message, published at most once, deleted where it was published.

At most once per channel (docs/decisions.md, "Organic posts"):
- the channel's state is claimed (`publishing`, a claim id and a lease) by a conditional write before the call;
- the answer is written as `published` with the platform's id and URL, conditional on the same claim;
- an answer lost (an exception that is not the platform's refusal) leaves the claim with its lease ended, and the
  message comes back; a redelivery that finds a `publishing` claim whose lease has ended asks the platform first
  (`find(marker=the channel's tracked link, since=claim time - margin)`) and posts only when nothing is there;
- RateLimited (after the adapter's own backoff) releases the claim and the message comes back later
  (RetryLaterError: the handler pushes its visibility out); other channels have their own messages;
- a platform refusal is final: `failed` with the platform, codes and message.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from attract.campaigns.ports import PlatformError, RateLimited
from attract.posts.live_repository import LivePost, LivePostRepository
from attract.posts.models import ChannelState, Post, PostError, PostMessage
from attract.posts.ports import OrganicGateway, PostContent, PublishedPost
from attract.posts.repository import ClaimLostError, PostRepository

LEASE_SECONDS = 180  # longer than a publish call can take (the worker's Timeout); shorter than the queue's visibility
FIND_MARGIN = timedelta(minutes=5)  # clocks and the platform's created_time may disagree by this much
RATE_LIMIT_DELAY_S = 120  # a rate-limited channel comes back after this, doubling per receive (bounded by SQS: 12 h)
BUSY_DELAY_S = LEASE_SECONDS


class RetryLaterError(Exception):
    """The message must come back after `delay_s` (a rate limit, a claim held by another worker, a lost answer)."""

    def __init__(self, message: str, delay_s: int):
        super().__init__(message)
        self.delay_s = delay_s


Audit = Callable[[str, str, dict], None]  # (action, post id, details)


def _error(error: Exception, platform: str, now: datetime) -> PostError:
    if isinstance(error, PlatformError):
        return PostError(platform=error.platform or platform, codes=error.codes, message=error.message,
                         request_id=error.request_id, at=now)
    return PostError(platform=platform, codes=[type(error).__name__], message="no answer from the platform", at=now)


def fan_out(message: PostMessage, posts: PostRepository, send: Callable[[dict], None]) -> int:
    """A schedule's message (no channel): one message per channel of the post, each then handled alone."""
    found = posts.get(message.post_id)
    if found is None or found[0].status != "active":
        return 0
    for channel in found[0].channels:
        send({"post_id": message.post_id, "channel": channel, "action": message.action})
    return len(found[0].channels)


def publish_channel(post_id: str, channel: str, *, posts: PostRepository, live: LivePostRepository,
                    gateway: Callable[[], OrganicGateway], now: Callable[[], datetime],
                    audit: Audit) -> ChannelState | None:
    """Publish one channel of a post at most once; the state it ends in (None: nothing to do)."""
    found = posts.get(post_id)
    if found is None:
        return None
    post, states = found
    state = states.get(channel)
    if state is None:
        return None
    if post.status != "active":  # deleted before it was published: cancel, never publish
        if state.status in ("scheduled", "failed"):
            return posts.transition(post_id, state, now(), status="deleted")
        return state
    if state.status in ("published", "failed", "deleting", "deleted"):
        return state  # a redelivery of a finished channel
    moment = now()
    stale = state.status == "publishing"
    if stale and state.lease_until is not None and state.lease_until > moment:
        raise RetryLaterError(f"{channel} is being published by another worker", BUSY_DELAY_S)
    adapter = gateway()  # credentials and SDK first: a missing secret fails before anything is claimed
    claimed = posts.transition(post_id, state, moment, status="publishing", claim_id=_claim_id(),
                               claimed_at=moment, lease_until=moment + timedelta(seconds=LEASE_SECONDS),
                               attempts=state.attempts + 1)
    link = post.link_urls[channel]
    if stale:  # the last attempt's answer was lost: the post may exist
        since = (state.claimed_at or moment) - FIND_MARGIN
        try:
            existing = adapter.find(link, since)
        except Exception as error:
            _lost(posts, post_id, claimed, error, channel, now())
            raise RetryLaterError(f"{channel}: could not look for a lost post", BUSY_DELAY_S) from error
        if existing is not None:
            return _published(post, claimed, existing, posts, live, now(), audit, found_after_loss=True)
    try:
        published = adapter.publish(PostContent(text=post.text, link=link, image_url=post.image_url))
    except RateLimited as error:
        # Refused before anything was created: released, so the redelivery posts without looking first.
        posts.transition(post_id, claimed, now(), status="scheduled", claim_id=None, lease_until=None,
                         last_error=_error(error, channel, now()))
        raise RetryLaterError(f"{channel} rate limited", RATE_LIMIT_DELAY_S) from error
    except PlatformError as error:
        if error.retryable:  # a 5xx: the platform may have created it anyway
            _lost(posts, post_id, claimed, error, channel, now())
            raise RetryLaterError(f"{channel} failed, may be retried", BUSY_DELAY_S) from error
        failed = posts.transition(post_id, claimed, now(), status="failed", last_error=_error(error, channel, now()))
        audit("post.publish_failed", post_id, {"channel": channel, "codes": error.codes})
        return failed
    except Exception as error:
        _lost(posts, post_id, claimed, error, channel, now())
        raise RetryLaterError(f"{channel}: answer lost", 0) from error
    return _published(post, claimed, published, posts, live, now(), audit, found_after_loss=False)


def _lost(posts: PostRepository, post_id: str, claimed: ChannelState, error: Exception, channel: str,
          moment: datetime) -> None:
    """Keep the claim, end its lease now: whoever handles the message next looks on the platform first."""
    try:
        posts.transition(post_id, claimed, moment, lease_until=moment, last_error=_error(error, channel, moment))
    except ClaimLostError:
        pass


def _published(post: Post, claimed: ChannelState, result: PublishedPost, posts: PostRepository,
               live: LivePostRepository, moment: datetime, audit: Audit, *, found_after_loss: bool) -> ChannelState:
    state = posts.transition(post.id, claimed, moment, status="published", platform_post_id=result.post_id,
                             url=result.url, published_at=moment, lease_until=None)
    live.add(LivePost(channel=claimed.channel, post_id=post.id, platform_post_id=result.post_id, name=post.name,
                      published_at=moment))
    audit("post.publish", post.id, {"channel": claimed.channel, "platform_post_id": result.post_id,
                                    "found_after_lost_answer": found_after_loss})
    return state


def delete_channel(post_id: str, channel: str, *, posts: PostRepository, live: LivePostRepository,
                   gateway: Callable[[], OrganicGateway], now: Callable[[], datetime], audit: Audit) -> ChannelState | None:
    """Remove one channel's post from its platform (a post already gone is not an error); cancel an unpublished one."""
    found = posts.get(post_id)
    if found is None or channel not in found[1]:
        return None
    state = found[1][channel]
    if state.status == "deleted":
        return state
    if state.status in ("scheduled", "failed"):
        return posts.transition(post_id, state, now(), status="deleted")
    if state.status == "publishing":
        raise RetryLaterError(f"{channel} is being published: deleted once it is", BUSY_DELAY_S)
    if state.status == "published":
        state = posts.transition(post_id, state, now(), status="deleting")
    assert state.platform_post_id is not None
    try:
        gateway().delete(state.platform_post_id)
    except RateLimited as error:
        raise RetryLaterError(f"{channel} rate limited", RATE_LIMIT_DELAY_S) from error
    except PlatformError as error:
        posts.transition(post_id, state, now(), last_error=_error(error, channel, now()))
        raise
    if state.published_at is not None:
        live.remove(channel, state.published_at, post_id)
    deleted = posts.transition(post_id, state, now(), status="deleted")
    audit("post.unpublish", post_id, {"channel": channel, "platform_post_id": state.platform_post_id})
    return deleted


def _claim_id() -> str:
    import uuid

    return uuid.uuid4().hex
