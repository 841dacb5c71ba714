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


def test_the_publisher_publishes_through_the_real_adapters_against_the_sandboxes(function_env, local_aws, sandboxes):
    posts = function_env("PostsFunction")
    _drain(local_aws)
    created = _invoke(posts, with_body(load_event("posts/create_post"), _body(name="Publisher post")))[1]
    publisher = function_env("PostsPublisherFunction")
    records = [{"messageId": str(i), "receiptHandle": "r", "body": json.dumps(m), "attributes": {
        "ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"} for i, m in enumerate(_drain(local_aws))]
    result = publisher.lambda_handler({"Records": records}, FakeLambdaContext())
    assert result["batchItemFailures"] == []
    read = _invoke(posts, _for(load_event("posts/get_post"), created["id"]))[1]
    assert {s["status"] for s in read["channels"].values()} == {"published"}
    assert all(s["platform_post_id"] and s["url"] for s in read["channels"].values())
