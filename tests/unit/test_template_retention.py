"""Stateful resources survive, and no event disappears (issue 17; docs/decisions.md, "Stateful resources survive").

Discovered from template.yaml, raw and as SAM translates it, never from a list of names: a table, queue, secret or
user pool another change adds must be retained, and a rule, schedule or asynchronously invoked function it adds
must have a retry policy and a dead-letter queue that its sender is allowed to write to, or these tests fail.
"""

import ast
import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError

from attract_local.cfn import ROOT, load_template
from tests.support import sam_translate

# What holds state that a delete or a replacement would lose: accounts, data, work waiting, keys and secrets.
STATEFUL_TYPES = {
    "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::SQS::Queue", "AWS::SNS::Topic",
    "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolGroup", "AWS::Cognito::IdentityPool",
    "AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Kinesis::Stream",
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::EFS::FileSystem", "AWS::SSM::Parameter",
}
# SAM events whose invocations are asynchronous (the caller does not wait for the function): a failure has no one to
# return to, so the function needs a dead-letter queue (or an on-failure destination).
ASYNC_EVENTS = {"Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent", "SNS", "S3", "IoTRule",
                "CloudWatchLogs", "Cognito"}
RULE_EVENTS = {"Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent"}
# Code that creates Scheduler schedules at runtime; each is tested below to give them a retry policy and a DLQ.
SCHEDULE_CREATORS = {"layers/common/python/attract/providers/planning_triggers.py"}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template()


@pytest.fixture(scope="module")
def translated(template) -> dict:
    return sam_translate(template)


# ---------------------------------------------------------------- retention

def retention_problems(template: dict) -> list[str]:
    return [f"{name} ({resource['Type']}) lacks {policy}: Retain"
            for name, resource in template["Resources"].items() if resource["Type"] in STATEFUL_TYPES
            for policy in ("DeletionPolicy", "UpdateReplacePolicy") if resource.get(policy) != "Retain"]


