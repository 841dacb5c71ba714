"""The campaigns API handler through the real adapters and SDKs, against the local Google Ads and Meta sandboxes.

Wired as `make local` does it (attract_local.ad_sandboxes): the stack's platform secrets hold the
sandboxes' credentials, GOOGLE_ADS_ENDPOINT / META_GRAPH_URL / GRPC_DEFAULT_SSL_ROOTS_FILE_PATH point at
them, and `gateway_for` builds the adapters from those. The tests assert on what the sandboxes received
and hold: policy first (nothing reaches a platform), tracked links, stored ids, a resumable launch that
never creates anything twice, and the platforms' errors as API answers. One pair of sandboxes serves the
module; each test clears the faults it did not use and names its campaigns by their own ids.
"""

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from attract.aws import from_item, to_item
from attract.campaigns import policy
from attract.campaigns.models import GOOGLE_SEARCH, META, CampaignDraft
from attract.providers.google_ads import AUTO_TAGGING_OFF
from attract_local.ad_sandboxes import GRPC_ROOTS, AdSandboxes, start_ad_sandboxes
from attract_local.sandboxes.google_ads import GoogleAdsSandbox
from attract_local.sandboxes.meta import MetaSandbox
from tests.support import FakeLambdaContext, load_event, with_body

RETRY_ATTEMPTS = 3  # ADS_RETRY_ATTEMPTS for this module: a rate limit outlasts them quickly


@pytest.fixture(scope="module")
def started():
    # As `make local` does it: the process's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, if any, is kept and extended
    environ = {name: os.environ[name] for name in (GRPC_ROOTS,) if name in os.environ}
    sandboxes = start_ad_sandboxes(environ)
    assert set(sandboxes.started) == {"google", "google_datamanager", "meta", "linkedin", "x"}
    yield sandboxes, environ
    sandboxes.stop()


@pytest.fixture
def google(started) -> GoogleAdsSandbox:
    return started[0].started["google"]


@pytest.fixture
def meta(started) -> MetaSandbox:
    return started[0].started["meta"]


@pytest.fixture
def api(function_env, local_aws, started, monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    sandboxes, environ = started
    for name, value in {**environ, "ADS_RETRY_ATTEMPTS": str(RETRY_ATTEMPTS), "ADS_RETRY_BASE_SECONDS": "0.001"}.items():
        monkeypatch.setenv(name, value)
    sandboxes.fill_secrets(local_aws)
    parameters.clear_caches()  # secrets another test read (the template's placeholders)
    for sandbox in sandboxes.started.values():
        sandbox.clear_faults()
    yield function_env("CampaignsApiFunction")
    for sandbox in sandboxes.started.values():
        sandbox.clear_faults()


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None, response


def _event(name: str, campaign_id: str | None = None, action: str | None = None) -> dict:
    event = load_event(f"campaigns/{name}")
    if campaign_id is not None:
        path = f"/campaigns/{campaign_id}" + (f"/{action}" if action else "")
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {"campaign_id": campaign_id}
        if action:
            event["routeKey"] = event["requestContext"]["routeKey"] = f"POST /campaigns/{{campaign_id}}/{action}"
    return event


def _action(campaign_id: str, action: str) -> dict:
    return _event("launch", campaign_id, action)


def _draft_body(event: dict, **changes) -> dict:
    """The sample event's draft dated from today: a draft whose end has passed is refused (dates.end_in_past),
    whatever day the suite runs."""
    today = datetime.now(UTC).date()
    return {**json.loads(event["body"]), "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(), **changes}


def _create(api, **changes) -> dict:
    # A name of its own: an identical draft from the same marketer within the hour is the same campaign.
    event = load_event("campaigns/create")
    body = _draft_body(event, **{"name": f"Data engineers {uuid.uuid4().hex[:8]}", **changes})
    status, created, _ = _invoke(api, with_body(event, body))
    assert status == 201, created
    return created


def _platform_name(created: dict) -> str:
    return f"{created['draft']['name']} [attract:{created['id']}]"


def _received(google: GoogleAdsSandbox, meta: MetaSandbox) -> tuple[int, int]:
    return len(google.received), len(meta.received)


def _google_campaigns(google: GoogleAdsSandbox, name: str) -> list:
    return [c for c in google.resources["campaigns"].values() if c.name == name]


def _google_creates(google: GoogleAdsSandbox, name: str) -> int:
    """Mutate requests that created a campaign of this name (applied or not)."""
    return sum(1 for request in google.calls("Mutate") for operation in request.mutate_operations
               if operation.campaign_operation.create.name == name)


def _meta_objects(meta: MetaSandbox, name: str) -> dict[str, list[dict]]:
    """kind -> the Meta objects of one launch: the campaign by its name, its children by theirs (name · kind)."""
    return {kind: [o for o in meta.of_kind(kind) if o["name"] == name or o["name"].startswith(f"{name} · ")]
            for kind in ("campaign", "adset", "adcreative", "ad")}


def _one_of_each(google: GoogleAdsSandbox, meta: MetaSandbox, name: str) -> None:
    """Exactly one campaign (and one of each child) per platform under this launch's name."""
    (campaign,) = _google_campaigns(google, name)
    path = campaign.resource_name
    assert len([g for g in google.resources["adGroups"].values() if g.campaign == path]) == 1
    ad_groups = {g.resource_name for g in google.resources["adGroups"].values() if g.campaign == path}
    assert len([a for a in google.resources["adGroupAds"].values() if a.ad_group in ad_groups]) == 1
    assert {kind: len(found) for kind, found in _meta_objects(meta, name).items()} == {
        "campaign": 1, "adset": 1, "adcreative": 1, "ad": 1}


def _item(local_aws, campaign_id: str) -> dict:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}})["Item"]
    return from_item(item)


