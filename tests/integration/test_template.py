"""template.yaml is the single truth: it must validate, translate, and lint clean after the SAM transform."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from attract_local.cfn import ROOT, http_routes, load_template

TEMPLATE = ROOT / "template.yaml"
PUBLIC_FUNCTIONS = {"TrackingFunction", "JoinsFunction", "InviteUnsubscribeFunction"}
# Routes without an authorizer, as the template's own HttpApi events declare them (not listed again here).
PUBLIC_ROUTES = {route.key for route in http_routes(load_template()) if route.public}


class _NoManagedPolicies:
    """The translator asks IAM for managed policy names only when a template uses them; ours does not."""

    def load(self) -> dict:
        return {}


def _translate(template: dict) -> dict:
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):  # `sam package` would upload these; any S3 URI translates
                props[key] = f"s3://attract-artifacts/{props[key].strip('/')}.zip"
    return transform(template, {}, _NoManagedPolicies())


def _lint_errors(template: dict) -> list[str]:
    matches = lint(json.dumps(_translate(template)), config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]


@pytest.fixture(scope="module")
def raw_template() -> dict:
    template, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return template


def test_sam_validate_offline():
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline",
           "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    sam = Path(sys.executable).with_name("sam")
    result = subprocess.run([str(sam), "validate", "--region", "us-east-1", "--template-file", str(TEMPLATE)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_transformed_template_lints_clean(raw_template):
    assert _lint_errors(raw_template) == []


def test_lint_catches_a_broken_reference(raw_template):
    # Guard against a lint that cannot fail: a policy pointing at a table that does not exist must be caught.
    broken = copy.deepcopy(raw_template)
    statement = broken["Resources"]["TrackingFunction"]["Properties"]["Policies"][0]["Statement"][0]
    statement["Resource"] = {"Fn::GetAtt": ["NoSuchTable", "Arn"]}
    assert any("NoSuchTable" in error for error in _lint_errors(broken))


def test_every_non_public_route_has_the_cognito_authorizer(raw_template):
    translated = _translate(raw_template)
    api = next(r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    routes = {}
    for path, methods in api["Properties"]["Body"]["paths"].items():
        for method, operation in methods.items():
            routes[f"{method.upper()} {path}"] = operation.get("security")
    # SAM writes an explicit {"NONE": []} for routes that opt out of the default authorizer.
    public = {key for key, security in routes.items() if security in (None, [], [{"NONE": []}])}
    assert public == PUBLIC_ROUTES
    assert all(security == [{"CognitoJwt": []}] for key, security in routes.items() if key not in public)


def test_public_routes_are_throttled_and_tables_recoverable(raw_template):
    api = raw_template["Resources"]["HttpApi"]["Properties"]
    assert set(api["RouteSettings"]) == PUBLIC_ROUTES
    for name, resource in raw_template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            props = resource["Properties"]
            assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
            assert props["TimeToLiveSpecification"]["Enabled"] is True, name


def test_public_and_authenticated_routes_never_share_a_function():
    template = load_template()
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = [e for e in (resource["Properties"].get("Events") or {}).values() if e["Type"] == "HttpApi"]
        public = {(e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE" for e in events}
        assert len(public) <= 1, f"{name} mixes public and authenticated routes"
        assert (public == {True}) == (name in PUBLIC_FUNCTIONS), name


def test_no_function_policy_allows_scan_or_wildcards():
    template = load_template()
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies") or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any(a.endswith("*") for a in actions), (name, actions)
                assert statement["Resource"] != "*", name
                if any(a.endswith("Scan") for a in actions):
                    # Only the planner, and only on an employer's own source tables (SourceTablePattern), never ours
                    assert name == "InvitePlannerFunction", (name, actions)
                    assert "AttractTable" not in str(statement["Resource"]) and "SourceTablePattern" in str(
                        statement["Resource"]), name


def test_cors_reaches_the_translated_api_as_a_list_of_origins(raw_template):
    translated = _translate(raw_template)
    api = next(r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ["*"] and "POST" in cors["allowMethods"]


# SAM inlines parameter values into CorsConfiguration at transform time, so after the transform the
# parameter looks unused to cfn-lint. Any other warning is news.
EXPECTED_WARNINGS = {"W2001 Parameter CareersSiteOrigin not used."}


def test_no_unexpected_lint_warnings(raw_template):
    matches = lint(json.dumps(_translate(raw_template)), config=ManualArgs(regions=["us-east-1"]))
    assert {f"{m.rule.id} {m.message}" for m in matches} - EXPECTED_WARNINGS == set()


def test_email_pepper_survives_stack_deletion_and_replacement(raw_template):
    # Losing the pepper orphans every hashed key: members and imported touches could never be matched again.
    secret = raw_template["Resources"]["EmailPepperSecret"]
    assert (secret.get("DeletionPolicy"), secret.get("UpdateReplacePolicy")) == ("Retain", "Retain")


def test_links_function_reads_the_destination_allow_list_parameter(raw_template):
    assert raw_template["Parameters"]["DestinationHosts"]["Default"] == ""
    env = raw_template["Resources"]["LinksFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DESTINATION_HOSTS"] == {"Ref": "DestinationHosts"}


def _grants(raw_template, function: str) -> dict[str, set[str]]:
    """leading key pattern -> DynamoDB actions the function may use on AttractTable items under it."""
    grants: dict[str, set[str]] = {}
    for policy in raw_template["Resources"][function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            if statement["Resource"] != {"Fn::GetAtt": ["AttractTable", "Arn"]}:
                continue
            for key in statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]:
                grants.setdefault(key, set()).update(statement["Action"])
    return grants


def test_click_path_grants_are_least_privilege(raw_template):
    # The redirect reads a link's partition (link + counter shards) with one Query, adds to a counter
    # shard with UpdateItem, and writes touches and click lookups in a transaction (PutItem each), with
    # an ad landing's once-only mark (LANDING#) in the same transaction.
    assert _grants(raw_template, "TrackingFunction") == {
        "LINK#*": {"dynamodb:Query", "dynamodb:UpdateItem"},
        "VISITOR#*": {"dynamodb:PutItem"}, "CLICK#*": {"dynamodb:PutItem"}, "LANDING#*": {"dynamodb:PutItem"}}
    assert _grants(raw_template, "LinksFunction") == {
        "LINK#*": {"dynamodb:Query", "dynamodb:PutItem"}, "DIM#*": {"dynamodb:PutItem"},
        "VISITOR#*": {"dynamodb:BatchWriteItem"}, "EMAIL#*": {"dynamodb:BatchWriteItem"}}


def _ses_event(name: str, address: str, **changes) -> dict:
    from tests.support import load_event

    event = load_event(f"invites/{name}")
    recipients = event["detail"]["bounce"]["bouncedRecipients"] if name == "bounce" else \
        event["detail"]["complaint"]["complainedRecipients"]
    recipients[0]["emailAddress"] = address
    event.update(changes)
    return event


def test_ses_bounces_and_complaints_reach_the_feedback_function_through_the_default_bus(raw_template, local_aws,
                                                                                         function_env):
    import time
    import uuid

    from tests.support import FakeLambdaContext

    resolve = local_aws.resolve
    # Given the configuration set's event destination: bounces and complaints to the default event bus
    destination = raw_template["Resources"]["InviteFeedbackEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "InviteConfigurationSet"}
    assert destination["EventDestination"]["Enabled"] is True
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert resolve(destination["EventDestination"]["EventBridgeDestination"]["EventBusArn"]) == \
        "arn:aws:events:us-east-1:123456789012:event-bus/default"
    # And the feedback function's rule as SAM deploys it, on the default bus, for the sender's configuration set
    rules = [r["Properties"] for r in _translate(raw_template)["Resources"].values() if r["Type"] == "AWS::Events::Rule"
             and any(t["Arn"] == {"Fn::GetAtt": ["InviteFeedbackFunction", "Arn"]} for t in r["Properties"]["Targets"])]
    (rule,) = rules
    assert "EventBusName" not in rule
    pattern = resolve(rule["EventPattern"])
    sender_set = local_aws.functions()["InviteSenderFunction"].environment["SES_CONFIGURATION_SET"]
    assert pattern["detail"]["mail"]["tags"]["ses:configuration-set"] == [sender_set]
    # When SES publishes events to the bus (moto's EventBridge matches the pattern; a queue stands in for the function)
    events, sqs = local_aws.client("events"), local_aws.client("sqs")
    name = f"feedback-{uuid.uuid4().hex[:8]}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "feedback", "Arn": queue_arn}])
    bounced, complained = f"b-{name}@example.com", f"c-{name}@example.com"
    foreign = _ses_event("bounce", f"f-{name}@example.com")
    foreign["detail"]["mail"]["tags"]["ses:configuration-set"] = ["another-application"]
    delivered = _ses_event("bounce", f"d-{name}@example.com", **{"detail-type": "Email Delivered"})
    for event in (_ses_event("bounce", bounced), _ses_event("complaint", complained), foreign, delivered):
        answer = events.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                             "Detail": json.dumps(event["detail"]), "Resources": event["resources"]}])
        assert answer["FailedEntryCount"] == 0
    received: list[dict] = []
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        received += [json.loads(m["Body"]) for m in messages]
    events.remove_targets(Rule=name, Ids=["feedback"])
    events.delete_rule(Name=name)
    # Then only our bounce and complaint match, and the function suppresses each address from the delivered event
    assert sorted(e["detail-type"] for e in received) == ["Email Bounced", "Email Complaint Received"]
    feedback = function_env("InviteFeedbackFunction")
    assert [feedback.lambda_handler(e, FakeLambdaContext()) for e in received] == [{"suppressed": 1}] * 2


def test_invite_run_lock_grants(raw_template):
    # A run and the campaign's active_run_id are written in one TransactWriteItems (PutItem + UpdateItem);
    # the planner and the sender release the campaign (UpdateItem) when the run is done or failed.
    for function in ("InviteApiFunction", "InvitePlannerFunction"):
        grants = _grants(raw_template, function)
        assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= grants["INVITE_RUN#*"], function
        assert {"dynamodb:GetItem", "dynamodb:UpdateItem"} <= grants["INVITE_CAMPAIGN#*"], function
    assert _grants(raw_template, "InviteSenderFunction")["INVITE_CAMPAIGN#*"] == {"dynamodb:UpdateItem"}


def test_the_invite_api_may_read_ses_identities_and_send_nothing(raw_template):
    # sender.from is checked with SES v2 GetEmailIdentity: read-only, this account's identities in this region
    statements = [s for p in raw_template["Resources"]["InviteApiFunction"]["Properties"]["Policies"]
                  for s in p["Statement"] if any(a.startswith("ses:") for a in s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in statements] == [(
        ["ses:GetEmailIdentity"],
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"})]
