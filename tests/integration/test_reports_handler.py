"""GET /reports/attribution and /reports/funnels through the handler: CSV downloads, the new parameters' 422s."""

import json
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from attract.links.records import LinkTarget
from attract.tracking.repository import TouchRepository
from tests.support import FakeLambdaContext, load_event

DAY = datetime(2031, 3, 5, 9, tzinfo=timezone.utc)  # a day of its own in the shared table
HOSTILE = '=HYPERLINK("http://evil.example","x")<script>'


def _get(module, path: str, query: dict, headers: dict | None = None):
    event = load_event("reports/attribution")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
    event["queryStringParameters"], event["rawQueryString"] = query, urlencode(query)
    event["headers"] |= headers or {}
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response["body"], response.get("headers") or {}


@pytest.fixture
def hostile_clicks(local_aws):
    """Clicks of a link whose campaign a marketer named like a formula and a script (the day's only keys)."""
    name = f"{HOSTILE}{uuid.uuid4().hex[:6]}"
    link = LinkTarget(code="Hx" + uuid.uuid4().hex[:6], destination="https://careers.example.com/", campaign=name,
                      channel="referral", source="partner", medium="referral")
    for _ in range(3):
        TouchRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).count_day_click(link, DAY)
    return name


def test_report_as_csv_by_format_or_accept(function_env, hostile_clicks):
    reports = function_env("ReportsFunction")
    query = {"from": "2031-03-05", "to": "2031-03-05", "group_by": "campaign"}
    by_format = _get(reports, "/reports/attribution", query | {"format": "csv"})
    by_accept = _get(reports, "/reports/attribution", query, {"accept": "text/csv"})
    for status, body, headers in (by_format, by_accept):
        assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
        assert headers["Content-Disposition"] == 'attachment; filename="attribution-campaign-2031-03-05-2031-03-05.csv"'
        lines = body.split("\r\n")
        assert lines[0] == "\ufeffmodel,key,joins,touches,relevant_joins,clicks,join_rate,relevance_rate,currency,spend," \
                           "cost_per_join,cost_per_relevant_join"
        # The clicked campaign: 3 clicks, no join (join_rate 0); its name escaped and quoted, never a formula
        escaped = hostile_clicks.replace('"', '""')
        assert lines[1] == f"last_touch,\"'{escaped}\",0.0,0,0.0,3,0.0,,,,,"
        assert lines[2] == "last_touch,(total),0.0,0,0.0,3,0.0,,,,,"
    # And JSON stays the default, naming the profile counted
    status, body, _ = _get(reports, "/reports/attribution", query)
    assert status == 200 and json.loads(body)["rows"][0]["key"] == hostile_clicks and json.loads(body)["profile"] == "any"


def test_funnels_route_json_and_csv(function_env):
    reports = function_env("ReportsFunction")
    status, body, _ = _get(reports, "/reports/funnels", {"from": "2031-03-05", "to": "2031-03-05"})
    assert status == 200 and json.loads(body) == {"from": "2031-03-05", "to": "2031-03-05", "profile": "any", "campaigns": []}
    status, body, _ = _get(reports, "/reports/funnels", {"from": "2031-03-05", "to": "2031-03-05", "format": "csv"})
    assert status == 200 and body == "\ufeffkind,channel,campaign,step,count\r\n"


@pytest.mark.parametrize(("path", "query", "field"), [
    ("/reports/attribution", {"profile": "'; DROP TABLE"}, "profile"),
    ("/reports/attribution", {"profile": "prf_short"}, "profile"),
    ("/reports/attribution", {"group_by": "hour"}, "group_by"),
    ("/reports/attribution", {"model": "everything"}, "model"),
    ("/reports/attribution", {"format": "xlsx"}, "format"),
    ("/reports/funnels", {"profile": "x" * 500}, "profile"),
    ("/reports/funnels", {"model": "all"}, "model"),  # a funnel credits joins under one model
])
def test_bad_parameters_are_422_naming_the_field(function_env, path, query, field):
    status, body, _ = _get(function_env("ReportsFunction"), path, {"from": "2031-03-01", "to": "2031-03-05"} | query)
    assert status == 422, body
    assert [error["field"] for error in json.loads(body)["errors"]] == [field]


def test_model_all_and_week_over_http(function_env):
    status, body, _ = _get(function_env("ReportsFunction"), "/reports/attribution",
                           {"from": "2031-03-01", "to": "2031-03-12", "model": "all", "group_by": "week"})
    body = json.loads(body)
    assert status == 200 and body["rows"] == [] and list(body["by_model"]) == [
        "first_touch", "last_touch", "linear", "time_decay", "position_based"]
    # 1 Mar 2031 is a Saturday: ISO weeks 9 (to Sunday 2 Mar), 10, 11 (from Monday 10 Mar)
    assert [row["key"] for row in body["by_model"]["linear"]] == ["2031-W09", "2031-W10", "2031-W11"]


def test_a_report_for_an_unknown_or_deleted_profile_is_404_not_zero(function_env):
    # Given a profile created through its own route (events/profiles/create.json), then one id nobody created
    profiles = function_env("ProfilesFunction")
    created = profiles.lambda_handler(load_event("profiles/create"), FakeLambdaContext())
    assert created["statusCode"] == 201, created["body"]
    known, unknown = json.loads(created["body"])["id"], "prf_" + "Z" * 16
    reports = function_env("ReportsFunction")
    window = {"from": "2031-03-01", "to": "2031-03-05"}
    for path in ("/reports/attribution", "/reports/funnels"):
        # When a recruiter asks for each
        status, body, _ = _get(reports, path, window | {"profile": known})
        # Then the known one answers, naming it; the mistyped one is a 404, never a silent "0 relevant joins"
        assert status == 200 and json.loads(body)["profile"] == known, body
        status, body, _ = _get(reports, path, window | {"profile": unknown})
        assert status == 404 and json.loads(body)["message"] == "No such profile", body
