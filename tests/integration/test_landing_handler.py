"""GET /l/{code}: an ad that lands on the careers page itself (tc_link), recorded by the tracking function (moto)."""

import json
import uuid

import pytest

from attract.aws import from_item
from tests.support import FakeLambdaContext, join_and_confirm_in_process, load_event, stored_attribution, with_body

GCLID = "Cj0KCQiA-landing"


@pytest.fixture
def ad_link(function_env):
    """A campaign's paid-search link, as the launch creates it (a distinct campaign per test)."""
    links = function_env("LinksFunction")
    body = {"destination": "https://careers.example.com/jobs?team=data", "campaign": f"Search {uuid.uuid4().hex[:8]}",
            "channel": "paid_search", "source": "google", "medium": "cpc"}
    response = links.lambda_handler(with_body(load_event("links/create_link"), body), FakeLambdaContext())
    return json.loads(response["body"])


def _landing_event(code: str, query: dict | None = None, **headers: str) -> dict:
    event = load_event("tracking/landing")
    event["pathParameters"]["code"] = code
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/l/{code}"
    if query is not None:
        event["queryStringParameters"] = query
    event["headers"].update(headers)
    return event


def _land(tracking, code: str, query: dict | None = None, **headers: str) -> tuple[int, dict]:
    response = tracking.lambda_handler(_landing_event(code, query, **headers), FakeLambdaContext())
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Cache-Control"] == "no-store"
    return response["statusCode"], json.loads(response["body"])


def _table(local_aws):
    return local_aws.client("dynamodb"), local_aws.refs["AttractTable"]


def _touches(local_aws, visitor_id: str) -> list[dict]:
    dynamodb, table = _table(local_aws)
    items = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :touch)",
                           ExpressionAttributeValues={":pk": {"S": f"VISITOR#{visitor_id}"}, ":touch": {"S": "TOUCH#"}})
    return [from_item(item) for item in items["Items"]]


def _clicks(local_aws, code: str) -> int:
    dynamodb, table = _table(local_aws)
    items = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk",
                           ExpressionAttributeValues={":pk": {"S": f"LINK#{code}"}})["Items"]
    return sum(int(from_item(item).get("clicks", 0)) for item in items)


def _signer(local_aws):
    from attract.signing import Signer

    return Signer(local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["SigningKeySecret"])["SecretString"])


def _dynamodb_calls() -> list[str]:
    """The names of the DynamoDB calls the function's own client makes from now on."""
    from attract import aws

    calls: list[str] = []
    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb",
                                                lambda params, model, **_: calls.append(model.name))
    return calls


def test_a_landing_records_the_click_once_and_answers_signed_ids(function_env, local_aws, ad_link):
    tracking = function_env("TrackingFunction")
    code = ad_link["code"]
    # When t.js on the careers page reports the ad's landing (gclid, utm_*, where the person came from)
    status, ids = _land(tracking, code)
    # Then it answers the ids the redirect would have put in the URL, signed
    signer = _signer(local_aws)
    assert status == 200 and signer.is_visitor_id(ids["tc_vid"]) and signer.is_click_id(ids["tc_click"])
    # And the touch is the link's, with the ad click id, the utm values and the page the person came from
    (touch,) = _touches(local_aws, ids["tc_vid"])
    assert (touch["touch_id"], touch["origin"], touch["link_code"]) == (ids["tc_click"], "click", code)
    assert (touch["channel"], touch["source"], touch["campaign"]) == ("paid_search", "google", ad_link["campaign"])
    assert touch["click_ids"] == {"gclid": GCLID} and touch["utm"]["utm_campaign"] == "Data team"
    assert touch["referrer"] == "https://www.google.com/"
    # And the click lookups a join follows (tc_click) exist, and the link's count moved by one
    dynamodb, table = _table(local_aws)
    for kind, value in (("tc_click", ids["tc_click"]), ("gclid", GCLID)):
        assert "Item" in dynamodb.get_item(TableName=table, Key={
            "PK": {"S": f"CLICK#{kind}#{value}"}, "SK": {"S": f"VISITOR#{ids['tc_vid']}"}})
    assert _clicks(local_aws, code) == 1

    # When the page is reloaded (same gclid, the visitor id now kept) and opened elsewhere (no id)
    again = _land(tracking, code, {**_landing_event(code)["queryStringParameters"], "tc_vid": ids["tc_vid"]})
    elsewhere = _land(tracking, code)
    # Then nothing more is written or counted, and no click id is handed out
    assert again == (200, {"tc_vid": ids["tc_vid"], "tc_click": None})
    assert elsewhere[0] == 200 and elsewhere[1]["tc_click"] is None and elsewhere[1]["tc_vid"] != ids["tc_vid"]
    assert len(_touches(local_aws, ids["tc_vid"])) == 1 and _clicks(local_aws, code) == 1
    # And GET /links/{code}, what the marketer reads, says 1
    links = function_env("LinksFunction")
    event = load_event("links/get_link")
    event["pathParameters"]["code"] = code
    event["rawPath"] = f"/links/{code}"
    assert json.loads(links.lambda_handler(event, FakeLambdaContext())["body"])["clicks"] == 1


