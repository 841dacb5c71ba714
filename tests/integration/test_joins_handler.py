import json
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from attract.aws import from_item
from attract.identity import email_hash

from tests.support import FakeLambdaContext, load_event, with_body


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_join_event_creates_member_attribution_and_aggregates(function_env, local_aws):
    joins = function_env("JoinsFunction")
    status, body = _invoke(joins, load_event("joins/join"))
    assert status == 201 and body["created"] is True
    # The member item holds the normalised email; nothing else does
    table = local_aws.refs["AttractTable"]
    dynamodb = local_aws.client("dynamodb")
    pepper = local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    pk = {"S": f"MEMBER#{email_hash('grace.hopper@example.com', pepper)}"}
    member = from_item(dynamodb.get_item(TableName=table, Key={"PK": pk, "SK": {"S": "MEMBER"}})["Item"])
    assert member["email"] == "grace.hopper@example.com" and member["consent"]["text_version"] == "v1"
    assert member["member_id"] == body["member_id"]
    attribution = dynamodb.get_item(TableName=table, Key={"PK": pk, "SK": {"S": "ATTRIBUTION"}})["Item"]
    assert "grace" not in json.dumps(attribution).lower()
    # Each dimension's aggregate and the totals for today exist (queried the way the report reads them), no personal data
    for partition in ("AGG#channel", "AGG#campaign", "AGG#source", "AGG#totals"):
        items = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :day)",
                               ExpressionAttributeValues={":pk": {"S": partition},
                                                          ":day": {"S": f"DAY#{body['joined_at'][:10]}"}})["Items"]
        assert items, partition
        assert "grace" not in json.dumps(items).lower()


def test_invalid_join_event_names_each_field(function_env):
    status, body = _invoke(function_env("JoinsFunction"), load_event("joins/join_invalid"))
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"email", "name", "consent", "skills"}


def test_report_event_for_a_recruiter(function_env):
    status, body = _invoke(function_env("ReportsFunction"), load_event("reports/attribution"))
    assert status == 200 and (body["model"], body["group_by"], body["from"]) == ("time_decay", "campaign", "2026-11-01")
    assert set(body) == {"model", "group_by", "from", "to", "rows", "totals", "limit", "folded_rows"}


def _report_today(function_env, **query) -> dict:
    today = datetime.now(timezone.utc).date().isoformat()
    query = {"from": today, "to": today, "model": "linear", "group_by": "channel"} | query
    event = load_event("reports/attribution")
    event["queryStringParameters"], event["rawQueryString"] = query, urlencode(query)
    status, body = _invoke(function_env("ReportsFunction"), event)
    assert status == 200, body
    return body


def test_report_rows_and_totals_move_by_exactly_one_join(function_env):
    # Given today's report, then one direct join
    before = _report_today(function_env)
    assert _invoke(function_env("JoinsFunction"),
                   with_body(load_event("joins/join"), {"email": f"shape-{uuid.uuid4().hex}@example.com", "name": "S",
                                                        "consent": True}))[0] == 201
    after = _report_today(function_env)
    # Then the totals grew by one join of one touch, the direct row by exactly that, and the rows add up to the totals
    assert (after["totals"]["joins"], after["totals"]["touches"]) == (before["totals"]["joins"] + 1,
                                                                        before["totals"]["touches"] + 1)
    rows_before, rows_after = ({row["key"]: row for row in report["rows"]} for report in (before, after))
    assert rows_after["direct"]["joins"] == pytest.approx(rows_before.get("direct", {"joins": 0})["joins"] + 1)
    assert all(row.keys() == {"key", "joins", "touches"} for row in after["rows"])
    assert sum(row["joins"] for row in after["rows"]) == pytest.approx(after["totals"]["joins"], abs=1e-6)
    assert sum(row["touches"] for row in after["rows"]) == after["totals"]["touches"]
    capped = _report_today(function_env, limit="1")
    assert [row["key"] for row in capped["rows"]] == ["(other)"] and capped["totals"] == after["totals"]


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_report_limit_out_of_bounds_is_422(function_env, limit):
    event = load_event("reports/attribution")
    event["queryStringParameters"]["limit"] = limit
    event["rawQueryString"] += f"&limit={limit}"
    status, body = _invoke(function_env("ReportsFunction"), event)
    assert status == 422 and body["errors"][0]["field"] == "limit"


def test_unknown_model_is_422(function_env):
    status, body = _invoke(function_env("ReportsFunction"), load_event("reports/attribution_as_marketer_bad_model"))
    assert status == 422 and body["errors"][0]["field"] == "model"


def test_join_retry_with_same_body_is_200(function_env):
    joins = function_env("JoinsFunction")
    event = with_body(load_event("joins/join"), {"email": "retry@example.com", "name": "R", "consent": True})
    assert _invoke(joins, event)[0] == 201
    assert _invoke(joins, event)[0] == 200
