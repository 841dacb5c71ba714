import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from attract.aws import from_item
from tests.support import FakeLambdaContext, load_event, with_body

VISITOR = "Ky6CYO0h4UJ06YCLle1L_A"


@pytest.fixture
def link_code(function_env):
    links = function_env("LinksFunction")
    event = load_event("links/create_link")
    # A distinct campaign per test: an identical request would (rightly) return the same link.
    body = {**json.loads(event["body"]), "campaign": f"Campaign {uuid.uuid4().hex[:8]}"}
    response = links.lambda_handler(with_body(event, body), FakeLambdaContext())
    return json.loads(response["body"])["code"]


def _click_event(name: str, code: str) -> dict:
    event = load_event(name)
    event["pathParameters"]["code"] = code
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/r/{code}"
    return event


def _touches(local_aws, visitor_id: str) -> list[dict]:
    response = local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AttractTable"],
        KeyConditionExpression="PK = :pk AND begins_with(SK, :touch)",
        ExpressionAttributeValues={":pk": {"S": f"VISITOR#{visitor_id}"}, ":touch": {"S": "TOUCH#"}},
    )
    return [from_item(item) for item in response["Items"]]


def _clicks(local_aws, code: str) -> int:
    """The link's clicks as stored: its counter shards (and the link item's own counter) summed."""
    items = local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AttractTable"], KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LINK#{code}"}})["Items"]
    return sum(int(from_item(item).get("clicks", 0)) for item in items)


def test_click_redirects_records_touch_and_counts(function_env, local_aws, link_code):
    visitor = _signer(local_aws).new_visitor_id()  # a cookie the redirect issued before
    before = len(_touches(local_aws, visitor))
    tracking = function_env("TrackingFunction")
    # When a browser with a tc_vid cookie follows the link with a gclid
    event = _click_event("tracking/click", link_code)
    event["cookies"] = [f"tc_vid={visitor}"]
    response = tracking.lambda_handler(event, FakeLambdaContext())
    # Then it is sent to the destination (own query kept) with the same visitor id and a click id
    assert response["statusCode"] == 302
    location = urlsplit(response["headers"]["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "careers.example.com" and query["team"] == ["platform"]
    assert query["tc_vid"] == [visitor] and query["gclid"] == ["Cj0KCQiA-test"]
    assert any(c.startswith(f"tc_vid={visitor};") and "HttpOnly" in c for c in response["cookies"])
    # And the touch, its click-id lookups and the link's counter are stored
    touches = _touches(local_aws, visitor)
    assert len(touches) == before + 1
    touch = next(t for t in touches if t["touch_id"] == query["tc_click"][0])
    assert (touch["channel"], touch["link_code"], touch["referrer"]) == ("paid_social", link_code, "https://www.linkedin.com/feed/")
    lookup = local_aws.client("dynamodb").get_item(
        TableName=local_aws.refs["AttractTable"],
        Key={"PK": {"S": "CLICK#gclid#Cj0KCQiA-test"}, "SK": {"S": f"VISITOR#{visitor}"}})
    assert "Item" in lookup
    assert _clicks(local_aws, link_code) == 1


def test_a_signed_visitor_id_in_the_query_never_becomes_the_cookie(function_env, local_aws, link_code):
    # Issue 13 (visitor fixation): /r/{code}?tc_vid=<someone's id> made a clean browser adopt that id as its
    # cookie for a year, and its confirmed join was then credited with the other person's clicks.
    someone = _signer(local_aws).new_visitor_id()
    event = _click_event("tracking/click", link_code)
    event.pop("cookies", None)  # a clean browser
    event["queryStringParameters"] = {**(event.get("queryStringParameters") or {}), "tc_vid": someone}
    event["rawQueryString"] = f"tc_vid={someone}"
    response = function_env("TrackingFunction").lambda_handler(event, FakeLambdaContext())
    # Then the browser gets a new id of its own: in its cookie, in the URL and on the touch
    assert response["statusCode"] == 302
    issued = parse_qs(urlsplit(response["headers"]["Location"]).query)["tc_vid"][0]
    assert issued != someone and _signer(local_aws).is_visitor_id(issued)
    assert not any(someone in cookie for cookie in response["cookies"])
    assert any(cookie.startswith(f"tc_vid={issued};") for cookie in response["cookies"])
    assert _touches(local_aws, someone) == [] and len(_touches(local_aws, issued)) == 1


def test_an_unsigned_visitor_cookie_is_replaced_by_signed_ids(function_env, local_aws, link_code):
    # Finding 2: ids a join trusts must be ones the redirect issued; the sample event's cookie is unsigned.
    response = function_env("TrackingFunction").lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    signer = _signer(local_aws)
    assert query["tc_vid"] != [VISITOR] and signer.is_visitor_id(query["tc_vid"][0])
    assert signer.is_click_id(query["tc_click"][0])


def _signer(local_aws):
    from attract.signing import Signer

    return Signer(local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["SigningKeySecret"])["SecretString"])


def test_bot_click_redirects_without_recording(function_env, local_aws, link_code):
    tracking = function_env("TrackingFunction")
    response = tracking.lambda_handler(_click_event("tracking/click_bot", link_code), FakeLambdaContext())
    assert response["statusCode"] == 302 and not response.get("cookies")
    assert _clicks(local_aws, link_code) == 0


def test_unknown_code_is_a_404_page(function_env):
    response = function_env("TrackingFunction").lambda_handler(load_event("tracking/click"), FakeLambdaContext())
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"].startswith("text/html") and "does not exist" in response["body"]


# ---------------------------------------------------------------- issue 6

def _dynamodb_calls(module) -> list[tuple[str, dict]]:
    """Every DynamoDB call the function's own client makes from now on (botocore's event hook)."""
    from attract import aws

    calls: list[tuple[str, dict]] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb", lambda params, model, **_: calls.append((model.name, params)))
    return calls


def test_head_answers_like_get_without_a_touch(function_env, local_aws, link_code):
    tracking = function_env("TrackingFunction")
    event = _click_event("tracking/click", link_code)
    event["requestContext"]["http"]["method"] = "HEAD"
    event["routeKey"] = event["requestContext"]["routeKey"] = "HEAD /r/{code}"
    response = tracking.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 302 and not response.get("cookies")
    assert urlsplit(response["headers"]["Location"]).netloc == "careers.example.com"
    assert _clicks(local_aws, link_code) == 0


@pytest.mark.parametrize("code", ["x", "AbCd-1234", "%00AbCd1234", "😀" * 600, "A" * 3000])
def test_malformed_code_is_the_404_page_without_a_dynamodb_call(function_env, code):
    tracking = function_env("TrackingFunction")
    calls = _dynamodb_calls(tracking)
    event = load_event("tracking/click")
    event["pathParameters"]["code"] = code
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/r/{code}"
    response = tracking.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 404 and "does not exist" in response["body"]
    assert calls == []


def test_512_emoji_in_gclid_still_record_the_click(function_env, local_aws, link_code):
    # 512 emoji are 2,048 bytes: as a CLICK#gclid#… partition key they used to fail the whole transaction.
    tracking = function_env("TrackingFunction")
    event = _click_event("tracking/click", link_code)
    event["queryStringParameters"] = {"gclid": "😀" * 512}
    response = tracking.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 302 and _clicks(local_aws, link_code) == 1


def test_the_click_transaction_never_touches_the_shared_link_items(function_env, local_aws, link_code):
    tracking = function_env("TrackingFunction")
    calls = _dynamodb_calls(tracking)
    for _ in range(3):
        assert tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())["statusCode"] == 302
    transactions = [params for name, params in calls if name == "TransactWriteItems"]
    assert len(transactions) == 3
    keys = [next(iter(action.values()))["Item"]["PK"]["S"] for params in transactions for action in params["TransactItems"]]
    assert not [key for key in keys if key.startswith("LINK#")]
    # The count is kept in shards outside the transaction, and GET /links/{code} sums them; each click also adds
    # one to its day's report keys (AGG#clicks): one more light UpdateItem per click, never in the transaction
    updates = [params["Key"]["PK"]["S"] for name, params in calls if name == "UpdateItem"]
    assert updates.count(f"LINK#{link_code}") == 3 and updates.count("AGG#clicks") == 3 and len(updates) == 6
    assert _clicks(local_aws, link_code) == 3
    links = function_env("LinksFunction")
    event = load_event("links/get_link")
    event["pathParameters"]["code"] = link_code
    event["rawPath"] = f"/links/{link_code}"
    assert json.loads(links.lambda_handler(event, FakeLambdaContext())["body"])["clicks"] == 3


