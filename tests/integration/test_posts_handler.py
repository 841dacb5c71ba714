"""The posts API in-process against the moto server: create (links, claims, queue or schedule), read, delete,
limits as 422s before anything is stored; the publisher with the real adapters once they are merged."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import FakeLambdaContext, load_event, with_body


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def _for(event: dict, post_id: str) -> dict:
    event["pathParameters"]["post_id"] = post_id
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/posts/{post_id}"
    return event


def _drain(local_aws) -> list[dict]:
    sqs, url = local_aws.client("sqs"), local_aws.refs["PostsQueue"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _body(**changes) -> dict:
    return json.loads(load_event("posts/create_post")["body"]) | changes


def test_create_read_delete_a_post(function_env, local_aws):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    # When a marketer creates a post for the three channels, now
    status, created = _invoke(posts, with_body(load_event("posts/create_post"), _body(name="Handler post")))
    # Then each channel is scheduled with its own tracked link, and one message per channel is queued
    assert status == 201, created
    assert {c: s["status"] for c, s in created["channels"].items()} == dict.fromkeys(("facebook_page", "linkedin_org", "x"),
                                                                                     "scheduled")
    assert len({s["link"]["url"] for s in created["channels"].values()}) == 3
    assert sorted((m["channel"], m["action"]) for m in _drain(local_aws) if m["post_id"] == created["id"]) == [
        ("facebook_page", "publish"), ("linkedin_org", "publish"), ("x", "publish")]
    status, read = _invoke(posts, _for(load_event("posts/get_post"), created["id"]))
    assert status == 200 and read == created
    # And DELETE before anything was published cancels every channel, nothing to send to any platform
    status, deleting = _invoke(posts, _for(load_event("posts/delete_post"), created["id"]))
    assert status == 202 and deleting["status"] == "deleting"
    assert {s["status"] for s in deleting["channels"].values()} == {"deleted"}
    assert _drain(local_aws) == []
    assert _invoke(posts, _for(load_event("posts/delete_post"), created["id"]))[0] == 202  # idempotent


def test_a_retried_create_returns_the_same_post_and_queues_nothing_more(function_env, local_aws):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    body = _body(name="Retried post", channels=["x"])
    first = _invoke(posts, with_body(load_event("posts/create_post"), body))[1]
    second = _invoke(posts, with_body(load_event("posts/create_post"), body))[1]
    assert first["id"] == second["id"]
    assert [m["channel"] for m in _drain(local_aws)] == ["x"]


def test_limits_are_422_naming_field_and_rule_and_nothing_is_stored(function_env, local_aws):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    status, body = _invoke(posts, with_body(load_event("posts/create_post"),
                                            _body(text="a" * 300, image_url="https://cdn.example.com/a.svg")))
    assert status == 422
    assert sorted((e["field"], e["rule"]) for e in body["errors"]) == [
        ("image_url", "image_type"), ("image_url", "image_type"), ("image_url", "image_type"), ("text", "x.too_long")]
    assert _drain(local_aws) == []
    status, body = _invoke(posts, with_body(load_event("posts/create_post"), _body(channels=["x", "x"])))
    assert status == 422 and body["errors"][0]["field"] == "channels"


def test_publish_at_creates_a_one_time_schedule_targeting_the_queue_and_delete_removes_it(function_env, local_aws):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    status, created = _invoke(posts, with_body(load_event("posts/create_post"),
                                               _body(name="Scheduled post", publish_at=at.isoformat())))
    assert status == 201 and _drain(local_aws) == []
    scheduler = local_aws.client("scheduler")
    schedule = scheduler.get_schedule(Name=f"post-{created['id']}", GroupName="default")
    assert schedule["ScheduleExpression"] == f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["Target"]["Arn"].endswith(":" + local_aws.refs["PostsQueue"].rsplit("/", 1)[1])
    assert json.loads(schedule["Target"]["Input"]) == {"post_id": created["id"], "action": "publish"}
    assert "DeadLetterConfig" in schedule["Target"] and schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
    _invoke(posts, _for(load_event("posts/delete_post"), created["id"]))
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=f"post-{created['id']}", GroupName="default")


def test_only_marketers(function_env):
    event = load_event("posts/create_post")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[recruiters]"
    assert _invoke(function_env("PostsFunction"), event)[0] == 403


@pytest.fixture
def post_sandboxes(local_aws, monkeypatch):
    """The three platforms' wire sandboxes (Meta's Graph host serves the Page), their secrets filled, the endpoints
    pointed at them: the publisher and the metrics sync run the real adapters (SDKs) against them."""
    from aws_lambda_powertools.utilities import parameters

    from attract_local.ad_sandboxes import SANDBOXES, start_ad_sandboxes

    environ: dict[str, str] = {}
    started = start_ad_sandboxes(environ, {name: SANDBOXES[name] for name in ("meta", "linkedin", "x")})
    started.fill_secrets(local_aws)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()  # a secret read earlier in the session must not be reused
    yield started.started
    parameters.clear_caches()
    started.stop()


def _records(local_aws, post_id: str, receive_count: int) -> list[dict]:
    """The post's queued messages as the SQS event source hands them over (real receipt handles: the publisher
    changes a failed message's visibility); they stay queued, visible again at once, for the next delivery."""
    sqs, url = local_aws.client("sqs"), local_aws.refs["PostsQueue"]
    records: dict[str, dict] = {}
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          WaitTimeSeconds=0).get("Messages"):
        for message in messages:
            body = json.loads(message["Body"])
            records.setdefault(body["channel"], {
                "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
                "eventSource": "aws:sqs", "attributes": {"ApproximateReceiveCount": str(receive_count)}})
            assert body["post_id"] == post_id
    for record in records.values():
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
    return list(records.values())


