import json

from attract.aws import from_item
from tests.support import FakeLambdaContext, load_event, with_body


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def test_create_then_read_link(function_env, local_aws):
    links = function_env("LinksFunction")
    # When a marketer creates a link
    status, created = _invoke(links, load_event("links/create_link"))
    # Then it gets a short code and a tracked URL on the public base, and the item is in the table
    assert status == 201
    assert created["url"].endswith(f"/r/{created['code']}") and created["source"] == "linkedin"
    event = load_event("links/get_link")
    event["pathParameters"]["code"] = created["code"]
    event["rawPath"] = f"/links/{created['code']}"
    status, read = _invoke(links, event)
    assert status == 200 and read["destination"] == created["destination"] and read["clicks"] == 0
    item = local_aws.client("dynamodb").get_item(
        TableName=local_aws.refs["AttractTable"], Key={"PK": {"S": f"LINK#{created['code']}"}, "SK": {"S": "LINK"}}
    )["Item"]
    assert from_item(item)["created_by"] == "6f1c8a52-3a4e-4d57-9a36-2f7d7c1e0a11"


def test_retried_create_returns_the_same_link(function_env):
    links = function_env("LinksFunction")
    body = json.loads(load_event("links/create_link")["body"])
    body["campaign"] = "Retry safety"
    first = _invoke(links, with_body(load_event("links/create_link"), body))[1]
    second = _invoke(links, with_body(load_event("links/create_link"), body))[1]
    assert first["code"] == second["code"]


def test_invalid_link_is_422_naming_each_field(function_env):
    status, body = _invoke(function_env("LinksFunction"), load_event("links/create_link_invalid"))
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"destination", "channel"}
    assert all(e["rule"] and e["message"] for e in body["errors"])


def test_malformed_json_is_422_not_500(function_env):
    event = load_event("links/create_link")
    event["body"] = "{not json"
    status, body = _invoke(function_env("LinksFunction"), event)
    assert status == 422 and body["errors"][0]["rule"] == "json_invalid"


def test_recruiter_cannot_create_links(function_env):
    status, body = _invoke(function_env("LinksFunction"), load_event("links/create_link_as_recruiter"))
    assert status == 403 and body == {"message": "Requires group: marketers"}


def test_unknown_link_is_404(function_env):
    status, body = _invoke(function_env("LinksFunction"), load_event("links/get_link"))
    assert status == 404 and "AbCd1234" in body["message"]


def _create(links, destination: str, campaign: str):
    body = {**json.loads(load_event("links/create_link")["body"]), "destination": destination, "campaign": campaign}
    return _invoke(links, with_body(load_event("links/create_link"), body))


def test_destination_is_stored_and_redirected_normalised(function_env, local_aws):
    links = function_env("LinksFunction")
    status, created = _create(links, "https://Bücher.example/jobs/東京?city=東京", "Normalised destination")
    assert status == 201
    assert created["destination"] == "https://xn--bcher-kva.example/jobs/%E6%9D%B1%E4%BA%AC?city=%E6%9D%B1%E4%BA%AC"
    item = local_aws.client("dynamodb").get_item(
        TableName=local_aws.refs["AttractTable"], Key={"PK": {"S": f"LINK#{created['code']}"}, "SK": {"S": "LINK"}}
    )["Item"]
    assert from_item(item)["destination"] == created["destination"]


def test_destination_with_a_newline_is_422_naming_destination(function_env):
    status, body = _create(function_env("LinksFunction"), "https://careers.example.com/\r\nLocation: x", "CRLF")
    assert status == 422
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("destination", "url_control_character")]


def test_destination_hosts_allow_list_from_the_template(function_env, monkeypatch):
    from attract.settings import load_settings

    links = function_env("LinksFunction")
    assert load_settings().destination_hosts == ()  # the template's default: any host
    monkeypatch.setenv("DESTINATION_HOSTS", "careers.example.com,*.example.org")
    load_settings.cache_clear()
    status, body = _create(links, "https://evil.example/phish", "Allow-list refused")
    assert status == 422
    assert [(e["field"], e["location"], e["rule"]) for e in body["errors"]] == [
        ("destination", "body", "destination_host_not_allowed")]
    assert _create(links, "https://careers.example.com/jobs", "Allow-list exact")[0] == 201
    assert _create(links, "https://jobs.example.org/", "Allow-list wildcard")[0] == 201
    load_settings.cache_clear()