def test_dynamodb_down_still_sends_the_person_on_and_counts_the_loss(function_env, local_aws, link_code,
                                                                      dynamodb_down, capsys, caplog):
    tracking = function_env("TrackingFunction")
    assert tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())["statusCode"] == 302
    capsys.readouterr()
    dynamodb_down()
    # When a warm function (link cached) cannot write the touch
    response = tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    # Then the person still gets the destination with the ids, and the loss is a metric and a log line
    assert response["statusCode"] == 302
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    visitor = query["tc_vid"][0]
    assert _signer(local_aws).is_visitor_id(visitor) and query["tc_click"] and query["gclid"] == ["Cj0KCQiA-test"]
    assert '"ClickNotRecorded":[1.0]' in capsys.readouterr().out
    lost = [vars(record) for record in caplog.records if getattr(record, "lost", None)]
    assert [(r["lost"], r["error_type"]) for r in lost] == [("touch", "EndpointConnectionError")]
    assert visitor not in str(lost) and VISITOR not in str(lost)


def test_dynamodb_down_on_an_uncached_link_is_a_503_page(function_env, link_code, dynamodb_down):
    tracking = function_env("TrackingFunction")
    dynamodb_down()
    response = tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    assert response["statusCode"] == 503 and response["headers"]["Content-Type"].startswith("text/html")
    assert response["headers"]["Retry-After"] == "5"


def test_without_the_signing_key_the_person_is_still_sent_on(function_env, local_aws, link_code, monkeypatch):
    tracking = function_env("TrackingFunction")
    from attract.settings import load_settings

    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", f"no-such-secret-{uuid.uuid4().hex[:6]}")
    load_settings.cache_clear()
    response = tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    assert response["statusCode"] == 302
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    assert not _signer(local_aws).is_visitor_id(query["tc_vid"][0])  # an id no join will trust