def _link(local_aws, code: str) -> dict:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"LINK#{code}"}, "SK": {"S": "LINK"}})["Item"]
    return from_item(item)


def _registered(local_aws, channel: str, platform_campaign_id: str) -> dict | None:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"PLATFORM_CAMPAIGN#{channel}#{platform_campaign_id}"}, "SK": {"S": "PLATFORM_CAMPAIGN"}})
    return from_item(item["Item"]) if "Item" in item else None


# ---- drafts: nothing reaches a platform


def test_create_then_read_a_draft(api, local_aws, google, meta):
    before = _received(google, meta)
    # When a marketer creates a draft
    created = _create(api)
    # Then it is stored as a draft with an id, no platform ids and no links yet
    assert created["status"] == "draft" and created["platform_ids"] == {} and created["links"] == {}
    assert created["draft"]["daily_budget"] == {"amount": "50.00", "currency": "EUR"}
    item = _item(local_aws, created["id"])
    assert item["status"] == "draft" and item["version"] == 0
    assert item["created_by"] == "6f1c8a52-3a4e-4d57-9a36-2f7d7c1e0a11"
    status, read, _ = _invoke(api, _event("get", created["id"]))
    assert status == 200 and read["draft"] == created["draft"] and read["last_sync"] is None
    # And neither platform heard of it
    assert _received(google, meta) == before


def test_a_retried_create_returns_the_same_campaign(api, local_aws):
    event = load_event("campaigns/create")
    body = _draft_body(event, name=f"Retry safety {uuid.uuid4().hex[:8]}")
    first = _invoke(api, with_body(load_event("campaigns/create"), body))
    second = _invoke(api, with_body(load_event("campaigns/create"), body))
    assert first[0] == second[0] == 201 and first[1]["id"] == second[1]["id"]
    other = _invoke(api, with_body(load_event("campaigns/create"), {**body, "name": body["name"] + " (2)"}))
    assert other[1]["id"] != first[1]["id"]


def test_a_draft_breaking_employment_rules_is_422_naming_each_rule(api, google, meta):
    before = _received(google, meta)
    event = load_event("campaigns/create_with_age_targeting")
    status, body, _ = _invoke(api, with_body(event, _draft_body(event)))
    assert status == 422
    assert {(e["field"], e["rule"]) for e in body["errors"]} == {
        ("targeting.age_min", "meta.age_fixed_18_65"), ("targeting.age_min", "google.no_age"),
        ("targeting.genders", "meta.no_gender"), ("targeting.genders", "google.no_gender")}
    assert _received(google, meta) == before


def test_an_invalid_draft_is_422_naming_the_field(api, google, meta):
    before = _received(google, meta)
    event = load_event("campaigns/create")
    body = json.loads(event["body"])
    body["channels"] = ["tiktok"]
    body["targeting"] = {"age_min": 20, "shoe_size": 44}
    status, answer, _ = _invoke(api, with_body(event, body))
    assert status == 422
    # The unknown key is placed, never repeated (docs/security.md: a 422 echoes no caller key)
    assert {e["field"] for e in answer["errors"]} >= {"channels[0]", "targeting.(unknown field)"}
    assert "shoe_size" not in json.dumps(answer)
    assert _received(google, meta) == before


def test_a_stored_draft_that_breaks_a_rule_never_reaches_a_platform(api, local_aws, google, meta):
    # Given a campaign stored before a rule existed (written directly: the API would refuse it today)
    created = _create(api)
    item = _item(local_aws, created["id"])
    draft = json.loads(item["draft"])
    draft["targeting"] = {"postal_codes": ["10115"]}
    item["draft"] = json.dumps(draft)
    local_aws.client("dynamodb").put_item(TableName=local_aws.refs["AttractTable"], Item=to_item(item))
    before = _received(google, meta)
    # When it is launched
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    # Then the policy refuses it by name, and no platform and no link was touched
    assert status == 422 and {e["rule"] for e in body["errors"]} == {"meta.no_postal_codes", "google.no_postal_codes"}
    assert _received(google, meta) == before
    after = _item(local_aws, created["id"])
    assert after["status"] == "draft" and after["link_codes"] == {}


