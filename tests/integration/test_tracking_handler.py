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
    item = local_aws.client("dynamodb").get_item(
        TableName=local_aws.refs["AttractTable"], Key={"PK": {"S": f"LINK#{code}"}, "SK": {"S": "LINK"}}
    )["Item"]
    return int(from_item(item)["clicks"])


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


def test_without_the_signing_key_the_person_is_still_sent_on(function_env, local_aws, link_code, monkeypatch):
    tracking = function_env("TrackingFunction")
    from attract.settings import load_settings

    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", f"no-such-secret-{uuid.uuid4().hex[:6]}")
    load_settings.cache_clear()
    response = tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    assert response["statusCode"] == 302
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    assert not _signer(local_aws).is_visitor_id(query["tc_vid"][0])  # an id no join will trust
