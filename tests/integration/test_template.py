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

from attract_local.cfn import ROOT, http_routes, load_template
from tests.support import sam_translate

TEMPLATE = ROOT / "template.yaml"
PUBLIC_FUNCTIONS = {"TrackingFunction", "JoinsFunction", "InviteUnsubscribeFunction", "WebFunction",
                    "ConsentFunction", "ForgetFunction"}
# Routes without an authorizer, as the template's own HttpApi events declare them (not listed again here).
PUBLIC_ROUTES = {route.key for route in http_routes(load_template()) if route.public}


def _lint_errors(template: dict) -> list[str]:
    matches = lint(json.dumps(sam_translate(template)), config=ManualArgs(regions=["us-east-1"]))
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
    translated = sam_translate(raw_template)
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
    translated = sam_translate(raw_template)
    api = next(r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ["*"] and "POST" in cors["allowMethods"]


# SAM inlines parameter values into CorsConfiguration at transform time, so after the transform the
# parameter looks unused to cfn-lint. Any other warning is news.
EXPECTED_WARNINGS = {"W2001 Parameter CareersSiteOrigin not used."}


def test_no_unexpected_lint_warnings(raw_template):
    matches = lint(json.dumps(sam_translate(raw_template)), config=ManualArgs(regions=["us-east-1"]))
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
    # an ad landing's once-only mark (LANDING#) in the same transaction; and adds the click to its day's report
    # keys (one UpdateItem on AGG#clicks, exactly that partition: not the join aggregates).
    assert _grants(raw_template, "TrackingFunction") == {
        "LINK#*": {"dynamodb:Query", "dynamodb:UpdateItem"}, "AGG#clicks": {"dynamodb:UpdateItem"},
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
    rules = [r["Properties"] for r in sam_translate(raw_template)["Resources"].values() if r["Type"] == "AWS::Events::Rule"
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


def test_the_sender_may_count_an_outcome_once(raw_template):
    # An outcome mark (INVITE_SEND#…/RUN#…, PutItem) and the run's ADD (INVITE_RUN#…, UpdateItem) in one
    # TransactWriteItems, which IAM authorises item by item
    grants = _grants(raw_template, "InviteSenderFunction")
    assert "dynamodb:PutItem" in grants["INVITE_SEND#*"] and "dynamodb:UpdateItem" in grants["INVITE_RUN#*"]


def test_the_invite_api_may_read_ses_identities_and_send_nothing(raw_template):
    # sender.from is checked with SES v2 GetEmailIdentity: read-only, this account's identities in this region
    statements = [s for p in raw_template["Resources"]["InviteApiFunction"]["Properties"]["Policies"]
                  for s in p["Statement"] if any(a.startswith("ses:") for a in s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in statements] == [(
        ["ses:GetEmailIdentity"],
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"})]


# ---------------------------------------------------------------- operations (docs/decisions.md, "Operations")

NOTIFY = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _alarms_on(template: dict, namespace: str, metric: str) -> list[dict]:
    return [a["Properties"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric]


def _dead_letter_queues(template: dict) -> set[str]:
    """Queues' redrive targets, and where events go that a rule, a schedule or an asynchronous invocation could not
    deliver (EventBridge's DeadLetterConfig, a function's DeadLetterQueue)."""
    redrive = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
               for q in _of_type(template, "AWS::SQS::Queue").values() if "RedrivePolicy" in q["Properties"]}
    events = set()
    for function in _of_type(template, "AWS::Serverless::Function").values():
        props = function["Properties"]
        if "DeadLetterQueue" in props:
            events.add(props["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0])
        for event in (props.get("Events") or {}).values():
            if "DeadLetterConfig" in (event.get("Properties") or {}):
                events.add(event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    return redrive | events


def test_every_alarm_notifies_the_alarm_topic_parameter_when_one_is_given(raw_template):
    assert raw_template["Parameters"]["AlarmTopicArn"] == {**raw_template["Parameters"]["AlarmTopicArn"],
                                                           "Type": "String", "Default": ""}
    assert raw_template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    alarms = _of_type(raw_template, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == NOTIFY == alarm["Properties"]["OKActions"], name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


def test_every_dead_letter_queue_alarms_on_its_first_message(raw_template):
    dlqs = _dead_letter_queues(raw_template)
    assert dlqs >= {"InvitesDeadLetterQueue", "InvitePlanDeadLetterQueue", "ConversionsDeadLetterQueue",
                    "EventDeadLetterQueue"}
    alarmed = {}
    for alarm in _alarms_on(raw_template, "AWS/SQS", "ApproximateNumberOfMessagesVisible"):
        (dimension,) = alarm["Dimensions"]
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"])
    assert {dlq: alarmed.get(dlq) for dlq in dlqs} == {dlq: ("Maximum", "GreaterThanThreshold", 0) for dlq in dlqs}


def test_every_function_alarms_on_errors_and_throttles(raw_template):
    functions = set(_of_type(raw_template, "AWS::Serverless::Function"))
    for metric in ("Errors", "Throttles"):
        alarmed = {a["Dimensions"][0]["Value"]["Ref"]: (a["Statistic"], a["Period"], a["Threshold"])
                   for a in _alarms_on(raw_template, "AWS/Lambda", metric)}
        assert alarmed == {name: ("Sum", 300, 0) for name in functions}, metric


def test_ses_reputation_alarms_fire_below_the_levels_aws_reviews_an_account_at(raw_template):
    # AWS reviews an account at a 5 % bounce rate and a 0.1 % complaint rate (the metrics are ratios)
    (bounce,) = _alarms_on(raw_template, "AWS/SES", "Reputation.BounceRate")
    (complaint,) = _alarms_on(raw_template, "AWS/SES", "Reputation.ComplaintRate")
    assert bounce["Threshold"] == 0.04 < 0.05 and complaint["Threshold"] == 0.0008 < 0.001
    assert "Dimensions" not in bounce and "Dimensions" not in complaint  # the account's rates, as AWS reviews them


def test_the_daily_spend_alarm_watches_the_metric_the_spend_sync_publishes(raw_template):
    (alarm,) = _alarms_on(raw_template, "Attract", "AdSpendDay")
    variables = raw_template["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
        ("currency", {"Ref": "DailySpendAlarmCurrency"}), ("service", variables["POWERTOOLS_SERVICE_NAME"])]
    # The metric is the day's level so far, published hourly: its Maximum, never a Sum of the hours
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", {"Ref": "DailySpendAlarmAmount"})


def test_every_function_logs_to_a_group_of_the_stack_with_retention(raw_template):
    translated = sam_translate(raw_template)
    for name in _of_type(raw_template, "AWS::Serverless::Function"):
        group = raw_template["Resources"][name]["Properties"]["LoggingConfig"]["LogGroup"]
        resource = raw_template["Resources"][group["Ref"]]
        assert resource["Type"] == "AWS::Logs::LogGroup", name
        assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        # And SAM hands it to the Lambda function it deploys
        assert translated["Resources"][name]["Properties"]["LoggingConfig"] == {"LogGroup": group}, name


def test_the_access_log_keeps_no_personal_data(raw_template):
    settings = raw_template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    variables = set(fields.values())
    # Never the caller's IP or agent, never the path (tokens ride in /joins/confirm/{token} and /u/{token}), no claims
    for personal in ("$context.identity.sourceIp", "$context.path", "$context.identity.userAgent"):
        assert personal not in variables
    assert not any("sourceIp" in v or "claims" in v or "path" in v.lower() for v in variables)
    assert {"$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency",
            "$context.integrationErrorMessage"} <= variables
    group = raw_template["Resources"][settings["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    stage = next(r for r in sam_translate(raw_template)["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["AccessLogSettings"]["Format"] == settings["Format"]


PII_QUEUES = {"InvitesQueue", "InvitesDeadLetterQueue", "ConversionsQueue", "ConversionsDeadLetterQueue",
              "EventDeadLetterQueue"}


def test_the_stack_key_encrypts_the_tables_and_the_queues_that_carry_personal_data(raw_template):
    key = raw_template["Resources"]["DataKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert (key.get("DeletionPolicy"), key.get("UpdateReplacePolicy")) == ("Retain", "Retain")
    # The account administers it and delegates its use to IAM; the one service that needs a statement of its own is
    # EventBridge, which writes a rule's undelivered event to EventDeadLetterQueue as itself (tests/unit/test_template_retention.py)
    delegated, events = key["Properties"]["KeyPolicy"]["Statement"]
    assert delegated["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    for name, table in _of_type(raw_template, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                                           "KMSMasterKeyId": {"Ref": "DataKey"}}, name
    queues = _of_type(raw_template, "AWS::SQS::Queue")
    for name in PII_QUEUES:
        assert queues[name]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}, name
    # A queue under the key dead-letters into a queue under the key
    for name, queue in queues.items():
        target = (queue["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn", {}).get("Fn::GetAtt", [None])[0]
        if "KmsMasterKeyId" in queue["Properties"] and target:
            assert queues[target]["Properties"].get("KmsMasterKeyId") == {"Ref": "DataKey"}, name


NO_DATA_FUNCTIONS = {"WebFunction"}


def _key_grants(raw_template, function: str) -> list[dict]:
    return [s for p in raw_template["Resources"][function]["Properties"]["Policies"] for s in p["Statement"]
            if s["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}]


def _uses_dynamodb(raw_template, function: str) -> bool:
    return any(str(action).startswith("dynamodb:") for p in raw_template["Resources"][function]["Properties"]["Policies"]
               for s in p["Statement"] for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))


def _sqs_use_of_key_queues(raw_template, function: str) -> bool:
    props = raw_template["Resources"][function]["Properties"]
    queues = {name for name, q in _of_type(raw_template, "AWS::SQS::Queue").items() if "KmsMasterKeyId" in q["Properties"]}
    consumes = {e["Properties"]["Queue"]["Fn::GetAtt"][0] for e in (props.get("Events") or {}).values() if e["Type"] == "SQS"}
    sends = {s["Resource"]["Fn::GetAtt"][0] for p in props["Policies"] for s in p["Statement"]
             if "sqs:SendMessage" in s["Action"] and isinstance(s["Resource"], dict) and "Fn::GetAtt" in s["Resource"]}
    # Lambda writes an asynchronous invocation's dead letter with the function's role (SAM grants sqs:SendMessage)
    dead_letters = {props["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0]} if "DeadLetterQueue" in props else set()
    return bool((consumes | sends | dead_letters) & queues)


def test_functions_use_the_key_only_through_dynamodb_and_the_queues_they_use(raw_template):
    region = "${AWS::Region}"
    for name in _of_type(raw_template, "AWS::Serverless::Function"):
        if name in NO_DATA_FUNCTIONS:  # serves its own files: no policy at all, so no key either
            assert "Policies" not in raw_template["Resources"][name]["Properties"], name
            continue
        (grant,) = _key_grants(raw_template, name)
        assert set(grant["Action"]) <= {"kms:Decrypt", "kms:GenerateDataKey"}, name
        services = {s["Fn::Sub"] for s in grant["Condition"]["StringEquals"]["kms:ViaService"]}
        expected = {f"dynamodb.{region}.amazonaws.com"} if _uses_dynamodb(raw_template, name) else set()
        if _sqs_use_of_key_queues(raw_template, name):
            expected.add(f"sqs.{region}.amazonaws.com")
        assert services == expected, name
    # Recruiters' reports only read
    assert _key_grants(raw_template, "ReportsFunction")[0]["Action"] == ["kms:Decrypt"]


RESERVED = {"InviteSenderFunction", "JoinMailerFunction", "ConversionsFunction", "CampaignsApiFunction",
            "SpendSyncFunction", "PostsPublisherFunction", "PostsMetricsFunction", "XTokenRefreshFunction"}


def test_senders_and_ads_functions_have_reserved_concurrency_their_queues_never_exceed(raw_template):
    functions = _of_type(raw_template, "AWS::Serverless::Function")
    reserved = {name for name, f in functions.items() if "ReservedConcurrentExecutions" in f["Properties"]}
    assert reserved == RESERVED
    for name in RESERVED:
        props = functions[name]["Properties"]
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "SQS":  # more pollers than environments would throttle messages toward the DLQ
                assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == props["ReservedConcurrentExecutions"]
    assert raw_template["Parameters"]["InviteSenderConcurrency"]["MinValue"] == 2  # SQS's minimum maximum concurrency


def test_the_public_functions_are_called_through_the_alias_of_their_snapshot(raw_template):
    snapstart = {name for name, f in _of_type(raw_template, "AWS::Serverless::Function").items()
                 if f["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}}
    assert snapstart == PUBLIC_FUNCTIONS
    assert all(raw_template["Resources"][name]["Properties"]["AutoPublishAlias"] == "live" for name in snapstart)
    translated = sam_translate(raw_template)
    api = next(r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    template = load_template()
    for route in http_routes(template):
        operation = api["Properties"]["Body"]["paths"][route.path][route.method.lower()]
        uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        target = f"${{{route.function}Aliaslive}}" if route.function in snapstart else f"${{{route.function}.Arn}}"
        assert target in uri, route.key


def _published_metric_names() -> set[str]:
    """Every metric name the code publishes: add_metric / single_metric / the spend sync's _count, and *METRICS tables."""
    import ast

    names: set[str] = set()
    for path in [*ROOT.glob("functions/**/*.py"), *ROOT.glob("layers/common/python/attract/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "add_metric", "single_metric", "_count"):
                parts = [kw.value for kw in node.keywords if kw.arg == "name"] or node.args[:1]
                # CamelCase constants: a conditional's compared values ("rate_limited") are not names
                names |= {c.value for part in parts for c in ast.walk(part) if isinstance(c, ast.Constant)
                          and isinstance(c.value, str) and c.value[:1].isupper()}
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "").endswith("METRICS") for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                names |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return names


def test_the_dashboard_shows_every_metric_the_code_publishes(raw_template, local_aws):
    dashboard = raw_template["Resources"]["OperationsDashboard"]["Properties"]
    body = json.loads(local_aws.resolve(dashboard["DashboardBody"]))
    variables = raw_template["Globals"]["Function"]["Environment"]["Variables"]
    namespace, service = variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]
    shown = set()
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == "us-east-1"
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):  # a SEARCH over a dimension (channel, currency)
                expression = metric[0]["expression"]
                assert expression.startswith(f"SEARCH('{{{namespace},") and ",service}" in expression
                shown.add(expression.split('MetricName="')[1].split('"')[0])
            else:
                assert (metric[0], metric[2], metric[3]) == (namespace, "service", service), metric
                shown.add(metric[1])
    published = _published_metric_names()
    assert {"Clicks", "JoinsConfirmed", "InvitationsSent", "SpendSyncFailed", "AdSpendDay"} <= published  # the scan works
    assert published - shown == set()


def test_checkov_passes_with_every_suppression_justified():
    checkov = ROOT / ".venv-checkov/bin/checkov"
    if not checkov.exists():
        pytest.skip("checkov lives in its own venv: `make checkov` (part of `make test`) installs it")
    result = subprocess.run([str(checkov), "--file", "template.yaml", "--config-file", ".checkov.yaml", "--skip-download",
                             "--quiet", "--compact"], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    assert result.returncode == 0 and "Failed checks: 0" in result.stdout, result.stdout[-3000:]
    # Every suppression says why, where it stands
    import re

    for line in TEMPLATE.read_text().splitlines():
        if "checkov:skip=" in line:
            assert re.search(r"checkov:skip=CKV_\w+: \S.{20,}", line), line
    config = (ROOT / ".checkov.yaml").read_text().split("skip-check:")[1].splitlines()
    for index, line in enumerate(config):
        if line.strip().startswith("- CKV_"):
            assert config[index - 1].strip().startswith("#"), line