def test_a_keyword_of_more_than_10_words_is_422_before_any_platform_call(api, google, meta):
    before = _received(google, meta)
    event = load_event("campaigns/create")
    keywords = [{"text": "data engineer jobs"}, {"text": "senior data engineer jobs in berlin with python spark and airflow"}]
    google_assets = {**json.loads(event["body"])["google"], "keywords": keywords}
    status, body, _ = _invoke(api, with_body(event, _draft_body(event, google=google_assets)))
    assert status == 422
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("google.keywords[1].text", "google.keyword_max_10_words")]
    assert _received(google, meta) == before


# ---- dry run


def _dry_run(campaign_id: str) -> dict:
    event = _action(campaign_id, "launch")
    event["rawQueryString"], event["queryStringParameters"] = "dry_run=true", {"dry_run": "true"}
    return event


def test_a_dry_run_asks_google_to_validate_the_whole_launch_and_creates_nothing(api, local_aws, google, monkeypatch):
    created = _create(api, channels=["google_search"], meta=None)
    mutates = len(google.calls("Mutate"))
    # Given an account whose auto-tagging is off
    monkeypatch.setattr(google, "auto_tagging_enabled", False)
    # When the marketer asks for a dry run
    status, report, _ = _invoke(api, _dry_run(created["id"]))
    # Then Google validated the whole create (validate_only) and said what it accepts with a warning
    assert status == 200, report
    assert report == {"id": created["id"], "dry_run": True, "ok": True, "channels": {"google_search": {
        "ok": True, "warnings": [AUTO_TAGGING_OFF], "message": None, "codes": [], "request_id": None,
        "retryable": False}}}
    [checked] = google.calls("Mutate")[mutates:]
    assert checked.validate_only is True
    assert [o.campaign_operation.create.name for o in checked.mutate_operations][1] == _platform_name(created)
    # And nothing exists anywhere: no Google campaign, no tracked link, the campaign still a draft
    assert _google_campaigns(google, _platform_name(created)) == []
    assert _item(local_aws, created["id"])["status"] == "draft" and _item(local_aws, created["id"])["link_codes"] == {}


def test_a_google_refusal_in_a_dry_run_is_part_of_the_answer(api, google):
    created = _create(api, channels=["google_search"], meta=None)
    google.fail_next("Mutate", "campaign_error", "DUPLICATE_CAMPAIGN_NAME", message="name taken")
    status, report, _ = _invoke(api, _dry_run(created["id"]))
    assert status == 200 and report["ok"] is False
    assert report["channels"]["google_search"]["codes"] == ["campaign_error:DUPLICATE_CAMPAIGN_NAME"]
    assert report["channels"]["google_search"]["request_id"] == google.failure_request_ids[-1]


def test_a_location_whose_coordinates_are_in_another_country_is_422_naming_it(api, google, meta):
    before = _received(google, meta)
    body = _draft_body(load_event("campaigns/create"))
    # Given Berlin's coordinates declared as Austria, and a radius beyond Meta's largest
    locations = [{**body["locations"][0], "country": "AT"}, {**body["locations"][0], "radius": 60}]
    status, answer, _ = _invoke(api, with_body(load_event("campaigns/create"), {**body, "locations": locations}))
    # Then each is named with its field and rule, and no platform heard of the draft
    assert status == 422, answer
    assert {(e["field"], e["rule"]) for e in answer["errors"]} == {
        ("locations[0].country", "meta.location_country_matches_coordinates"),
        ("locations[1].radius", "meta.radius_max_50_miles")}
    assert "DE" in answer["errors"][0]["message"] and _received(google, meta) == before


# ---- launch


def test_a_launch_on_an_account_without_auto_tagging_stores_the_warning(api, google, monkeypatch):
    monkeypatch.setattr(google, "auto_tagging_enabled", False)
    created = _create(api, channels=["google_search"], meta=None)
    status, launched, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 200 and launched["status"] == "active", launched
    assert launched["platform_ids"]["google_search"]["warnings"] == [AUTO_TAGGING_OFF]
    _, read, _ = _invoke(api, _event("get", created["id"]))
    assert read["platform_ids"]["google_search"]["warnings"] == [AUTO_TAGGING_OFF]


