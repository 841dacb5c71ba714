"""Hostile bodies get a 4xx with the JSON error shape from `reject_non_json`, before the resolver parses them."""

import base64
import json

import pytest

from attract.api import MAX_JSON_DEPTH, reject_non_json

JSON = {"content-type": "application/json"}


def _refusal(body: str, headers: dict | None = None, base64_encoded: bool = False) -> tuple[int, dict]:
    answer = reject_non_json({"headers": JSON if headers is None else headers, "body": body,
                              "isBase64Encoded": base64_encoded})
    assert answer is not None, "expected a refusal"
    return answer["statusCode"], json.loads(answer["body"])


def _only_error(body: dict) -> dict:
    assert set(body) == {"message", "errors"} and len(body["errors"]) == 1
    error = body["errors"][0]
    assert set(error) == {"field", "location", "rule", "message"}
    return error


def test_declared_non_json_bodies_are_415_and_json_or_undeclared_pass():
    status, body = _refusal("email=a%40b.co", {"content-type": "application/x-www-form-urlencoded"})
    assert status == 415 and _only_error(body)["field"] == "content-type"
    for headers in ({"content-type": "application/json; charset=utf-8"}, {"Content-Type": "application/problem+json"},
                    {"content-type": 'application/json; charset="UTF8"'}, {}):
        assert reject_non_json({"headers": headers, "body": "{}"}) is None
    assert reject_non_json({"headers": {"content-type": "text/plain"}, "body": None}) is None


@pytest.mark.parametrize("charset", ["latin1", "iso-8859-1", "utf-16", "utf-7", "ascii"])
def test_a_charset_other_than_utf8_is_415(charset):
    status, body = _refusal('{"a": "b"}', {"content-type": f"application/json; charset={charset}"})
    assert status == 415 and _only_error(body)["rule"] == "unsupported_charset"


def test_invalid_utf8_arrives_base64_encoded_and_is_422():
    # API Gateway base64-encodes a body that is not valid UTF-8 text.
    raw = base64.b64encode(b'{"campaign": "\xff\xfe caf\xe9"}').decode()
    status, body = _refusal(raw, base64_encoded=True)
    assert status == 422 and _only_error(body) == {
        "field": "body", "location": "body", "rule": "utf8_invalid", "message": "the body must be UTF-8 encoded JSON"}


def test_valid_utf8_sent_base64_encoded_passes():
    raw = base64.b64encode('{"campaign": "東京"}'.encode()).decode()
    assert reject_non_json({"headers": JSON, "body": raw, "isBase64Encoded": True}) is None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 200_000])
def test_deeply_nested_json_is_422(depth):
    status, body = _refusal("[" * depth + "]" * depth)
    assert status == 422 and _only_error(body)["rule"] == "json_too_deep"
    status, body = _refusal('{"a":' * depth + "1" + "}" * depth)
    assert status == 422 and _only_error(body)["rule"] == "json_too_deep"


