"""The campaigns API handler over moto: drafts, launch orchestration, pause/resume/end.

The platforms are stood in for by a recording AdsGateway defined here: these tests are about the
orchestration (policy first, tracked links, stored ids, resumable and idempotent launch, error
answers). The real adapters' wire behaviour is tested against the local gRPC / Graph sandboxes in
their own test modules.
"""

import json
import uuid
from datetime import date

import pytest

from attract.aws import from_item, to_item
from attract.campaigns.gateways import use_gateways
from attract.campaigns.models import (
    GOOGLE_SEARCH,
    META,
    Conversion,
    ConversionResult,
    LaunchPlan,
    PlatformIds,
    SpendRow,
)
from attract.providers.ads import PlatformError, PlatformStatus, RateLimited
from attract_local.ad_sandboxes import AdSandboxes
from tests.support import FakeLambdaContext, load_event, with_body


class RecordingGateway:
    """An AdsGateway that records every call; `fail_next` raises once, before doing anything."""

    def __init__(self, channel: str):
        self.channel = channel
        self.launches: list[tuple[LaunchPlan, PlatformIds]] = []
        self.statuses: list[tuple[PlatformIds, PlatformStatus]] = []
        self.fail_next: PlatformError | None = None
        self.during_launch = None  # called inside launch(): lets a test race a second request

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error

    def launch(self, plan: LaunchPlan, done: PlatformIds) -> PlatformIds:
        self.launches.append((plan, done))
        if self.during_launch is not None:
            self.during_launch()
        self._maybe_fail()
        prefix = "g" if self.channel == GOOGLE_SEARCH else "m"
        return PlatformIds(campaign=done.campaign or f"{prefix}-campaign-{plan.campaign_id}",
                           budget=done.budget or f"{prefix}-budget", ad_group=f"{prefix}-group",
                           creative=f"{prefix}-creative" if self.channel == META else None, ad=f"{prefix}-ad",
                           status="ENABLED")

    def set_status(self, ids: PlatformIds, status: PlatformStatus) -> PlatformIds:
        self.statuses.append((ids, status))
        self._maybe_fail()
        return ids.model_copy(update={"status": status})

    def spend(self, start: date, end: date) -> list[SpendRow]:
        return []

    def upload_conversions(self, conversions) -> list[ConversionResult]:
        return [ConversionResult(join_id=c.join_id, ok=True) for c in conversions if isinstance(c, Conversion)]


@pytest.fixture
def platforms():
    gateways = {GOOGLE_SEARCH: RecordingGateway(GOOGLE_SEARCH), META: RecordingGateway(META)}
    with use_gateways(gateways):
        yield gateways


@pytest.fixture
def api(function_env):
    return function_env("CampaignsApiFunction")


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


def _create(api, **changes) -> dict:
    # A name of its own: an identical draft from the same marketer within the hour is the same campaign.
    event = load_event("campaigns/create")
    body = {**json.loads(event["body"]), "name": f"Data engineers {uuid.uuid4().hex[:8]}", **changes}
    status, created, _ = _invoke(api, with_body(event, body))
    assert status == 201, created
    return created


def _item(local_aws, campaign_id: str) -> dict:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}})["Item"]
    return from_item(item)


def _link(local_aws, code: str) -> dict:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"LINK#{code}"}, "SK": {"S": "LINK"}})["Item"]
    return from_item(item)


def test_create_then_read_a_draft(api, local_aws, platforms):
    # When a marketer creates a draft
    created = _create(api)
    # Then it is stored as a draft with an id, no platform ids and no links yet, and no platform was called
    assert created["status"] == "draft" and created["platform_ids"] == {} and created["links"] == {}
    assert created["draft"]["daily_budget"] == {"amount": "50.00", "currency": "EUR"}
    item = _item(local_aws, created["id"])
    assert item["status"] == "draft" and item["version"] == 0
    assert item["created_by"] == "6f1c8a52-3a4e-4d57-9a36-2f7d7c1e0a11"
    status, read, _ = _invoke(api, _event("get", created["id"]))
    assert status == 200 and read["draft"] == created["draft"] and read["last_sync"] is None
    assert platforms[GOOGLE_SEARCH].launches == platforms[META].launches == []