def _platform_posts(sandboxes: dict) -> dict[str, int]:
    return {"facebook_page": len(sandboxes["meta"].posts), "linkedin_org": len(sandboxes["linkedin"].posts),
            "x": len(sandboxes["x"].live())}


def test_a_lost_answer_then_the_redelivery_posts_once_on_every_platform(function_env, local_aws, post_sandboxes):
    # Given each platform makes the next post and then loses its answer (the connection closes: the client saw nothing)
    post_sandboxes["meta"].fail_next("/feed", after_apply=True, drop=True, method="POST")
    post_sandboxes["linkedin"].fail_next("create", drop=True)
    post_sandboxes["x"].fail_next("create", "drop")
    posts, publisher = function_env("PostsFunction"), function_env("PostsPublisherFunction")
    _drain(local_aws)
    created = _invoke(posts, with_body(load_event("posts/create_post"), _body(name="Lost answers", image_url=None)))[1]
    # When the publisher handles the three messages: every answer is lost, so every message comes back
    records = _records(local_aws, created["id"], 1)
    first = publisher.lambda_handler({"Records": records}, FakeLambdaContext())
    assert len(first["batchItemFailures"]) == 3
    assert _platform_posts(post_sandboxes) == {"facebook_page": 1, "linkedin_org": 1, "x": 1}  # made, unanswered
    for record in records:  # the publisher's backoff has passed: visible again
        local_aws.client("sqs").change_message_visibility(QueueUrl=local_aws.refs["PostsQueue"],
                                                          ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
    # Then the redelivery looks each post up by its tracked link before posting, finds it, and posts nothing more
    second = publisher.lambda_handler({"Records": _records(local_aws, created["id"], 2)}, FakeLambdaContext())
    assert second["batchItemFailures"] == []
    assert _platform_posts(post_sandboxes) == {"facebook_page": 1, "linkedin_org": 1, "x": 1}
    read = _invoke(posts, _for(load_event("posts/get_post"), created["id"]))[1]
    assert {s["status"] for s in read["channels"].values()} == {"published"}
    # And a third delivery (SQS at least once) changes nothing either
    third = publisher.lambda_handler({"Records": _records(local_aws, created["id"], 3)}, FakeLambdaContext())
    assert third["batchItemFailures"] == []
    _drain(local_aws)
    assert _platform_posts(post_sandboxes) == {"facebook_page": 1, "linkedin_org": 1, "x": 1}


def test_each_platform_s_metrics_reach_the_report_through_the_real_adapters(function_env, local_aws, post_sandboxes):
    from attract.attribution.report_store import ReportStore

    posts, publisher = function_env("PostsFunction"), function_env("PostsPublisherFunction")
    _drain(local_aws)
    name = f"Metrics post {datetime.now(UTC):%H%M%S%f}"
    created = _invoke(posts, with_body(load_event("posts/create_post"), _body(name=name, image_url=None)))[1]
    records = _records(local_aws, created["id"], 1)
    assert publisher.lambda_handler({"Records": records}, FakeLambdaContext())["batchItemFailures"] == []
    _drain(local_aws)
    ids = {c: s["platform_post_id"] for c, s in
           _invoke(posts, _for(load_event("posts/get_post"), created["id"]))[1]["channels"].items()}
    # Given each platform reports its figures for the post (as its metrics API answers them)
    post_sandboxes["meta"].set_post_insights(ids["facebook_page"], impressions=1200, clicks=40)
    post_sandboxes["linkedin"].set_statistics(ids["linkedin_org"], impressions=500, clicks=12)
    post_sandboxes["x"].set_metrics(ids["x"], impressions=800, clicks=9)
    # When the hourly sync runs (twice: a sync replaces the day's figures, never adds)
    sync = function_env("PostsMetricsFunction")
    for _ in range(2):
        sync.lambda_handler({}, FakeLambdaContext())
    # Then the report's inputs hold the post's impressions and clicks under organic_social, at zero spend
    today = datetime.now(UTC).date()
    inputs = ReportStore(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).read(today, today, "campaign",
                                                                                             "any")
    assert inputs.ads[("organic_social", name)] == [2500, 61]
    assert name not in inputs.spend


def test_the_publisher_publishes_through_the_real_adapters_against_the_sandboxes(function_env, local_aws,
                                                                                  post_sandboxes):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    # (the image: each adapter's own tests upload one from its sandbox; here the post is text and link)
    created = _invoke(posts, with_body(load_event("posts/create_post"), _body(name="Publisher post", image_url=None)))[1]
    publisher = function_env("PostsPublisherFunction")
    result = publisher.lambda_handler({"Records": _records(local_aws, created["id"], 1)}, FakeLambdaContext())
    assert result["batchItemFailures"] == []
    read = _invoke(posts, _for(load_event("posts/get_post"), created["id"]))[1]
    assert {s["status"] for s in read["channels"].values()} == {"published"}
    assert all(s["platform_post_id"] and s["url"] for s in read["channels"].values())
    _drain(local_aws)
