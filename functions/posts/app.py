"""Marketer API for organic posts: POST /posts, GET /posts/{id}, DELETE /posts/{id} (group `marketers`).

Never calls a platform (no ads SDK here): the publisher (functions/posts/publisher) does, from PostsQueue, one
message per (post, channel). Platform limits are checked here, before anything is stored or sent.
"""

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.api import (
    caller_id,
    json_response,
    register_error_handlers,
    register_idempotency_errors,
    reject_non_json,
    reject_unless_group,
    with_security_headers,
)
from attract.audit import audit_request
from attract.clock import utc_now
from attract.links.logic import check_destination_host, tracked_url
from attract.links.models import CreateLinkRequest
from attract.links.repository import LinkRepository
from attract.observability import logger, metrics, tracer
from attract.posts.limits import check_limits
from attract.posts.logic import (
    CreatePostCommand,
    delete_post,
    get_post,
    idempotent_create_post,
    post_response,
)
from attract.posts.models import CreatePostRequest, PostId, PostResponse
from attract.posts.repository import PostRepository
from attract.providers.planning_triggers import SchedulerSchedules, SqsPlanQueue
from attract.settings import PostsSettings

load_settings = PostsSettings.load
load_settings()

GROUPS = ("marketers",)
app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
register_idempotency_errors(app)

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token"}, 403: {"description": "Not a marketer"},
    422: {"description": "Invalid input or a platform limit broken: each named with its field and rule"}}


@lru_cache(maxsize=1)
def _posts() -> PostRepository:
    return PostRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _links() -> LinkRepository:
    return LinkRepository(load_settings().table_name)


@lru_cache(maxsize=1)
def _queue() -> SqsPlanQueue:
    return SqsPlanQueue(load_settings().posts_queue_url)


@lru_cache(maxsize=1)
def _schedules() -> SchedulerSchedules:
    settings = load_settings()
    return SchedulerSchedules(settings.posts_queue_arn, settings.posts_scheduler_role_arn,
                              settings.posts_schedule_dead_letter_arn)


def _base_url() -> str:
    configured = load_settings().public_base_url
    return configured or f"https://{app.current_event.request_context.domain_name}"


def _audit(action: str, post_id: str, details: dict) -> None:
    audit_request(app.current_event.raw_event, action, "post", post_id, details=details)


@app.post("/posts", summary="Create an organic post on the employer's pages (now, or at publish_at)", tags=["posts"],
          responses={201: {"description": "Created: the post, each channel's state and tracked link (a retried "
                                          "identical request returns the same post)"}, **ERRORS})
def create(request: Annotated[CreatePostRequest, Body()]) -> Response[PostResponse]:
    settings, now = load_settings(), utc_now()
    check_destination_host(CreateLinkRequest.model_construct(destination=request.destination), settings.destination_hosts)
    check_limits(request, len(tracked_url(_base_url(), "x" * 8)), now)
    create_once = idempotent_create_post(settings.idempotency_table_name, settings.idempotency_seconds)
    create_once.config.register_lambda_context(app.lambda_context)
    post = create_once(command=CreatePostCommand(owner=caller_id(app), request=request), posts=_posts(),
                       links=_links(), queue=_queue(), schedules=_schedules(), now=now, base_url=_base_url())
    _audit("post.create", post.id, {"channels": post.channels, "links": post.link_codes,
                                    "publish_at": post.publish_at.isoformat() if post.publish_at else None})
    metrics.add_metric(name="PostsCreated", unit=MetricUnit.Count, value=1)
    logger.info("post created", extra={"post_id": post.id, "channels": post.channels, "scheduled": bool(post.publish_at)})
    return json_response(201, post_response(*get_post(post.id, _posts())))


@app.get("/posts/<post_id>", summary="Read a post: each channel's status, platform post id and URL, last error",
         tags=["posts"], responses={200: {"description": "The post"}, 404: {"description": "Unknown post"}, **ERRORS})
def read(post_id: Annotated[PostId, Path()]) -> PostResponse:
    return post_response(*get_post(post_id, _posts()))


@app.delete("/posts/<post_id>", summary="Delete a post from every platform it was published on (a scheduled one "
                                        "is cancelled)", tags=["posts"],
            responses={202: {"description": "Deleting: channels not yet published are cancelled, the others are "
                                            "removed by the publisher (GET shows each reach `deleted`)"},
                       404: {"description": "Unknown post"}, **ERRORS})
def delete(post_id: Annotated[PostId, Path()]) -> Response[PostResponse]:
    post, states = delete_post(post_id, posts=_posts(), queue=_queue(), schedules=_schedules(), now=utc_now())
    _audit("post.delete", post_id, {"channels": {channel: state.status for channel, state in states.items()}})
    logger.info("post deleting", extra={"post_id": post_id})
    return json_response(202, post_response(post, states))


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return reject_unless_group(event, *GROUPS) or reject_non_json(event) or app.resolve(event, context)