def test_a_retried_create_returns_the_same_campaign(api, local_aws):
    event = load_event("campaigns/create")
    body = {**json.loads(event["body"]), "name": f"Retry safety {uuid.uuid4().hex[:8]}"}
    first = _invoke(api, with_body(load_event("campaigns/create"), body))
    second = _invoke(api, with_body(load_event("campaigns/create"), body))
    assert first[0] == second[0] == 201 and first[1]["id"] == second[1]["id"]
    other = _invoke(api, with_body(load_event("campaigns/create"), {**body, "name": body["name"] + " (2)"}))
    assert other[1]["id"] != first[1]["id"]


def test_a_draft_breaking_employment_rules_is_422_naming_each_rule(api, platforms):
    status, body, _ = _invoke(api, load_event("campaigns/create_with_age_targeting"))
    assert status == 422
    assert {(e["field"], e["rule"]) for e in body["errors"]} == {
        ("targeting.age_min", "meta.age_fixed_18_65"), ("targeting.age_min", "google.no_age"),
        ("targeting.genders", "meta.no_gender"), ("targeting.genders", "google.no_gender")}
    assert platforms[GOOGLE_SEARCH].launches == platforms[META].launches == []


def test_an_invalid_draft_is_422_naming_the_field(api):
    event = load_event("campaigns/create")
    body = json.loads(event["body"])
    body["channels"] = ["tiktok"]
    body["targeting"] = {"age_min": 20, "shoe_size": 44}
    status, answer, _ = _invoke(api, with_body(event, body))
    assert status == 422
    assert {e["field"] for e in answer["errors"]} >= {"channels[0]", "targeting.shoe_size"}


def test_launch_creates_one_tracked_link_per_channel_and_stores_the_platform_ids(api, local_aws, platforms):
    created = _create(api, name="Launch once")
    # When the campaign is launched
    status, launched, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then each platform got one plan: the tagged name, and the channel's own tracked link as final URL
    assert status == 200 and launched["status"] == "active"
    [(google_plan, google_done)] = platforms[GOOGLE_SEARCH].launches
    [(meta_plan, _)] = platforms[META].launches
    assert google_done == PlatformIds()
    assert google_plan.platform_name == f"Launch once [attract:{created['id']}]" == meta_plan.platform_name
    codes = {channel: link["code"] for channel, link in launched["links"].items()}
    assert google_plan.final_url == f"https://abc123.execute-api.us-east-1.amazonaws.com/r/{codes['google_search']}"
    assert meta_plan.final_url.endswith(f"/r/{codes['meta']}") and codes["meta"] != codes["google_search"]
    # And the links carry the channel, the campaign's name, the source and the medium reports group by
    google_link, meta_link = _link(local_aws, codes["google_search"]), _link(local_aws, codes["meta"])
    assert (google_link["channel"], google_link["campaign"], google_link["source"], google_link["medium"]) == (
        "paid_search", "Launch once", "google", "cpc")
    assert (meta_link["channel"], meta_link["source"], meta_link["medium"]) == ("paid_social", "meta", "paid_social")
    assert google_link["destination"] == "https://careers.example.com/data"
    # And the ids are on the campaign item
    item = _item(local_aws, created["id"])
    assert item["platform_ids"]["google_search"]["campaign"] == f"g-campaign-{created['id']}"
    assert item["platform_ids"]["meta"]["creative"] == "m-creative" and item["status"] == "active"