def test_launch_creates_one_tracked_link_per_channel_and_stores_the_platform_ids(api, local_aws, google, meta):
    created = _create(api, name=f"Launch once {uuid.uuid4().hex[:6]}")
    name = _platform_name(created)
    # When the campaign is launched
    status, launched, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 200 and launched["status"] == "active", launched
    links = {channel: link["url"] for channel, link in launched["links"].items()}
    codes = {channel: link["code"] for channel, link in launched["links"].items()}
    assert links["google_search"] == f"https://abc123.execute-api.us-east-1.amazonaws.com/r/{codes['google_search']}"
    assert links["meta"].endswith(f"/r/{codes['meta']}") and codes["meta"] != codes["google_search"]
    # Then Google got one atomic create with temporary resource names: budget in micros, the ad's final
    # URL the Google channel's tracked link, gclid through the final URL suffix; then it was enabled
    (create,) = [r for r in google.calls("Mutate") if any(o.campaign_operation.create.name == name
                                                           for o in r.mutate_operations)]
    operations = list(create.mutate_operations)
    budget = operations[0].campaign_budget_operation.create
    assert budget.resource_name == f"customers/{google.customer_id}/campaignBudgets/-1"
    assert budget.amount_micros == 50_000_000
    campaign = operations[1].campaign_operation.create
    assert campaign.campaign_budget == budget.resource_name and campaign.status.name == "PAUSED"
    assert campaign.final_url_suffix == (f"tc_link={codes['google_search']}&utm_source=google&utm_medium=cpc"
                                         f"&utm_campaign={quote(created['draft']['name'])}")
    (ad,) = [o.ad_group_ad_operation.create for o in operations if o.ad_group_ad_operation.create.ad_group]
    assert list(ad.ad.final_urls) == [created["draft"]["destination"]]  # the careers page itself
    (stored_campaign,) = _google_campaigns(google, name)
    assert stored_campaign.status.name == "ENABLED"
    # And Meta got the campaign, ad set, creative and ad within the employment rules, then activated them
    draft = CampaignDraft.model_validate(created["draft"])
    objects = _meta_objects(meta, name)
    (meta_campaign,), (ad_set,), (creative,), (meta_ad,) = (objects[kind] for kind in ("campaign", "adset",
                                                                                       "adcreative", "ad"))
    assert meta_campaign["special_ad_categories"] == ["EMPLOYMENT"] and meta_campaign["special_ad_category_country"] == ["DE"]
    assert policy.meta_campaign_violations(meta_campaign, draft) == []
    assert policy.meta_targeting_violations(ad_set["targeting"]) == []
    assert int(ad_set["daily_budget"]) == 5000
    assert creative["object_story_spec"]["link_data"]["link"] == draft.destination
    assert creative["url_tags"] == (f"tc_link={codes['meta']}&utm_source=meta&utm_medium=paid_social"
                                    f"&utm_campaign={quote(draft.name)}")
    assert {o["status"] for o in (meta_campaign, ad_set, meta_ad)} == {"ACTIVE"}
    # And the links carry the channel, the campaign's name, the source and the medium reports group by
    google_link, meta_link = _link(local_aws, codes["google_search"]), _link(local_aws, codes["meta"])
    assert (google_link["channel"], google_link["campaign"], google_link["source"], google_link["medium"]) == (
        "paid_search", draft.name, "google", "cpc")
    assert (meta_link["channel"], meta_link["source"], meta_link["medium"]) == ("paid_social", "meta", "paid_social")
    assert google_link["destination"] == "https://careers.example.com/data"
    # And the platforms' ids are on the campaign item
    ids = _item(local_aws, created["id"])["platform_ids"]
    assert ids["google_search"]["campaign"] == str(stored_campaign.id) and ids["google_search"]["status"] == "ENABLED"
    assert (ids["meta"]["campaign"], ids["meta"]["ad_group"], ids["meta"]["creative"], ids["meta"]["ad"]) == (
        meta_campaign["id"], ad_set["id"], creative["id"], meta_ad["id"])
    _one_of_each(google, meta, name)


def test_a_retried_launch_answers_the_same_and_calls_no_platform(api, google, meta):
    created = _create(api)
    first = _invoke(api, _action(created["id"], "launch"))[1]
    before = _received(google, meta)
    # When the client retries (a timeout on its side)
    status, second, _ = _invoke(api, _action(created["id"], "launch"))
    # Then the same campaign comes back, and neither platform was called
    assert status == 200 and second["links"] == first["links"] and second["platform_ids"] == first["platform_ids"]
    assert _received(google, meta) == before
    _one_of_each(google, meta, _platform_name(created))


def test_a_partial_failure_is_502_with_codes_and_a_relaunch_finishes_without_repeating(api, local_aws, google, meta):
    created = _create(api)
    name = _platform_name(created)
    # Given Meta refuses the ad set after Google's launch succeeded (and Meta's campaign was made)
    meta.fail_next("/adsets", 100, 1885183, method="POST")
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    # Then the caller gets a 502 naming Meta's codes and its trace id, and the campaign records it
    assert status == 502, body
    assert body["platform_error"] == {"platform": "meta", "message": "Meta: Invalid parameter",
                                      "codes": ["100", "100/1885183"], "request_id": meta.error_trace_ids[-1]}
    _, failed, _ = _invoke(api, _event("get", created["id"]))
    assert failed["status"] == "failed" and failed["last_error"]["codes"] == ["100", "100/1885183"]
    assert failed["last_error"]["request_id"] == meta.error_trace_ids[-1] and failed["last_error"]["channel"] == "meta"
    # and nothing is spending: Google's campaign was created paused and is not activated until Meta exists
    assert failed["platform_ids"]["google_search"]["status"] == "PAUSED" and "meta" not in failed["platform_ids"]
    assert _google_campaigns(google, name)[0].status.name == "PAUSED"
    assert len(_meta_objects(meta, name)["campaign"]) == 1 and _meta_objects(meta, name)["adset"] == []
    google_calls = len(google.received)
    # When it is launched again
    status, finished, _ = _invoke(api, _action(created["id"], "launch"))
    # Then Meta's launch is finished under the campaign it had made, with the same tracked link; Google is
    # not created again, only activated (one Mutate, then its ad's review read back), once Meta exists
    assert status == 200 and finished["status"] == "active" and finished["last_error"] is None
    assert finished["links"] == failed["links"]
    assert [method for method, _ in google.received[google_calls:]] == ["Mutate", "Search"]
    assert _google_creates(google, name) == 1 and _google_campaigns(google, name)[0].status.name == "ENABLED"
    _one_of_each(google, meta, name)
    (creative,) = _meta_objects(meta, name)["adcreative"]
    assert finished["links"]["meta"]["ad_url"].startswith(creative["object_story_spec"]["link_data"]["link"] + "?")
    assert finished["platform_ids"]["meta"]["campaign"] == _meta_objects(meta, name)["campaign"][0]["id"]


