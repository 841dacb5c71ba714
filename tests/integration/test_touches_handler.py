import copy
import json
from datetime import datetime, timedelta, timezone

from tests.support import FakeLambdaContext, load_event, with_body


def _recent_batch() -> dict:
    """events/links/ingest_touches.json with its valid items moved to yesterday (the 90-day rule is relative)."""
    event = load_event("links/ingest_touches")
    body = json.loads(event["body"])
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    for item in body["touches"][:2]:
        item["occurred_at"] = yesterday
    return with_body(event, body)


def _count(local_aws, pk: str) -> int:
    return local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AttractTable"], KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}}, Select="COUNT")["Count"]


def test_ingest_records_valid_items_and_names_rejections(function_env, local_aws):
    links = function_env("LinksFunction")
    # When a batch with two good items and one bad one is posted
    response = links.lambda_handler(_recent_batch(), FakeLambdaContext())
    body = json.loads(response["body"])
    # Then two are recorded and the third is rejected with each broken rule named
    assert response["statusCode"] == 200 and (body["recorded"], body["rejected"]) == (2, 1)
    rejected = body["results"][2]
    assert {e["field"] for e in rejected["errors"]} >= {"campaign", "channel", "occurred_at"}
    # And the email touch is stored under the keyed hash, never the address
    table = local_aws.client("dynamodb")
    items = table.query(TableName=local_aws.refs["AttractTable"], KeyConditionExpression="PK = :pk",
                        ExpressionAttributeValues={":pk": {"S": "VISITOR#Ky6CYO0h4UJ06YCLle1L_A"}})["Items"]
    assert any(i["touch_id"]["S"] == body["results"][1]["touch_id"] for i in items)
    assert "lovelace" not in json.dumps(items).lower()


def test_repeated_import_changes_nothing(function_env, local_aws):
    links = function_env("LinksFunction")
    batch = _recent_batch()
    first = json.loads(links.lambda_handler(copy.deepcopy(batch), FakeLambdaContext())["body"])
    visitor_count = _count(local_aws, "VISITOR#Ky6CYO0h4UJ06YCLle1L_A")
    second = json.loads(links.lambda_handler(copy.deepcopy(batch), FakeLambdaContext())["body"])
    assert [r["touch_id"] for r in first["results"]] == [r["touch_id"] for r in second["results"]]
    assert _count(local_aws, "VISITOR#Ky6CYO0h4UJ06YCLle1L_A") == visitor_count


def test_all_rejected_is_422(function_env):
    event = with_body(load_event("links/ingest_touches"), {"touches": [{"channel": "tv"}]})
    response = function_env("LinksFunction").lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 422 and json.loads(response["body"])["rejected"] == 1


def test_oversized_batch_is_422_on_the_envelope(function_env):
    event = with_body(load_event("links/ingest_touches"), {"touches": [{}] * 101})
    body = json.loads(function_env("LinksFunction").lambda_handler(event, FakeLambdaContext())["body"])
    assert body["errors"][0]["field"] == "touches" and body["errors"][0]["rule"] == "too_long"