def test_a_retried_launch_answers_the_same_and_calls_no_platform(api, platforms):
    created = _create(api)
    first = _invoke(api, _event("launch", created["id"], "launch"))[1]
    # When the client retries (a timeout on its side)
    status, second, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then the same campaign comes back, and nothing was created twice
    assert status == 200 and second["links"] == first["links"] and second["platform_ids"] == first["platform_ids"]
    assert len(platforms[GOOGLE_SEARCH].launches) == len(platforms[META].launches) == 1


def test_a_partial_failure_is_502_with_codes_and_a_relaunch_finishes_without_repeating(api, local_aws, platforms):
    created = _create(api)
    platforms[META].fail_next = PlatformError("meta", "Invalid parameter", ["100", "1885183"], "AbCdEf123")
    # When Meta refuses after Google succeeded
    status, body, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then the caller gets a 502 naming the platform's codes and request id, and the campaign records it
    assert status == 502
    assert body["platform_error"] == {"platform": "meta", "message": "Invalid parameter",
                                      "codes": ["100", "1885183"], "request_id": "AbCdEf123"}
    _, failed, _ = _invoke(api, _event("get", created["id"]))
    assert failed["status"] == "failed" and failed["last_error"]["codes"] == ["100", "1885183"]
    assert failed["last_error"]["request_id"] == "AbCdEf123" and failed["last_error"]["channel"] == "meta"
    assert failed["platform_ids"]["google_search"]["status"] == "ENABLED" and "meta" not in failed["platform_ids"]
    # When it is launched again
    status, finished, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then only Meta is asked again, with the same tracked link; Google is not touched a second time
    assert status == 200 and finished["status"] == "active" and finished["last_error"] is None
    assert len(platforms[GOOGLE_SEARCH].launches) == 1
    first_meta, second_meta = platforms[META].launches
    assert first_meta[0].final_url == second_meta[0].final_url
    assert finished["links"] == failed["links"]


def test_a_platform_campaign_registered_to_another_campaign_is_409_and_a_failed_launch(api, local_aws, platforms):
    from attract.campaigns.spend_repository import SpendRepository

    created = _create(api, channels=["google_search"], meta=None)
    # Given the platform id this launch will get already belongs to another of our campaigns
    registry = SpendRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    registry.register_platform_campaign(GOOGLE_SEARCH, f"g-campaign-{created['id']}", "another-campaign", "Other")
    # When it is launched
    status, body, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then the caller gets a 409, not a 500, and the campaign is failed with our code (its spend is not mixed up)
    assert status == 409 and "belongs to another campaign" in body["message"], body
    _, failed, _ = _invoke(api, _event("get", created["id"]))
    assert failed["status"] == "failed" and failed["last_error"]["codes"] == ["attract:platform_campaign_conflict"]
    assert registry.platform_campaigns(GOOGLE_SEARCH, [f"g-campaign-{created['id']}"])[
        f"g-campaign-{created['id']}"].campaign_id == "another-campaign"


def test_a_rate_limit_after_retries_is_503_with_retry_after(api, platforms):
    created = _create(api, channels=["google_search"], meta=None)
    platforms[GOOGLE_SEARCH].fail_next = RateLimited("google_ads", "Too many requests", ["RESOURCE_EXHAUSTED"], "req-9")
    status, body, response = _invoke(api, _event("launch", created["id"], "launch"))
    assert status == 503 and int(response["headers"]["Retry-After"]) > 0
    assert body["platform_error"]["codes"] == ["RESOURCE_EXHAUSTED"]
    assert platforms[META].launches == []  # a Google-only campaign never touches Meta


def test_a_concurrent_launch_gets_409_and_creates_nothing(api, platforms):
    created = _create(api)
    answers = []
    # When a second launch request arrives while the first is talking to Google
    platforms[GOOGLE_SEARCH].during_launch = lambda: answers.append(_invoke(api, _event("launch", created["id"], "launch")))
    status, launched, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then the second is refused with 409 and only the first launched
    assert status == 200 and launched["status"] == "active"
    assert answers[0][0] == 409 and "in progress" in answers[0][1]["message"]
    assert len(platforms[GOOGLE_SEARCH].launches) == 1 and len(platforms[META].launches) == 1