def test_a_google_refusal_is_502_with_its_error_code_and_request_id(api, google, meta):
    created = _create(api, channels=["google_search"], meta=None)
    google.fail_next("Mutate", "campaign_error", "DUPLICATE_CAMPAIGN_NAME", message="name taken")
    meta_calls = len(meta.received)
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 502
    assert body["platform_error"] == {"platform": "google_ads", "message": "name taken",
                                      "codes": ["campaign_error:DUPLICATE_CAMPAIGN_NAME"],
                                      "request_id": google.failure_request_ids[-1]}
    assert _google_campaigns(google, _platform_name(created)) == [] and len(meta.received) == meta_calls


def test_a_lost_answer_then_a_relaunch_finds_what_the_platforms_made(api, local_aws, google, meta):
    created = _create(api)
    name = _platform_name(created)
    # Given Google applied the launch's create but the answer was lost, then the relaunch's Meta ad
    # was created but its answer never came (a timeout after Meta did the work)
    google.lose_next_response("Mutate")
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 502 and body["platform_error"]["codes"] == ["grpc:UNAVAILABLE"], body
    assert len(_google_campaigns(google, name)) == 1
    meta.fail_next("/ads", method="POST", after_apply=True, drop=True)
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 502 and body["platform_error"]["codes"] == ["connection"], body
    assert len(_meta_objects(meta, name)["ad"]) == 1
    # When it is launched once more
    status, finished, _ = _invoke(api, _action(created["id"], "launch"))
    # Then it is active, and each platform holds one campaign, ad group / ad set, creative and ad
    assert status == 200 and finished["status"] == "active", finished
    assert _google_creates(google, name) == 1
    _one_of_each(google, meta, name)


def test_launch_registers_each_platform_campaign_for_the_spend_sync_again_when_resumed(api, local_aws, google, meta):
    created = _create(api, name=f"Registered campaign {uuid.uuid4().hex[:6]}")
    name = _platform_name(created)
    # Given Google launched and registered, then Meta was temporarily unavailable
    meta.fail_next("/campaigns", 2, method="POST")
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 502 and body["platform_error"]["codes"] == ["2"]
    google_id = str(_google_campaigns(google, name)[0].id)
    assert _registered(local_aws, GOOGLE_SEARCH, google_id) == {
        "PK": f"PLATFORM_CAMPAIGN#google_search#{google_id}", "SK": "PLATFORM_CAMPAIGN", "type": "platform_campaign",
        "campaign_id": created["id"], "name": created["draft"]["name"], "source": "google", "channel": "google_search",
        "platform_campaign_id": google_id}
    # When the launch is resumed
    status, finished, _ = _invoke(api, _action(created["id"], "launch"))
    # Then Meta's campaign is registered too, and Google's still points at this campaign
    assert status == 200, finished
    (meta_campaign,) = _meta_objects(meta, name)["campaign"]
    assert finished["platform_ids"]["meta"]["campaign"] == meta_campaign["id"]
    registered = _registered(local_aws, META, meta_campaign["id"]) or {}
    assert (registered.get("campaign_id"), registered.get("name"), registered.get("source")) == (
        created["id"], created["draft"]["name"], "meta")
    assert (_registered(local_aws, GOOGLE_SEARCH, google_id) or {}).get("campaign_id") == created["id"]


def test_a_platform_campaign_registered_to_another_campaign_is_409_and_a_failed_launch(api, local_aws, google, meta):
    from attract.campaigns.spend_repository import SpendRepository, registry_key

    created = _create(api)
    name = _platform_name(created)
    meta.fail_next("/campaigns", 2, method="POST")
    assert _invoke(api, _action(created["id"], "launch"))[0] == 502
    google_id = str(_google_campaigns(google, name)[0].id)
    # Given Google's campaign of this launch is registered to another of our campaigns by now
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    dynamodb.delete_item(TableName=table, Key=registry_key(GOOGLE_SEARCH, google_id))
    registry = SpendRepository(table, dynamodb)
    registry.register_platform_campaign(GOOGLE_SEARCH, google_id, "another-campaign", "Other")
    # When the launch is resumed
    status, body, _ = _invoke(api, _action(created["id"], "launch"))
    # Then the caller gets a 409, not a 500, and the campaign is failed with our code (its spend is not mixed up)
    assert status == 409 and "belongs to another campaign" in body["message"], body
    _, failed, _ = _invoke(api, _event("get", created["id"]))
    assert failed["status"] == "failed" and failed["last_error"]["codes"] == ["attract:platform_campaign_conflict"]
    assert registry.platform_campaigns(GOOGLE_SEARCH, [google_id])[google_id].campaign_id == "another-campaign"