def test_a_join_from_a_landing_is_credited_to_the_campaign_as_through_the_redirect(function_env, local_aws, ad_link):
    # Given a landing recorded for the ad's link
    status, ids = _land(function_env("TrackingFunction"), ad_link["code"], {"gclid": f"Cj0-{uuid.uuid4().hex[:8]}"})
    assert status == 200
    # When the person joins with what t.js keeps (visitor id, tc_click) and confirms from the email
    email = f"landed-{uuid.uuid4().hex[:8]}@example.com"
    joins = function_env("JoinsFunction")
    response = join_and_confirm_in_process(joins, local_aws.endpoint, {
        "email": email, "name": "Ada", "consent": True, "visitor_id": ids["tc_vid"],
        "click_ids": {"tc_click": [ids["tc_click"]]}, "utm_source": "google", "utm_medium": "cpc"})
    # Then the join is credited to the campaign's click, exactly once
    assert response["statusCode"] == 200
    touches = stored_attribution(local_aws, email)
    assert [(t["touch_id"], t["channel"], t["source"], t["campaign"]) for t in touches] == [
        (ids["tc_click"], "paid_search", "google", ad_link["campaign"])]


def test_a_bot_rendering_the_page_gets_no_ids_and_counts_nothing(function_env, local_aws, ad_link):
    tracking = function_env("TrackingFunction")
    status, ids = _land(tracking, ad_link["code"], **{"user-agent": "AdsBot-Google (+http://www.google.com/adsbot.html)"})
    assert (status, ids) == (200, {"tc_vid": None, "tc_click": None})
    assert _clicks(local_aws, ad_link["code"]) == 0


def test_an_unsigned_visitor_id_in_the_query_is_replaced_by_a_signed_one(function_env, local_aws, ad_link):
    forged = uuid.uuid4().hex  # the visitor id format, unsigned (and this test's own: the table is shared)
    _, ids = _land(function_env("TrackingFunction"), ad_link["code"], {"gclid": "Cj0-forged", "tc_vid": forged})
    assert ids["tc_vid"] != forged and _signer(local_aws).is_visitor_id(ids["tc_vid"])
    assert _touches(local_aws, forged) == []


@pytest.mark.parametrize("code", ["x", "AbCd-1234", "%00AbCd1234", "😀" * 600, "A" * 3000, "../r/AbCd1234"])
def test_a_malformed_code_is_a_neutral_json_404_without_a_dynamodb_call(function_env, code):
    tracking = function_env("TrackingFunction")
    calls = _dynamodb_calls()
    assert _land(tracking, code) == (404, {"message": "Not found"})
    assert calls == []


def test_an_unknown_code_is_the_same_404(function_env):
    # A forged code that has the right shape costs one read and says no more than a malformed one
    assert _land(function_env("TrackingFunction"), "Nope1234") == (404, {"message": "Not found"})


def test_the_referrer_is_where_the_person_came_from_never_the_careers_page(function_env, local_aws, ad_link):
    tracking = function_env("TrackingFunction")
    # t.js sends document.referrer as `ref`; an empty one is no referrer (never the Referer: the careers page)
    _, ids = _land(tracking, ad_link["code"], {"gclid": "Cj0-empty-ref", "ref": ""}, referer="https://careers.example.com/")
    assert "referrer" not in _touches(local_aws, ids["tc_vid"])[0]
    # A parallel-tracking hit has no `ref`: its Referer is the ad's page
    _, ids = _land(tracking, ad_link["code"], {"gclid": "Cj0-parallel"}, referer="https://www.google.com/")
    assert _touches(local_aws, ids["tc_vid"])[0]["referrer"] == "https://www.google.com/"


@pytest.mark.parametrize("query", [
    {"gclid": "😀" * 512},  # 2,048 bytes: as a key it would fail the transaction
    {"gclid": "\ufffd" * 4000, "utm_campaign": "x" * 100_000},  # invalid UTF-8 arrives as replacement characters
    {"fbclid": "a\x00b", "utm_source": "\ud800", "ref": "http://[::1"},  # NUL, a lone surrogate, an unparseable URL
    {"gclid": "g,h", "tc_vid": "😀" * 40, "tc_link": "x" * 5000},  # repeated names arrive comma-joined; junk ids
])
def test_hostile_values_never_5xx_and_stay_bounded(function_env, local_aws, ad_link, query):
    tracking = function_env("TrackingFunction")
    status, ids = _land(tracking, ad_link["code"], query)
    assert status == 200 and ids["tc_click"]
    (touch,) = _touches(local_aws, ids["tc_vid"])
    assert all(len(v.encode()) <= 512 for v in touch["click_ids"].values())
    assert all(len(v.encode()) <= 200 for v in touch["utm"].values())
    assert _clicks(local_aws, ad_link["code"]) == 1


@pytest.fixture
def dynamodb_down(monkeypatch):
    from attract import aws
    from attract_local.stack import reserved_port

    with reserved_port() as dead:  # held, never listening: refused, and no parallel worker's server can take it

        def down() -> None:
            monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead}")
            monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
            aws.client.cache_clear()

        yield down
    aws.client.cache_clear()


def test_dynamodb_down_on_an_uncached_link_is_a_json_503(function_env, ad_link, dynamodb_down):
    tracking = function_env("TrackingFunction")
    dynamodb_down()
    response = tracking.lambda_handler(_landing_event(ad_link["code"]), FakeLambdaContext())
    # The snippet is told to try later, in JSON: never an HTML page or a 5xx without a body
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"] == "5"
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"message": "Try again later"}


def test_dynamodb_down_on_a_cached_link_still_answers_ids_and_counts_the_loss(function_env, local_aws, ad_link,
                                                                               dynamodb_down, capsys):
    tracking = function_env("TrackingFunction")
    assert _land(tracking, ad_link["code"])[0] == 200  # the warm function now holds the link
    capsys.readouterr()
    dynamodb_down()
    status, ids = _land(tracking, ad_link["code"], {"gclid": "Cj0-during-outage"})
    assert status == 200 and _signer(local_aws).is_click_id(ids["tc_click"])
    assert '"ClickNotRecorded":[1.0]' in capsys.readouterr().out