def test_a_stored_draft_that_breaks_a_rule_never_reaches_a_platform(api, local_aws, platforms):
    # Given a campaign stored before a rule existed (written directly: the API would refuse it today)
    created = _create(api)
    item = _item(local_aws, created["id"])
    draft = json.loads(item["draft"])
    draft["targeting"] = {"postal_codes": ["10115"]}
    item["draft"] = json.dumps(draft)
    local_aws.client("dynamodb").put_item(TableName=local_aws.refs["AttractTable"], Item=to_item(item))
    # When it is launched
    status, body, _ = _invoke(api, _event("launch", created["id"], "launch"))
    # Then the policy refuses it by name, and no platform and no link was touched
    assert status == 422 and {e["rule"] for e in body["errors"]} == {"meta.no_postal_codes", "google.no_postal_codes"}
    assert platforms[GOOGLE_SEARCH].launches == platforms[META].launches == []
    after = _item(local_aws, created["id"])
    assert after["status"] == "draft" and after["link_codes"] == {}


def test_pause_resume_and_end_reach_every_platform_once(api, platforms):
    created = _create(api)
    _invoke(api, _event("launch", created["id"], "launch"))
    for action, platform_status, campaign_status in (("pause", "PAUSED", "paused"), ("resume", "ENABLED", "active"),
                                                     ("end", "REMOVED", "ended")):
        status, body, _ = _invoke(api, _event("launch", created["id"], action))
        assert status == 200 and body["status"] == campaign_status
        assert {ids.status for ids in body_ids(body)} == {platform_status}
        assert [s for _, s in platforms[GOOGLE_SEARCH].statuses][-1] == platform_status
        # a retried action changes nothing and calls nothing
        calls = len(platforms[META].statuses)
        assert _invoke(api, _event("launch", created["id"], action))[0] == 200
        assert len(platforms[META].statuses) == calls
    assert [s for _, s in platforms[META].statuses] == ["PAUSED", "ENABLED", "REMOVED"]
    # an ended campaign cannot be resumed or launched again
    assert _invoke(api, _event("launch", created["id"], "resume"))[0] == 409
    assert _invoke(api, _event("launch", created["id"], "launch"))[0] == 409


def body_ids(body: dict) -> list[PlatformIds]:
    return [PlatformIds.model_validate(ids) for ids in body["platform_ids"].values()]


def test_a_draft_cannot_be_paused(api, platforms):
    created = _create(api)
    status, body, _ = _invoke(api, _event("launch", created["id"], "pause"))
    assert status == 409 and "draft" in body["message"]


def test_unknown_campaign_is_404_and_recruiters_are_refused(api, platforms):
    status, body, _ = _invoke(api, _event("get", "NoSuchCampaign"))
    assert status == 404
    event = load_event("campaigns/create")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[recruiters]"
    status, body, _ = _invoke(api, event)
    assert status == 403 and body == {"message": "Requires group: marketers"}


def test_local_sandboxes_fill_the_stack_platform_secrets(local_aws):
    # make local: the template's placeholder secrets get the started sandboxes' credentials
    class Sandbox:
        def config(self) -> dict:
            return {"app_id": "sandbox-app", "access_token": "sandbox-token"}

    placeholder = json.loads(local_aws.template["Resources"]["MetaSecret"]["Properties"]["SecretString"])
    assert set(placeholder.values()) == {"FILL-ME"}  # what the operator fills in when deploying
    AdSandboxes(started={"meta": Sandbox()}).fill_secrets(local_aws)
    filled = local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["MetaSecret"])["SecretString"]
    assert json.loads(filled) == {"app_id": "sandbox-app", "access_token": "sandbox-token"}