def test_every_stateful_resource_is_retained_on_delete_and_on_replacement(template, translated):
    # Then nothing stateful, as written or as SAM generates it, is deleted with the stack or by a replacement
    assert retention_problems(template) == []
    assert retention_problems(translated) == []
    # And the discovery finds what the issue names: accounts and their groups, tables, every queue, every secret
    stateful = {name for name, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES}
    assert {"UserPool", "MarketersGroup", "RecruitersGroup", "AttractTable", "IdempotencyTable", "InvitesQueue",
            "InvitesDeadLetterQueue", "JoinMailQueue", "EventDeadLetterQueue", "EmailPepperSecret",
            "SigningKeySecret", "GoogleAdsSecret", "MetaSecret", "DataKey"} <= stateful
    assert {name for name, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"} <= stateful


def test_a_stateful_resource_without_the_policies_is_reported(template):
    # Guard against a check that cannot fail: any new queue (another branch's) without the policies is named
    broken = copy.deepcopy(template)
    broken["Resources"]["SomeNewWorkQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    del broken["Resources"]["UserPool"]["UpdateReplacePolicy"]
    assert retention_problems(broken) == [
        "UserPool (AWS::Cognito::UserPool) lacks UpdateReplacePolicy: Retain",
        "SomeNewWorkQueue (AWS::SQS::Queue) lacks DeletionPolicy: Retain",
        "SomeNewWorkQueue (AWS::SQS::Queue) lacks UpdateReplacePolicy: Retain",
    ]


# ---------------------------------------------------------------- no event disappears

def _queue_of(arn: Any) -> str | None:
    """The logical id of a queue named by `!GetAtt <Queue>.Arn`."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return arn["Fn::GetAtt"][0] if isinstance(arn["Fn::GetAtt"], list) else arn["Fn::GetAtt"].split(".")[0]
    return None


def _statements(document: dict) -> list[dict]:
    statements = document.get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _key_allows(template: dict, queue: str, principal: dict) -> bool:
    """Whether a queue's KMS key (when it has one of the template's) lets `principal` write to the queue."""
    key = template["Resources"][queue]["Properties"].get("KmsMasterKeyId")
    if key is None:
        return True  # SQS-managed encryption (or none): nothing to grant
    if not isinstance(key, dict) or "Ref" not in key:
        return False  # AWS managed alias/aws/sqs: its policy cannot be given to a service principal
    policy = template["Resources"][key["Ref"]]["Properties"]["KeyPolicy"]
    return any(s["Effect"] == "Allow" and s.get("Principal") == principal
               and {"kms:GenerateDataKey", "kms:Decrypt"} <= set(_listed(s["Action"])) for s in _statements(policy))


def _queue_policy_allows(template: dict, queue: str, service: str) -> bool:
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SQS::QueuePolicy" or {"Ref": queue} not in resource["Properties"]["Queues"]:
            continue
        for statement in _statements(resource["Properties"]["PolicyDocument"]):
            if (statement["Effect"] == "Allow" and statement.get("Principal") == {"Service": service}
                    and "sqs:SendMessage" in _listed(statement["Action"])
                    and statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}):
                return True
    return False


def _role_may_send(template: dict, role: str, queue: str) -> bool:
    """Whether an IAM role of the template may put messages on `queue` (and use its key through SQS)."""
    statements = [s for policy in template["Resources"][role]["Properties"].get("Policies") or []
                  for s in _statements(policy["PolicyDocument"])]
    sends = any("sqs:SendMessage" in _listed(s["Action"]) and {"Fn::GetAtt": [queue, "Arn"]} in _listed(s["Resource"])
                for s in statements)
    key = template["Resources"][queue]["Properties"].get("KmsMasterKeyId")
    if not isinstance(key, dict) or "Ref" not in key:
        return sends
    return sends and any("kms:GenerateDataKey" in _listed(s["Action"])
                         and {"Fn::GetAtt": [key["Ref"], "Arn"]} in _listed(s["Resource"]) for s in statements)


def _delivery_problem(where: str, target: dict) -> list[str]:
    problems = []
    retry = target.get("RetryPolicy") or {}
    if not {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} <= set(retry):
        problems.append(f"{where}: no RetryPolicy (MaximumRetryAttempts and MaximumEventAgeInSeconds)")
    if _queue_of((target.get("DeadLetterConfig") or {}).get("Arn")) is None:
        problems.append(f"{where}: no DeadLetterConfig naming a queue of the stack")
    return problems


def delivery_problems(translated: dict) -> list[str]:
    """Every rule and schedule target with a retry policy and a DLQ its sender may write to; every function invoked
    asynchronously with a dead-letter queue (or an on-failure destination) it may write to."""
    resources = translated["Resources"]
    problems: list[str] = []
    async_functions: set[str] = set()
    for name, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Events::Rule":
            for target in props.get("Targets") or []:
                where = f"rule {name} target {target.get('Id')}"
                problems += _delivery_problem(where, target)
                queue = _queue_of((target.get("DeadLetterConfig") or {}).get("Arn"))
                if queue and not _queue_policy_allows(translated, queue, "events.amazonaws.com"):
                    problems.append(f"{where}: {queue}'s queue policy does not let events.amazonaws.com send to it")
                if queue and not _key_allows(translated, queue, {"Service": "events.amazonaws.com"}):
                    problems.append(f"{where}: {queue}'s KMS key policy does not let events.amazonaws.com use it")
                if _queue_of(target.get("Arn")) is None and "Fn::GetAtt" in (target.get("Arn") or {}):
                    async_functions.add(target["Arn"]["Fn::GetAtt"][0])
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            target = props.get("Target") or {}
            where = f"schedule {name}"
            problems += _delivery_problem(where, target)
            queue = _queue_of((target.get("DeadLetterConfig") or {}).get("Arn"))
            role = _queue_of(target.get("RoleArn"))  # a !GetAtt <Role>.Arn
            if queue and (role is None or not _role_may_send(translated, role, queue)):
                problems.append(f"{where}: its role may not send to {queue} (Scheduler writes dead letters as the role)")
        elif resource["Type"] == "AWS::Lambda::Permission" and isinstance(props.get("Principal"), str) \
                and props["Principal"].split(".")[0] in {"events", "sns", "s3", "logs", "iot", "cognito-idp"}:
            function = props["FunctionName"]
            if isinstance(function, dict):
                async_functions.add((function.get("Ref") or function.get("Fn::GetAtt", [""])[0]).removesuffix("Aliaslive"))
    on_failure = {(r["Properties"].get("FunctionName") or {}).get("Ref") for r in resources.values()
                  if r["Type"] == "AWS::Lambda::EventInvokeConfig"
                  and ((r["Properties"].get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")}
    for function in sorted(async_functions):
        dead_letters = (resources[function]["Properties"].get("DeadLetterConfig") or {}).get("TargetArn")
        if _queue_of(dead_letters) is None and function not in on_failure:
            problems.append(f"function {function} is invoked asynchronously without a dead-letter queue")
    return problems


def test_every_rule_and_schedule_target_retries_then_dead_letters_and_may_write_there(translated):
    assert delivery_problems(translated) == []


def test_the_check_sees_the_rules_schedules_and_asynchronous_functions_sam_generates(template, translated):
    # The discovery works: SAM's rules for the template's EventBridgeRule and Schedule events are found
    rules = [r for r in translated["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    scheduled = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
                 and any(e["Type"] in RULE_EVENTS for e in (r["Properties"].get("Events") or {}).values())}
    assert {"InviteFeedbackFunction", "SpendSyncFunction", "ConversionSweepFunction"} <= scheduled
    assert len(rules) == sum(1 for name in scheduled for e in template["Resources"][name]["Properties"]["Events"].values()
                             if e["Type"] in RULE_EVENTS and e["Type"] != "ScheduleV2")
    # And each way of losing an event is caught: no DLQ on a rule's target, no retry policy, a DLQ the service may not
    # write to, an asynchronously invoked function without its own DLQ
    broken = copy.deepcopy(template)
    events = broken["Resources"]["SpendSyncFunction"]["Properties"]["Events"]
    del events["Hourly"]["Properties"]["DeadLetterConfig"]
    del broken["Resources"]["ConversionSweepFunction"]["Properties"]["Events"]["Sweep"]["Properties"]["RetryPolicy"]
    del broken["Resources"]["InviteFeedbackFunction"]["Properties"]["DeadLetterQueue"]
    del broken["Resources"]["EventDeadLetterQueuePolicy"]
    problems = delivery_problems(sam_translate(broken))
    assert any("SpendSyncFunctionHourly" in p and "no DeadLetterConfig" in p for p in problems), problems
    assert any("ConversionSweepFunctionSweep" in p and "no RetryPolicy" in p for p in problems), problems
    assert "function InviteFeedbackFunction is invoked asynchronously without a dead-letter queue" in problems
    assert any("InviteFeedbackFunctionSesFeedback" in p and "queue policy" in p for p in problems), problems
    # and a key that would refuse EventBridge
    broken = copy.deepcopy(template)
    key = broken["Resources"]["DataKey"]["Properties"]["KeyPolicy"]
    key["Statement"] = [s for s in key["Statement"] if s.get("Principal") != {"Service": "events.amazonaws.com"}]
    assert any("KMS key policy" in p for p in delivery_problems(sam_translate(broken)))


def test_a_scheduler_schedule_in_the_template_is_checked_too(template):
    # A ScheduleV2 event (what another change might add) becomes an AWS::Scheduler::Schedule: held to the same rules
    changed = copy.deepcopy(template)
    events = changed["Resources"]["SpendSyncFunction"]["Properties"]["Events"]
    events["Daily"] = {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 day)"}}
    assert [p for p in delivery_problems(sam_translate(changed)) if "SpendSyncFunctionDaily" in p] == [
        "schedule SpendSyncFunctionDaily: no RetryPolicy (MaximumRetryAttempts and MaximumEventAgeInSeconds)",
        "schedule SpendSyncFunctionDaily: no DeadLetterConfig naming a queue of the stack"]


# ---------------------------------------------------------------- schedules the code creates at runtime

def _schedule_creators() -> set[str]:
    found = set()
    for path in [*ROOT.glob("functions/**/*.py"), *ROOT.glob("layers/common/python/attract/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("create_schedule", "update_schedule"):
                found.add(str(path.relative_to(ROOT)))
    return found


def test_code_that_creates_schedules_is_known_and_tested_here():
    # A new place creating schedules at runtime must give them a retry policy and a DLQ: add it here, with a test
    assert _schedule_creators() == SCHEDULE_CREATORS


def test_every_function_that_creates_schedules_names_a_dead_letter_queue_its_scheduler_role_may_write_to(template):
    resources = template["Resources"]
    creators = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"
                and any("scheduler:CreateSchedule" in _listed(s["Action"])
                        for p in r["Properties"].get("Policies") or [] for s in p.get("Statement", []))}
    assert "InviteApiFunction" in creators
    for name, function in creators.items():
        props = function["Properties"]
        variables = props["Environment"]["Variables"]
        queues = {_queue_of(v) for k, v in variables.items() if "DEAD_LETTER" in k} - {None}
        assert len(queues) == 1, f"{name}: no *DEAD_LETTER* variable naming a queue's Arn for its schedules"
        (queue,) = queues
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
        passed = [_queue_of(s["Resource"]) for p in props["Policies"] for s in p["Statement"]
                  if "iam:PassRole" in _listed(s["Action"])]
        assert passed, f"{name} passes no role to Scheduler"
        for role in passed:
            assert role is not None and _role_may_send(template, role, queue), (name, role, queue)


class _RecordingScheduler:
    """boto3's scheduler client as far as SchedulerSchedules uses it; `exists` makes create_schedule conflict."""

    def __init__(self, exists: bool):
        self.exists, self.calls = exists, []

    def create_schedule(self, **arguments):
        self.calls.append(("create_schedule", arguments))
        if self.exists:
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "exists"}}, "CreateSchedule")

    def update_schedule(self, **arguments):
        self.calls.append(("update_schedule", arguments))


@pytest.mark.parametrize("exists", [False, True], ids=["created", "updated"])
def test_invite_schedules_are_created_and_updated_with_a_retry_policy_and_the_dead_letter_queue(exists):
    from attract.providers.planning_triggers import SchedulerSchedules

    dlq = "arn:aws:sqs:us-east-1:123456789012:attract-EventDeadLetterQueue-X"
    recorder = _RecordingScheduler(exists)
    schedules = SchedulerSchedules("arn:aws:sqs:us-east-1:123456789012:plan", "arn:aws:iam::123456789012:role/s", dlq,
                                   scheduler=recorder)
    schedules.put("invite-c1", "rate(1 day)", "UTC", '{"campaign_id": "c1"}')
    assert [call for call, _ in recorder.calls] == (["create_schedule", "update_schedule"] if exists
                                                    else ["create_schedule"])
    for _, arguments in recorder.calls:
        target = arguments["Target"]
        # An hour of retries: at most one firing an hour is allowed, so a late message never overlaps the next one
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}
        assert target["DeadLetterConfig"] == {"Arn": dlq}