def test_a_rate_limit_after_retries_is_503_with_retry_after_then_a_relaunch_succeeds(api, google, meta):
    created = _create(api, channels=["google_search"], meta=None)
    name = _platform_name(created)
    searches, meta_calls = len(google.calls("Search")), len(meta.received)
    # Given Google answers RESOURCE_EXHAUSTED to every attempt
    google.rate_limit_next("Search", times=RETRY_ATTEMPTS)
    status, body, response = _invoke(api, _action(created["id"], "launch"))
    # Then the adapter tried ADS_RETRY_ATTEMPTS times, and the caller gets 503 with Retry-After
    assert status == 503 and int(response["headers"]["Retry-After"]) > 0
    assert body["platform_error"]["codes"] == ["quota_error:RESOURCE_EXHAUSTED"]
    assert body["platform_error"]["request_id"] == google.failure_request_ids[-1]
    assert len(google.calls("Search")) - searches == RETRY_ATTEMPTS
    assert _google_campaigns(google, name) == [] and len(meta.received) == meta_calls  # Google-only: no Meta
    # When the create is rate limited once in the next launch
    google.rate_limit_next("Mutate")
    status, launched, _ = _invoke(api, _action(created["id"], "launch"))
    # Then the backoff retried it, and one campaign was created
    assert status == 200 and launched["status"] == "active", launched
    assert _google_creates(google, name) == 2 and len(_google_campaigns(google, name)) == 1


def test_a_concurrent_launch_gets_409_and_creates_nothing(api, google, meta):
    created = _create(api)
    name = _platform_name(created)
    # Given a launch whose Meta campaign create is held until the test lets it answer
    answer_meta = threading.Event()
    meta.fail_next("/campaigns", method="POST", stall_s=30, release=answer_meta)
    first: list = []
    launching = threading.Thread(target=lambda: first.append(_invoke(api, _action(created["id"], "launch"))))
    launching.start()
    deadline = time.monotonic() + 10
    while not [p for p in meta.requests_to("POST", "/campaigns") if p.get("name") == name]:
        assert time.monotonic() < deadline, "the first launch never reached Meta"
        time.sleep(0.01)
    # When a second launch request arrives meanwhile
    status, second, _ = _invoke(api, _action(created["id"], "launch"))
    answer_meta.set()
    launching.join()
    # Then the second is refused with 409, the first finishes, and each platform campaign exists once
    assert status == 409 and "in progress" in second["message"]
    assert first[0][0] == 200 and first[0][1]["status"] == "active", first
    assert _google_creates(google, name) == 1
    _one_of_each(google, meta, name)


def test_twenty_racing_launches_create_each_platform_campaign_once(api, local_aws, google, meta):
    created = _create(api)
    name = _platform_name(created)
    # When 20 clients launch the same campaign at once (real conditional writes, both SDKs, both sandboxes)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: _invoke(api, _action(created["id"], "launch")), range(20)))
    # Then one launch reached each platform; the others were refused or found it active
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 409} and 200 in statuses, [body for _, body, _ in answers]
    assert _google_creates(google, name) == 1
    assert len([p for p in meta.requests_to("POST", "/campaigns") if p.get("name") == name]) == 1
    _one_of_each(google, meta, name)
    item = _item(local_aws, created["id"])
    assert item["status"] == "active" and len(item["link_codes"]) == 2


def _meta_secret(local_aws, config: dict) -> None:
    from aws_lambda_powertools.utilities import parameters

    local_aws.client("secretsmanager").put_secret_value(SecretId=local_aws.refs["MetaSecret"],
                                                        SecretString=json.dumps(config))
    parameters.clear_caches()


def test_an_eu_launch_without_beneficiary_and_payor_is_422_and_meta_hears_nothing(api, local_aws, started, meta):
    # Given a Meta secret without the DSA names, and a Meta draft for Berlin
    _meta_secret(local_aws, {k: v for k, v in meta.config().items() if not k.startswith("dsa_")})
    try:
        created = _create(api, channels=["meta"], google=None)
        received = len(meta.received)
        # When it is launched
        status, body, _ = _invoke(api, _action(created["id"], "launch"))
        # Then a 422 names the rule and both fields, Meta got no request, and the launch is not left running
        assert status == 422, body
        assert {(e["field"], e["rule"]) for e in body["errors"]} == {
            ("meta.dsa_beneficiary", "meta.dsa_beneficiary_payor_required"),
            ("meta.dsa_payor", "meta.dsa_beneficiary_payor_required")}
        assert len(meta.received) == received
        _, refused, _ = _invoke(api, _event("get", created["id"]))
        assert refused["status"] == "draft"  # the account refused it before anything was created
        assert refused["last_error"]["codes"] == ["meta.dsa_beneficiary_payor_required"]
    finally:
        started[0].fill_secrets(local_aws)
    # And once the secret names them, launching again sends them on the ad set
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    status, launched, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 200 and launched["status"] == "active", launched
    (ad_set,) = _meta_objects(meta, _platform_name(created))["adset"]
    assert (ad_set["dsa_beneficiary"], ad_set["dsa_payor"]) == (meta.dsa_beneficiary, meta.dsa_payor)


