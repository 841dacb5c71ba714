"""Bodies a fuzzer sends to every JSON route: each gets a 4xx with the JSON error shape, never a 500."""

import base64
import json

import pytest

from tests.support import FakeLambdaContext, load_event

HOSTILE = {
    "invalid_utf8": (base64.b64encode(b'{"campaign": "caf\xe9", "x": "\xff"}').decode(), True, 422, "utf8_invalid"),
    "deep_nesting": ('{"touches": ' + "[" * 100_000 + "]" * 100_000 + "}", False, 422, "json_too_deep"),
    "huge_integer": ('{"touches": [{"n": ' + "7" * 5000 + "}]}", False, 422, "json_number_invalid"),
    "lone_surrogate": ('{"campaign": "\\udc80"}', False, 422, "utf8_invalid"),
}
ROUTES = {"POST /links": ("LinksFunction", "links/create_link"),
          "POST /touches": ("LinksFunction", "links/ingest_touches"),
          "POST /joins": ("JoinsFunction", "joins/join")}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_body_is_a_json_4xx(function_env, route, case):
    function, event_name = ROUTES[route]
    body, encoded, status, rule = HOSTILE[case]
    event = load_event(event_name)
    event.update(body=body, isBase64Encoded=encoded)
    response = function_env(function).lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == status
    answer = json.loads(response["body"])
    assert answer["errors"] == [{"field": "body", "location": "body", "rule": rule, "message": answer["errors"][0]["message"]}]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_latin1_charset_is_415(function_env, route):
    function, event_name = ROUTES[route]
    event = load_event(event_name)
    event["headers"]["content-type"] = "application/json; charset=latin1"
    response = function_env(function).lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 415
    assert json.loads(response["body"])["errors"][0]["rule"] == "unsupported_charset"
