"""The campaigns API through the real adapters and SDKs, against the local Google Ads and Meta sandboxes.

What `make local` wires up (attract_local.ad_sandboxes): the stack's platform secrets hold the
sandboxes' credentials, GOOGLE_ADS_ENDPOINT / META_GRAPH_URL / GRPC_DEFAULT_SSL_ROOTS_FILE_PATH point at
them, and gateway_for builds the adapters from those.
"""

import json
import os

import pytest

from attract.campaigns import gateways, policy
from attract.campaigns.models import CampaignDraft
from attract_local.ad_sandboxes import GRPC_ROOTS, AdSandboxes, start_ad_sandboxes
from tests.support import FakeLambdaContext, load_event, with_body


@pytest.fixture(scope="module")
def sandboxes():
    # As `make local` does it: the process's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, if any, is kept and extended
    environ = {name: os.environ[name] for name in (GRPC_ROOTS,) if name in os.environ}
    started = start_ad_sandboxes(environ)
    assert set(started.started) == {"google", "meta"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        yield started
    started.stop()


@pytest.fixture
def api(function_env, local_aws, sandboxes: AdSandboxes):
    from aws_lambda_powertools.utilities import parameters

    sandboxes.fill_secrets(local_aws)
    parameters.clear_caches()  # secrets another test read (the template's placeholders)
    gateways._built.clear()  # adapters built for another endpoint by an earlier test
    return function_env("CampaignsApiFunction")


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _action(campaign_id: str, action: str) -> dict:
    event = load_event("campaigns/launch")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/campaigns/{campaign_id}/{action}"
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST /campaigns/{{campaign_id}}/{action}"
    event["pathParameters"] = {"campaign_id": campaign_id}
    return event


def _create(api, name: str, **changes) -> dict:
    event = load_event("campaigns/create")
    status, created = _invoke(api, with_body(event, {**json.loads(event["body"]), "name": name, **changes}))
    assert status == 201, created
    return created


def test_launch_through_both_sdks_reaches_the_sandboxes_within_the_rules_once(api, sandboxes):
    google, meta = sandboxes.started["google"], sandboxes.started["meta"]
    created = _create(api, "Sandbox launch")
    # When the campaign is launched through the API
    status, launched = _invoke(api, _action(created["id"], "launch"))
    # Then both platforms hold an enabled campaign under the tagged name
    assert status == 200 and launched["status"] == "active", launched
    assert {ids["status"] for ids in launched["platform_ids"].values()} == {"ENABLED"}
    name = f"Sandbox launch [attract:{created['id']}]"
    (meta_campaign,) = [o for o in meta.of_kind("campaign") if o["name"] == name]
    # And what reached Meta keeps the employment rules, checked by the policy module's own helpers
    draft = CampaignDraft.model_validate(created["draft"])
    assert policy.meta_campaign_violations(meta_campaign, draft) == []
    (ad_set,) = [o for o in meta.of_kind("adset") if o["name"].startswith(name)]
    assert policy.meta_targeting_violations(ad_set["targeting"]) == []
    # And Google got one atomic create whose ad points at the Google channel's tracked link
    google_calls = len(google.received)
    meta_calls = len(meta.received)
    assert any(method == "Mutate" for method, _ in google.received)
    # When the client retries the launch
    status, again = _invoke(api, _action(created["id"], "launch"))
    # Then nothing reaches either platform
    assert status == 200 and again["platform_ids"] == launched["platform_ids"]
    assert (len(google.received), len(meta.received)) == (google_calls, meta_calls)
    # When it is paused
    status, paused = _invoke(api, _action(created["id"], "pause"))
    assert status == 200 and {ids["status"] for ids in paused["platform_ids"].values()} == {"PAUSED"}


def test_a_policy_violation_reaches_neither_sandbox(api, sandboxes):
    google, meta = sandboxes.started["google"], sandboxes.started["meta"]
    before = (len(google.received), len(meta.received))
    event = load_event("campaigns/create_with_age_targeting")
    status, body = _invoke(api, event)
    assert status == 422 and {e["rule"] for e in body["errors"]} >= {"meta.age_fixed_18_65", "google.no_age"}
    assert (len(google.received), len(meta.received)) == before


def test_a_launched_campaign_is_registered_for_the_spend_sync(api, local_aws, sandboxes):
    created = _create(api, "Registered for spend")
    status, launched = _invoke(api, _action(created["id"], "launch"))
    assert status == 200, launched
    for channel, ids in launched["platform_ids"].items():
        item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
            "PK": {"S": f"PLATFORM_CAMPAIGN#{channel}#{ids['campaign']}"}, "SK": {"S": "PLATFORM_CAMPAIGN"}})
        assert item["Item"]["campaign_id"]["S"] == created["id"]
        assert item["Item"]["name"]["S"] == "Registered for spend"


def test_placeholder_credentials_are_a_502_naming_the_code_never_the_secret(api, local_aws, sandboxes):
    from aws_lambda_powertools.utilities import parameters

    # Given the template's placeholder secret, as deployed before the operator fills it in
    placeholder = local_aws.template["Resources"]["GoogleAdsSecret"]["Properties"]["SecretString"]
    secrets = local_aws.client("secretsmanager")
    secrets.put_secret_value(SecretId=local_aws.refs["GoogleAdsSecret"], SecretString=placeholder)
    parameters.clear_caches()
    try:
        created = _create(api, "Placeholder credentials", channels=["google_search"], meta=None)
        status, body = _invoke(api, _action(created["id"], "launch"))
        # Then the launch is refused as a platform error with our code, and the secret's content is not quoted
        assert status == 502 and body["platform_error"]["codes"] == ["attract:credentials_invalid"]
        assert "FILL-ME" not in json.dumps(body)
        _, stored = _invoke(api, _event_get(created["id"]))
        assert stored["status"] == "failed" and stored["last_error"]["codes"] == ["attract:credentials_invalid"]
    finally:
        sandboxes.fill_secrets(local_aws)
        parameters.clear_caches()


def _event_get(campaign_id: str) -> dict:
    event = load_event("campaigns/get")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/campaigns/{campaign_id}"
    event["pathParameters"] = {"campaign_id": campaign_id}
    return event