def test_a_budget_in_another_currency_than_the_meta_account_is_422_before_any_create(api, meta):
    body = json.loads(load_event("campaigns/create")["body"])
    created = _create(api, channels=["meta"], google=None, daily_budget={**body["daily_budget"], "currency": "USD"})
    posts = len([r for r in meta.received if r[0] == "POST"])
    status, answer, _ = _invoke(api, _action(created["id"], "launch"))
    assert status == 422, answer
    assert [(e["field"], e["rule"]) for e in answer["errors"]] == [
        ("daily_budget.currency", "meta.budget_currency_is_account_currency")]
    assert len([r for r in meta.received if r[0] == "POST"]) == posts


def test_a_dry_run_asks_meta_to_validate_only_and_creates_nothing(api, local_aws, meta):
    from attract.providers.meta import NOT_VALIDATED

    created = _create(api, channels=["meta"], google=None)
    event = _action(created["id"], "launch")
    event["rawQueryString"], event["queryStringParameters"] = "dry_run=true", {"dry_run": "true"}
    objects, since = len(meta.objects), len(meta.received)
    status, answer, _ = _invoke(api, event)
    assert status == 200, answer
    assert answer["ok"] and answer["channels"]["meta"] == {"ok": True, "warnings": [NOT_VALIDATED], "message": None,
                                                          "codes": [], "request_id": None, "retryable": False}
    validated = [path.rsplit("/", 1)[-1] for method, path, params in meta.received[since:]
                 if method == "POST" and params.get("execution_options") == ["validate_only"]]
    assert validated == ["campaigns", "adcreatives"] and len(meta.objects) == objects
    assert _item(local_aws, created["id"])["status"] == "draft"


# ---- pause, resume, end


def test_pause_resume_and_end_reach_every_platform_once(api, google, meta):
    created = _create(api)
    _, launched, _ = _invoke(api, _action(created["id"], "launch"))
    google_path = f"customers/{google.customer_id}/campaigns/{launched['platform_ids']['google_search']['campaign']}"
    meta_id = launched["platform_ids"]["meta"]["campaign"]
    for action, platform_status, google_status, meta_status, campaign_status in (
            ("pause", "PAUSED", "PAUSED", "PAUSED", "paused"), ("resume", "ENABLED", "ENABLED", "ACTIVE", "active"),
            ("end", "REMOVED", "REMOVED", "DELETED", "ended")):
        mutates, meta_updates = len(google.calls("Mutate")), len(meta.requests_to("POST", f"/{meta_id}"))
        status, body, _ = _invoke(api, _action(created["id"], action))
        assert status == 200 and body["status"] == campaign_status
        assert {ids["status"] for ids in body["platform_ids"].values()} == {platform_status}
        # Each platform got one change, and holds the new status
        assert len(google.calls("Mutate")) - mutates == 1
        assert google.resources["campaigns"][google_path].status.name == google_status
        assert meta.requests_to("POST", f"/{meta_id}")[meta_updates:] == [{"status": meta_status}]
        assert meta.objects[meta_id]["status"] == meta_status
        # A retried action changes nothing and calls nothing
        before = _received(google, meta)
        assert _invoke(api, _action(created["id"], action))[0] == 200
        assert _received(google, meta) == before
    # An ended campaign cannot be resumed or launched again
    before = _received(google, meta)
    assert _invoke(api, _action(created["id"], "resume"))[0] == 409
    assert _invoke(api, _action(created["id"], "launch"))[0] == 409
    assert _received(google, meta) == before


def test_a_draft_cannot_be_paused(api, google, meta):
    created = _create(api)
    before = _received(google, meta)
    status, body, _ = _invoke(api, _action(created["id"], "pause"))
    assert status == 409 and "draft" in body["message"]
    assert _received(google, meta) == before


def test_unknown_campaign_is_404_and_recruiters_are_refused(api, google, meta):
    before = _received(google, meta)
    status, body, _ = _invoke(api, _event("get", "NoSuchCampaign"))
    assert status == 404
    status, body, _ = _invoke(api, _action("NoSuchCampaign", "launch"))
    assert status == 404
    event = load_event("campaigns/create")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[recruiters]"
    status, body, _ = _invoke(api, event)
    assert status == 403 and body == {"message": "Requires group: marketers"}
    assert _received(google, meta) == before


# ---- credentials


