"""The marketer's side of posts: create (tracked links, stored claims, a schedule or queued messages), read, delete.

Publishing itself is the worker's (attract.posts.publishing): the API never calls a platform, so a slow or
failing platform never holds a marketer's request, and every call is made by the one place that claims first.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from pydantic import BaseModel

from attract.errors import AlreadyExistsError, NotFoundError
from attract.idempotency import once_per_command
from attract.links.logic import LinkStore, new_code, tracked_url
from attract.links.models import Link
from attract.posts.channels import organic_channel
from attract.posts.models import ChannelResponse, ChannelState, CreatePostRequest, Post, PostResponse, TrackedLinkOut
from attract.posts.repository import ClaimLostError, PostRepository

MEDIUM = "social"


class PostQueue(Protocol):
    def send(self, body: dict) -> None: ...


class PostSchedules(Protocol):
    def put(self, name: str, expression: str, timezone: str, payload: str) -> None: ...
    def delete(self, name: str) -> None: ...


class CreatePostCommand(BaseModel):
    """What makes two create requests "the same" for idempotency: who asked, and for what."""

    owner: str
    request: CreatePostRequest


def schedule_name(post_id: str) -> str:
    return f"post-{post_id}"


def at_expression(moment: datetime) -> str:
    """Scheduler's one-time `at(yyyy-mm-ddThh:mm:ss)`, in UTC (seconds rounded up: never before publish_at)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc.strftime('%Y-%m-%dT%H:%M:%S')})"


def create_post(command: CreatePostCommand, *, posts: PostRepository, links: LinkStore, queue: PostQueue,
                schedules: PostSchedules, now: datetime, base_url: str, id_factory: Callable[[], str] = lambda: uuid.uuid4().hex) -> Post:
    """One tracked link per channel (channel organic_social, the row's source, campaign = name), the post and
    its channels stored `scheduled`, then a one-time schedule (publish_at) or one message per channel (now)."""
    request = command.request
    post_id = id_factory()
    codes: dict[str, str] = {}
    for channel in request.channels:
        row = organic_channel(channel)
        for _ in range(4):  # a taken code (rare) is drawn again, as for POST /links
            code = new_code()
            try:
                links.create(Link(code=code, destination=request.destination, created_at=now,
                                  created_by=command.owner, campaign=request.name, channel="organic_social",  # type: ignore[arg-type]
                                  source=row.source, medium=MEDIUM))
                codes[channel] = code
                break
            except AlreadyExistsError:
                continue
        else:
            raise AlreadyExistsError("could not allocate a free link code")
    post = Post(id=post_id, name=request.name, text=request.text, destination=request.destination,
                channels=list(request.channels), publish_at=request.publish_at, image_url=request.image_url,
                link_codes=codes, link_urls={channel: tracked_url(base_url, code) for channel, code in codes.items()},
                schedule_name=schedule_name(post_id) if request.publish_at else None,
                created_at=now, created_by=command.owner)
    posts.create(post, now)
    if request.publish_at is not None:
        schedules.put(schedule_name(post_id), at_expression(request.publish_at), "UTC",
                      f'{{"post_id": "{post_id}", "action": "publish"}}')
    else:
        for name in post.channels:
            queue.send({"post_id": post_id, "channel": name, "action": "publish"})
    return post


class IdempotentCreatePost(Protocol):
    config: IdempotencyConfig

    def __call__(self, *, command: CreatePostCommand, posts: PostRepository, links: LinkStore, queue: PostQueue,
                 schedules: PostSchedules, now: datetime, base_url: str) -> Post: ...


@lru_cache(maxsize=4)
def idempotent_create_post(idempotency_table: str, expires_after_seconds: int) -> IdempotentCreatePost:
    """`create_post` once per (owner, request) within the window: a retry gets the same post, nothing sent twice."""
    def create_post_once(*, command: CreatePostCommand, posts: PostRepository, links: LinkStore, queue: PostQueue,
                         schedules: PostSchedules, now: datetime, base_url: str) -> Post:
        return create_post(command, posts=posts, links=links, queue=queue, schedules=schedules, now=now,
                           base_url=base_url)

    return once_per_command(create_post_once, idempotency_table=idempotency_table,  # type: ignore[no-any-return]
                            expires_after_seconds=expires_after_seconds, key_prefix="create_post")


def get_post(post_id: str, posts: PostRepository) -> tuple[Post, dict[str, ChannelState]]:
    found = posts.get(post_id)
    if found is None:
        raise NotFoundError(f"no post {post_id}")
    return found


def post_response(post: Post, states: dict[str, ChannelState]) -> PostResponse:
    channels = {}
    for channel in post.channels:
        state = states[channel]
        channels[channel] = ChannelResponse(
            status=state.status, link=TrackedLinkOut(code=state.link_code, url=post.link_urls[channel]),
            platform_post_id=state.platform_post_id, url=state.url, published_at=state.published_at,
            attempts=state.attempts, last_error=state.last_error)
    return PostResponse(id=post.id, name=post.name, text=post.text, destination=post.destination,
                        publish_at=post.publish_at, image_url=post.image_url, status=post.status,
                        created_at=post.created_at, channels=channels)


def delete_post(post_id: str, *, posts: PostRepository, queue: PostQueue, schedules: PostSchedules,
                now: datetime) -> tuple[Post, dict[str, ChannelState]]:
    """Mark the post `deleting`, cancel its schedule, cancel channels not yet published and queue a delete for
    the others (the worker removes each from its platform). Idempotent: a second DELETE repeats harmless steps."""
    post, states = get_post(post_id, posts)
    posts.mark_deleting(post_id)
    if post.schedule_name:
        schedules.delete(post.schedule_name)
    for channel, state in states.items():
        if state.status in ("scheduled", "failed"):
            try:
                states[channel] = posts.transition(post_id, state, now, status="deleted")
                continue
            except ClaimLostError:
                pass  # a worker claimed it meanwhile: the queued delete waits for it
        if states[channel].status != "deleted":
            queue.send({"post_id": post_id, "channel": channel, "action": "delete"})
    return get_post(post_id, posts)