def test_twenty_racing_launches_create_each_platform_campaign_once(api, local_aws, platforms):
    from concurrent.futures import ThreadPoolExecutor

    from attract.campaigns.launch import launch
    from attract.campaigns.repository import CampaignRepository
    from attract.clock import utc_now
    from attract.errors import ConflictError
    from attract.links.repository import LinkRepository

    created = _create(api)
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    store, links = CampaignRepository(table, dynamodb), LinkRepository(table, dynamodb)

    def attempt(_: int) -> str:
        try:
            return launch(created["id"], store=store, links=links, gateways=platforms.__getitem__, now=utc_now(),
                          base_url="https://go.example", owner="marketer").status
        except ConflictError:
            return "409"

    # When 20 clients launch the same campaign at once (real conditional writes against the table)
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    # Then one launch reached each platform; the others were refused or found it active
    assert len(platforms[GOOGLE_SEARCH].launches) == 1 and len(platforms[META].launches) == 1
    assert set(outcomes) <= {"active", "409"} and "active" in outcomes
    item = _item(local_aws, created["id"])
    assert item["status"] == "active" and len(item["link_codes"]) == 2


class RecordingRegistry:
    """The spend sync's platform-campaign registry, as the launch sees it (attract.campaigns.launch)."""

    def __init__(self):
        self.registered: list[tuple] = []

    def register_platform_campaign(self, channel, platform_campaign_id, campaign_id, name, source=None) -> None:
        self.registered.append((channel, platform_campaign_id, campaign_id, name, source))


def test_launch_registers_each_platform_campaign_for_the_spend_sync_again_when_resumed(api, local_aws, platforms):
    from attract.campaigns.launch import get_campaign, launch
    from attract.campaigns.repository import CampaignRepository
    from attract.clock import utc_now
    from attract.links.repository import LinkRepository

    created = _create(api, name="Registered campaign")
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    store, links, registry = CampaignRepository(table, dynamodb), LinkRepository(table, dynamodb), RecordingRegistry()
    arguments = {"store": store, "links": links, "gateways": platforms.__getitem__, "base_url": "https://go.example",
                 "owner": "marketer", "registry": registry}
    # Given Google launched and registered, then Meta refused
    platforms[META].fail_next = PlatformError("meta", "Temporarily unavailable", ["2"], "req-1", retryable=True)
    with pytest.raises(PlatformError):
        launch(created["id"], now=utc_now(), **arguments)
    assert registry.registered == [("google_search", f"g-campaign-{created['id']}", created["id"],
                                    "Registered campaign", "google")]
    # When the launch is resumed
    launch(created["id"], now=utc_now(), **arguments)
    # Then Meta's campaign is registered too, and Google's again (idempotent on the registry's side)
    assert registry.registered[1:] == [
        ("google_search", f"g-campaign-{created['id']}", created["id"], "Registered campaign", "google"),
        ("meta", f"m-campaign-{created['id']}", created["id"], "Registered campaign", "meta")]
    assert get_campaign(created["id"], store).status == "active"


def test_platform_credentials_are_the_secret_json_read_through_powertools(function_env, local_aws):
    from aws_lambda_powertools.utilities import parameters

    from attract.campaigns.gateways import platform_config

    function_env("CampaignsApiFunction")  # its environment: the emulator's endpoint and credentials
    secrets = local_aws.client("secretsmanager")
    good = secrets.create_secret(Name=f"ads-{uuid.uuid4().hex[:8]}", SecretString='{"app_id": "1"}')["ARN"]
    bad = secrets.create_secret(Name=f"ads-{uuid.uuid4().hex[:8]}", SecretString='["not", "an", "object"]')["ARN"]
    parameters.clear_caches()
    assert platform_config(good, 300) == {"app_id": "1"}
    with pytest.raises(ValueError, match="JSON object"):
        platform_config(bad, 300)