def test_local_sandboxes_fill_the_stack_platform_secrets(api, local_aws, started, google, meta):
    # make local: the template's placeholder secrets get the started sandboxes' credentials
    secrets = local_aws.client("secretsmanager")
    for logical_id in ("GoogleAdsSecret", "MetaSecret"):
        placeholder = local_aws.template["Resources"][logical_id]["Properties"]["SecretString"]
        assert set(json.loads(placeholder).values()) == {"FILL-ME"}  # what the operator fills in when deploying
        secrets.put_secret_value(SecretId=local_aws.refs[logical_id], SecretString=placeholder)
    AdSandboxes(started=started[0].started).fill_secrets(local_aws)
    datamanager = started[0].started["google_datamanager"]  # Google's conversions: the same secret, its own fields
    for logical_id, config in (("GoogleAdsSecret", datamanager.config() | google.config()), ("MetaSecret", meta.config())):
        filled = secrets.get_secret_value(SecretId=local_aws.refs[logical_id])["SecretString"]
        assert json.loads(filled) == config


def test_placeholder_credentials_are_a_502_naming_the_code_never_the_secret(api, local_aws, started, google):
    from aws_lambda_powertools.utilities import parameters

    # Given the template's placeholder secret, as deployed before the operator fills it in
    placeholder = local_aws.template["Resources"]["GoogleAdsSecret"]["Properties"]["SecretString"]
    local_aws.client("secretsmanager").put_secret_value(SecretId=local_aws.refs["GoogleAdsSecret"],
                                                        SecretString=placeholder)
    parameters.clear_caches()
    try:
        created = _create(api, channels=["google_search"], meta=None)
        google_calls = len(google.received)
        status, body, _ = _invoke(api, _action(created["id"], "launch"))
        # Then the launch is refused as a platform error with our code, and the secret's content is not quoted
        assert status == 502 and body["platform_error"]["codes"] == ["attract:credentials_invalid"]
        assert "FILL-ME" not in json.dumps(body)
        assert len(google.received) == google_calls
        _, stored, _ = _invoke(api, _event("get", created["id"]))
        assert stored["status"] == "draft" and stored["last_error"]["codes"] == ["attract:credentials_invalid"]
    finally:
        started[0].fill_secrets(local_aws)
        parameters.clear_caches()


def test_platform_credentials_are_the_secret_json_read_through_powertools(api, local_aws):
    from aws_lambda_powertools.utilities import parameters

    from attract.campaigns.gateways import platform_config

    secrets = local_aws.client("secretsmanager")
    good = secrets.create_secret(Name=f"ads-{uuid.uuid4().hex[:8]}", SecretString='{"app_id": "1"}')["ARN"]
    bad = secrets.create_secret(Name=f"ads-{uuid.uuid4().hex[:8]}", SecretString='["not", "an", "object"]')["ARN"]
    parameters.clear_caches()
    assert platform_config(good, 300) == {"app_id": "1"}
    with pytest.raises(ValueError, match="JSON object"):
        platform_config(bad, 300)


# ---- the audit trail (issue 15): who created, launched, paused, resumed and ended what, with what was sent


def _audited(local_aws, campaign_id: str) -> list[dict]:
    """The campaign's audit entries, oldest first (the ByObject index, as GET /audit reads it)."""
    items = local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AuditTable"], IndexName="ByObject", KeyConditionExpression="object_key = :k",
        ExpressionAttributeValues={":k": {"S": f"ad_campaign#{campaign_id}"}})["Items"]
    return [from_item(item) for item in items]


def test_every_action_on_a_campaign_is_audited_once_with_its_targeting_and_budget(api, local_aws, google, meta):
    from attract.audit import request_digest
    from attract.audit.trail import http_request

    created = _create(api)
    marketer = load_event("campaigns/create")["requestContext"]["authorizer"]["jwt"]["claims"]
    assert _invoke(api, _dry_run(created["id"]))[0] == 200
    for action in ("launch", "pause", "resume", "end"):
        event = _action(created["id"], action)
        assert _invoke(api, event)[0] == 200
    # A refused action (an ended campaign cannot resume) writes nothing
    assert _invoke(api, _action(created["id"], "resume"))[0] == 409
    entries = _audited(local_aws, created["id"])
    assert [e["action"] for e in entries] == ["ad_campaign.create", "ad_campaign.dry_run", "ad_campaign.launch",
                                              "ad_campaign.pause", "ad_campaign.resume", "ad_campaign.end"]
    assert {(e["actor_sub"], e["actor_username"]) for e in entries} == {(marketer["sub"], marketer["username"])}
    create, dry_run, launch = entries[:3]
    draft = created["draft"]
    assert create["details"]["daily_budget"] == {"amount": draft["daily_budget"]["amount"],
                                                 "currency": draft["daily_budget"]["currency"]}
    assert create["details"]["channels"] == draft["channels"] and len(create["details"]["locations"]) == len(
        draft["locations"])
    assert {channel: said["ok"] for channel, said in dry_run["details"]["platforms"].items()} == {
        "google_search": True, "meta": True}
    assert launch["details"]["platforms"]["meta"]["campaign"] == _item(local_aws, created["id"])["platform_ids"][
        "meta"]["campaign"]
    assert launch["details"]["targeting"] == create["details"]["targeting"]
    assert entries[-1]["details"]["status"] == "ended"
    # The digest is of the request as received; the ads' texts (which may name people) are not in the trail
    assert entries[-1]["request_digest"] == request_digest(http_request(_action(created["id"], "end")))
    assert draft["meta"]["primary_text"] not in json.dumps(entries, default=str)
