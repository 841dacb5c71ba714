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


# ---- issue 13, item 3: any Content-Type on any JSON route is a 415 or a 422; every answer says nosniff

JSON_ROUTES = {**ROUTES, "POST /invite-campaigns": ("InviteApiFunction", "invites/create_campaign"),
               "POST /campaigns": ("CampaignsApiFunction", "campaigns/create")}
# (Content-Type, body) pairs that were 500s (the resolver knows only "application/json"), and their neighbours
DECLARED = [("application/vnd.api+json", "{}"), ("application/problem+json", "{}"), ("Application/JSON", "{}"),
            ("application/json; charset=UTF-8", "[]"), ("text/plain", ""), ("application/problem+json", ""),
            ("*/*", ""), ("application/x-www-form-urlencoded", ""), ("text/plain", "{}"), ("*/*", "{}"),
            ("multipart/form-data; boundary=x", "--x--")]


@pytest.mark.parametrize("route", sorted(JSON_ROUTES))
@pytest.mark.parametrize(("content_type", "body"), DECLARED)
def test_any_content_type_on_a_json_route_is_a_415_or_a_422_with_nosniff(function_env, route, content_type, body):
    # Given a body that is not a valid request (or none), declared as this type
    function, event_name = JSON_ROUTES[route]
    event = load_event(event_name)
    event["headers"] = {key: value for key, value in event["headers"].items() if key.lower() != "content-type"}
    event.update(body=body, isBase64Encoded=False)
    event["headers"]["content-type"] = content_type
    # When the function answers
    response = function_env(function).lambda_handler(event, FakeLambdaContext())
    # Then a JSON type is read as JSON (422), another type is refused (415), and never a 500
    assert response["statusCode"] in (415, 422), response["body"]
    assert isinstance(json.loads(response["body"]), dict)  # an error, or the touches' per-item results
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"


def test_every_route_of_the_template_answers_with_nosniff(function_env, local_aws):
    from attract_local.cfn import http_routes

    # Given every route the template declares, called as anonymous and as a marketer
    for route in http_routes(local_aws.template):
        module = function_env(route.function)
        for claims in (None, load_event("links/get_link")["requestContext"]["authorizer"]):
            event = load_event("links/get_link")
            path = route.path.replace("{code}", "AbCd1234").replace("{token}", "x.y").replace("{run_id}", "r-1")
            path = path.replace("{campaign_id}", "nosuchcampaign")
            event["routeKey"] = event["requestContext"]["routeKey"] = route.key
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
            event["requestContext"]["http"]["method"] = route.method
            event["pathParameters"] = {}
            event["requestContext"].pop("authorizer")
            if claims is not None:
                event["requestContext"]["authorizer"] = claims
            # When the function answers, whatever it answers
            response = module.lambda_handler(event, FakeLambdaContext())
            # Then the answer tells browsers never to sniff it
            assert response["headers"]["X-Content-Type-Options"] == "nosniff", (route.key, response["statusCode"])


def test_a_422_for_an_unknown_key_does_not_repeat_the_key(function_env):
    # Given a link request with an extra key made of markup
    hostile = "<img src=x onerror=alert(1)>"
    event = load_event("links/create_link")
    event["body"] = json.dumps({**json.loads(event["body"]), hostile: 1})
    # When it is refused
    response = function_env("LinksFunction").lambda_handler(event, FakeLambdaContext())
    # Then the error names the rule and where, not the key
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"] == [{"field": "(unknown field)", "location": "body",
                                                       "rule": "extra_forbidden",
                                                       "message": "Extra inputs are not permitted"}]
    assert hostile not in response["body"] and "onerror" not in response["body"]