def test_nesting_up_to_the_bound_passes():
    assert reject_non_json({"headers": JSON, "body": "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH}) is None


@pytest.mark.parametrize("number", ["9" * 4301, "-" + "1" * 10_000, "NaN", "Infinity", "-Infinity"])
def test_numbers_python_cannot_parse_or_json_does_not_allow_are_422(number):
    status, body = _refusal('{"touches": [{"n": ' + number + "}]}")
    assert status == 422 and _only_error(body)["rule"] == "json_number_invalid"


@pytest.mark.parametrize("body", ['{"campaign": "\\ud800"}', '{"\\udfff": 1}', '["ok", {"a": ["\\ud83d"]}]'])
def test_lone_surrogates_are_422(body):
    status, answer = _refusal(body)
    assert status == 422 and _only_error(answer)["rule"] == "utf8_invalid"


@pytest.mark.parametrize("body", ["{not json", '{"a": 1', "\ufeff{}"])
def test_malformed_json_is_422_json_invalid(body):
    status, answer = _refusal(body)
    assert status == 422 and _only_error(answer)["rule"] == "json_invalid"


def test_bodies_of_get_requests_are_not_parsed_at_all():
    event = {"headers": JSON, "body": "[" * 5000, "requestContext": {"http": {"method": "GET"}}}
    assert reject_non_json(event) is None


def test_well_formed_bodies_pass():
    body = json.dumps({"touches": [{"campaign": "東京 😀", "n": 10**100, "f": 1.5e300}]})
    assert reject_non_json({"headers": JSON, "body": body}) is None


def test_an_unexpected_error_is_a_json_500_and_its_log_line_carries_no_input(caplog):
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.exceptions import BadRequestError

    from attract.api import register_error_handlers
    from tests.support import FakeLambdaContext, load_event

    # A resolver wired like ours, with routes that fail the way a bug would, quoting the caller's input.
    app = APIGatewayHttpResolver(enable_validation=True)
    register_error_handlers(app)
    marker = "caller-input-7f3a"

    @app.post("/touches")
    def broken() -> dict:
        raise ValueError(f"cannot handle {marker}")

    @app.post("/links")
    def refused() -> dict:
        raise BadRequestError("bad")  # the resolver's own HTTP errors keep their status

    event = load_event("links/ingest_touches")
    response = app.resolve(event, FakeLambdaContext())
    assert response["statusCode"] == 500 and json.loads(response["body"]) == {"message": "Internal server error"}
    assert all(marker not in str(vars(record)) for record in caplog.records)
    assert [getattr(record, "error_type", None) for record in caplog.records if record.levelname == "ERROR"] == ["ValueError"]
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/links"
    assert app.resolve(event, FakeLambdaContext())["statusCode"] == 400


# ---- issue 13, item 3: every Content-Type a 415 or a 422, no key echoed, nosniff on every answer

@pytest.mark.parametrize("content_type", ["Application/JSON", "application/vnd.api+json", "application/problem+json",
                                          "APPLICATION/MERGE-PATCH+JSON; charset=UTF-8", "application/json;"])
def test_a_json_type_in_any_spelling_reaches_the_resolver_as_application_json(content_type):
    # Given a JSON body declared as JSON in a spelling the resolver does not know (it answered those with a 500)
    event = {"headers": {"Content-Type": content_type}, "body": '{"email": "a@b.co"}'}
    # When the body check lets it through
    assert reject_non_json(event) is None
    # Then the resolver is handed the one spelling it parses
    assert event["headers"] == {"content-type": "application/json"}


@pytest.mark.parametrize("content_type", ["text/plain", "*/*", "application/x-www-form-urlencoded", "image/png", "json"])
def test_an_empty_body_is_nothing_to_refuse_and_is_read_as_json(content_type):
    # Given a POST without a body, declared as anything
    event = {"headers": {"content-type": content_type}, "body": "", "requestContext": {"http": {"method": "POST"}}}
    # Then it is let through as JSON: a route that needs a body answers 422 "missing", never a 500
    assert reject_non_json(event) is None and event["headers"] == {"content-type": "application/json"}


@pytest.mark.parametrize("content_type", ["text/plain", "text/json", "*/*", "application/jsonx", "image/svg+xml", "x"])
def test_a_body_declared_as_anything_but_json_is_415(content_type):
    status, body = _refusal('{"a": 1}', {"content-type": content_type})
    assert status == 415 and _only_error(body)["rule"] == "unsupported_media_type"


def test_a_422_names_where_an_unknown_key_was_never_the_key_itself():
    from attract.api import INVALID_KEY, UNKNOWN_FIELD, describe_errors

    # Given pydantic's errors for an unknown key, a refused map key (and its value), and an unknown union tag
    hostile = "<script>alert(1)</script>"
    described = describe_errors([
        {"loc": ("body", "sender", hostile), "type": "extra_forbidden", "msg": "Extra inputs are not permitted",
         "input": 1},
        {"loc": ("body", "click_ids", hostile, "[key]"), "type": "literal_error", "msg": "Input should be 'gclid'"},
        {"loc": ("body", "click_ids", hostile, 0), "type": "string_too_long", "msg": "String should have at most 9"},
        {"loc": ("body", "source"), "type": "union_tag_invalid",
         "msg": f"Input tag '{hostile}' found using 'kind' does not match any of the expected tags: 'mysql'",
         "ctx": {"discriminator": "'kind'", "tag": hostile, "expected_tags": "'mysql'"}},
    ])
    # Then each error still says where and which rule, and nothing the caller sent is repeated
    assert [(e["field"], e["rule"]) for e in described] == [
        (f"sender.{UNKNOWN_FIELD}", "extra_forbidden"), (f"click_ids.{INVALID_KEY}", "literal_error"),
        (f"click_ids.{INVALID_KEY}[0]", "string_too_long"), ("source", "union_tag_invalid")]
    assert hostile not in json.dumps(described)
    assert described[3]["message"] == "'kind' must be one of 'mysql'"


def test_every_answer_of_an_http_function_says_nosniff():
    from attract.api import add_security_headers, with_security_headers

    # Given answers as the functions build them: resolver answers, ready refusals, HTML pages, bare ones
    @with_security_headers
    def handler(event, context):
        return event

    answers = [{"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": "<p>"},
               {"statusCode": 302, "multiValueHeaders": {"Location": ["https://x.example"]}},
               {"statusCode": 415, "headers": None, "body": "{}"}]
    # Then each carries nosniff, once, and an answer that set the header itself keeps its own value
    for answer in answers:
        assert handler(answer, None)["headers"]["X-Content-Type-Options"] == "nosniff"
    own = add_security_headers({"statusCode": 200, "headers": {"x-content-type-options": "nosniff"}})
    assert own["headers"] == {"x-content-type-options": "nosniff"}
    assert add_security_headers({"no": "statusCode"}) == {"no": "statusCode"}  # format 2.0's bare JSON answer
