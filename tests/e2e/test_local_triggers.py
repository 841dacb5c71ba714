"""The local stack runs the template's SQS and schedule triggers, not just HTTP.

A probe template of its own: a worker function on an SQS queue (batch 5, partial batch responses, a DLQ
after 2 receives, 1 s visibility) and a ticker function with Schedule / ScheduleV2 events. Both live in
nested CodeUris with the same module name (`functions/area/{worker,ticker}/app.py`). The scheduler's
clock is the test's, so a rate(1 minute) fires without waiting a minute.
"""

import json
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from attract.schedules import UnsupportedScheduleError
from attract_local.gateway import LocalGateway
from attract_local.stack import ROOT, LocalAws, function_arn

UTC = timezone.utc
START = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)
pytestmark = pytest.mark.local_only("the local stack's triggers and schedules, fired locally")

WORKER = '''
import json, os


def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"fn": "worker", "batch": len(event["Records"]), "record": record}) + "\\n")
            body = record["body"]
            if body.startswith("raise"):
                raise RuntimeError("poison")
            if body.startswith("fail-once") and record["attributes"]["ApproximateReceiveCount"] == "1":
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
'''

TICKER = '''
import json, os


def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"fn": "ticker", "event": event}) + "\\n")
'''

TEMPLATE = '''
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        OUT: {root}/out.jsonl
Resources:
  Dlq:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: 2
  SchedulerRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: scheduler.amazonaws.com}}, Action: "sts:AssumeRole"}}]
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/functions/area/worker/
      Handler: app.handler
      Timeout: 1  # Lambda refuses a mapping whose queue's visibility timeout is shorter than this
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/functions/area/ticker/
      Handler: app.handler
      Environment:
        Variables:
          SELF_ARN: !GetAtt Ticker.Arn
          SELF_NAME: !Ref Ticker
          ROLE_ARN: !GetAtt SchedulerRole.Arn
      Events:
        EveryMinute:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            ScheduleExpressionTimezone: Europe/Berlin
            Input: '{{"job": "nightly", "at": "<aws.scheduler.scheduled-time>"}}'
        Paused:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Enabled: false
'''


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _write_probe(root, template: str = TEMPLATE):
    for name, code in (("worker", WORKER), ("ticker", TICKER)):
        (root / "functions" / "area" / name).mkdir(parents=True)
        (root / "functions" / "area" / name / "app.py").write_text(textwrap.dedent(code))
    path = root / "template.yaml"
    path.write_text(template.format(root=root))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("triggers")
    template = _write_probe(root)
    clock = Clock(START)
    with (root / "stack.log").open("w") as log:
        aws = LocalAws(template_path=template).start()
        gateway = LocalGateway(aws, port=0, log=log, clock=clock).start()
        yield aws, gateway, clock, root / "out.jsonl"
        gateway.stop()
        aws.stop()


def _lines(out, fn: str) -> list[dict]:
    if not out.exists():
        return []
    return [line for line in map(json.loads, out.read_text().splitlines()) if line["fn"] == fn]


def _wait(check, timeout_s: float = 8.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _records(out, prefix: str) -> list[dict]:
    return [line["record"] for line in _lines(out, "worker") if line["record"]["body"].startswith(prefix)]


def _queue_empty(aws, url: str) -> bool:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


# ------------------------------------------------------------------ SQS


def test_sqs_messages_reach_the_function_as_a_lambda_sqs_event(stack):
    aws, _, _, out = stack
    sqs, url = aws.client("sqs"), aws.refs["WorkQueue"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"ok-{i}",
         "MessageAttributes": {"campaign": {"DataType": "String", "StringValue": "c1"}}} for i in range(7)])
    records = _wait(lambda: len(_records(out, "ok-")) == 7 and _records(out, "ok-"))
    assert sorted(r["body"] for r in records) == [f"ok-{i}" for i in range(7)]
    assert max(line["batch"] for line in _lines(out, "worker")) <= 5  # the event's BatchSize
    record = records[0]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == aws.attrs[("WorkQueue", "Arn")]
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["campaign"] == {"stringValue": "c1", "stringListValues": [],
                                                      "binaryListValues": [], "dataType": "String"}
    assert {"messageId", "receiptHandle", "md5OfBody"} <= set(record)
    _wait(lambda: _queue_empty(aws, url))  # every success deleted


def test_partial_batch_failure_leaves_exactly_the_failed_messages(stack):
    aws, _, _, out = stack
    sqs, url = aws.client("sqs"), aws.refs["WorkQueue"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "partial-ok-a"}, {"Id": "b", "MessageBody": "fail-once-b"},
        {"Id": "c", "MessageBody": "partial-ok-c"}])
    # fail-once-b is reported failed on its first receive, comes back after the 1 s visibility timeout, then succeeds.
    _wait(lambda: len(_records(out, "fail-once-b")) == 2)
    _wait(lambda: _queue_empty(aws, url))
    assert [r["attributes"]["ApproximateReceiveCount"] for r in _records(out, "fail-once-b")] == ["1", "2"]
    assert sorted(r["body"] for r in _records(out, "partial-ok")) == ["partial-ok-a", "partial-ok-c"]  # once each
    time.sleep(1.5)  # past another visibility timeout: nothing else comes back
    assert len(_records(out, "partial-ok")) == 2 and len(_records(out, "fail-once-b")) == 2


def test_a_poison_message_lands_in_the_dlq_after_max_receive_count(stack):
    aws, _, _, out = stack
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.refs["WorkQueue"], MessageBody="raise-poison")

    def in_dlq():
        got = sqs.receive_message(QueueUrl=aws.refs["Dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m["Body"] for m in got.get("Messages", [])]

    assert _wait(in_dlq, timeout_s=10) == ["raise-poison"]
    # A function error fails the batch: received and invoked exactly maxReceiveCount (2) times.
    assert [r["attributes"]["ApproximateReceiveCount"] for r in _records(out, "raise-poison")] == ["1", "2"]


# ------------------------------------------------------------------ schedules


def test_rate_and_cron_schedules_fire_at_their_times(stack):
    _, gateway, clock, out = stack
    gateway.triggers.tick(START + timedelta(seconds=59), refresh=True)
    assert _lines(out, "ticker") == []  # not yet a minute
    clock.now = START + timedelta(seconds=61)
    rule = _wait(lambda: _lines(out, "ticker"))[0]["event"]
    assert rule["detail-type"] == "Scheduled Event" and rule["source"] == "aws.events" and rule["detail"] == {}
    assert rule["time"] == "2026-11-26T12:01:30Z"
    assert rule["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/TickerEveryMinute"]
    time.sleep(1.0)  # more ticks of the scheduler thread at the same moment: no second fire, Paused never
    assert len(_lines(out, "ticker")) == 1
    # 03:00 in Berlin is 02:00 UTC in November: the ScheduleV2 event sends its Input, context filled in.
    clock.now = datetime(2026, 11, 27, 2, 0, 5, tzinfo=UTC)
    nightly = _wait(lambda: [t["event"] for t in _lines(out, "ticker") if "job" in t["event"]])
    assert nightly == [{"job": "nightly", "at": "2026-11-27T02:00:00Z"}]


def test_a_scheduler_at_schedule_created_at_run_time_fires_once(stack):
    aws, gateway, clock, out = stack
    scheduler = aws.client("scheduler")
    now = clock.now
    due = (now + timedelta(seconds=30)).astimezone(UTC)

    def create(name: str, **extra):
        scheduler.create_schedule(
            Name=name, ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": function_arn("Ticker"), "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                    "Input": json.dumps({"from": name, "schedule": "<aws.scheduler.schedule-arn>"})}, **extra)

    create("once", ActionAfterCompletion="DELETE")
    create("kept")
    create("off", State="DISABLED")
    assert gateway.triggers.tick(now, refresh=True) == []  # read back, not yet due
    clock.now = now + timedelta(seconds=31)
    def fired_names() -> list[str]:
        return sorted(t["event"]["from"] for t in _lines(out, "ticker") if "from" in t["event"])

    fired = _wait(lambda: len(fired_names()) >= 2 and fired_names())  # asynchronous invocations, in any order
    time.sleep(1.0)
    gateway.triggers.tick(clock.now + timedelta(seconds=10), refresh=True)
    time.sleep(0.3)
    events = [t["event"] for t in _lines(out, "ticker") if "from" in t["event"]]
    assert fired == ["kept", "once"] and len(events) == 2  # once each, "off" never
    assert {e["schedule"] for e in events} == {f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{n}"
                                              for n in ("once", "kept")}
    names = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
    assert "once" not in names and {"kept", "off"} <= names  # ActionAfterCompletion: DELETE


def test_a_scheduler_schedule_targeting_a_queue_of_the_stack_sends_its_input_there(stack):
    # Given a runtime schedule whose target is the stack's work queue (Scheduler's SQS target), as the
    # invite API creates them for the plan queue, and one whose target is a queue of no stack
    aws, gateway, clock, out = stack
    scheduler = aws.client("scheduler")
    due = (clock.now + timedelta(seconds=30)).astimezone(UTC)
    for name, arn in (("to-queue", aws.attrs[("WorkQueue", "Arn")]),
                      ("elsewhere", "arn:aws:sqs:us-east-1:123456789012:not-this-stack")):
        scheduler.create_schedule(
            Name=name, ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                    "Input": json.dumps({"campaign": "c-1", "scheduled_at": "<aws.scheduler.scheduled-time>"})})
    gateway.triggers.tick(clock.now, refresh=True)
    # When it is due
    clock.now = due + timedelta(seconds=1)
    # Then the worker gets the Input as an SQS message body, the scheduled time filled in, exactly once
    bodies = _wait(lambda: [r["body"] for r in _records(out, '{"campaign"')])
    time.sleep(1.0)
    bodies = [r["body"] for r in _records(out, '{"campaign"')]
    assert [json.loads(b) for b in bodies] == [{"campaign": "c-1", "scheduled_at": f"{due:%Y-%m-%dT%H:%M:%S}Z"}]
    assert ("default", "elsewhere") not in gateway.triggers.runtime  # reported, not fired
    for name in ("to-queue", "elsewhere"):
        scheduler.delete_schedule(Name=name)


def test_fire_a_named_schedule_through_the_admin_path_and_make_fire(stack):
    aws, gateway, clock, out = stack
    # A Scheduler schedule of this test's own, due in a day (tests may run on several workers, in any order)
    due = (clock.now + timedelta(days=1)).astimezone(UTC)
    aws.client("scheduler").create_schedule(
        Name="fire-me", ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": function_arn("Ticker"), "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": json.dumps({"from": "fire-me"})})
    gateway.triggers.tick(clock.now, refresh=True)
    before = len(_lines(out, "ticker"))
    response = requests.post(gateway.url + "/_local/fire/Nightly")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response.json()["function"] == "Ticker"
    assert _lines(out, "ticker")[-1]["event"]["job"] == "nightly" and len(_lines(out, "ticker")) == before + 1
    # The module behind `make fire`, against the running stack; a Scheduler schedule by name.
    done = subprocess.run([sys.executable, "-m", "attract_local.fire", "fire-me", "--url", gateway.url],
                          capture_output=True, text=True, cwd=ROOT, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert _lines(out, "ticker")[-1]["event"]["from"] == "fire-me"
    missing = requests.post(gateway.url + "/_local/fire/NoSuchSchedule")
    assert missing.status_code == 404 and "Nightly" in missing.json()["schedules"]
    assert requests.get(gateway.url + "/_local/fire/Nightly").status_code == 404  # POST only
    assert "/_local" not in (ROOT / "docs" / "openapi.json").read_text()  # not part of the API


def test_function_and_role_arns_resolve_locally(stack):
    aws, _, _, _ = stack
    environment = aws.functions()["Ticker"].environment
    assert environment["SELF_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:Ticker"
    assert environment["SELF_NAME"] == "Ticker"
    # For Scheduler's RoleArn. moto's IAM is shared by every stack of the process: pick this stack's role.
    roles = [r["Arn"] for r in aws.client("iam").list_roles()["Roles"]
             if r["RoleName"].startswith(f"{aws.stack_name}-SchedulerRole-")]
    assert [environment["ROLE_ARN"]] == roles


def test_a_visibility_timeout_shorter_than_the_function_timeout_is_refused(tmp_path):
    template = _write_probe(tmp_path, TEMPLATE.replace("Timeout: 1  #", "Timeout: 3  #"))
    aws = LocalAws(template_path=template).start()
    try:
        with pytest.raises(ValueError, match=r"Worker\.Events\.Jobs: the queue's VisibilityTimeout \(1 s\) is less"):
            LocalGateway(aws, port=0)
    finally:
        aws.stop()


def test_an_unsupported_cron_expression_fails_the_stack_loudly(tmp_path):
    template = _write_probe(tmp_path, TEMPLATE.replace("cron(0 3 * * ? *)", "cron(0 3 L-2 * ? *)"))
    aws = LocalAws(template_path=template).start()
    try:
        with pytest.raises(UnsupportedScheduleError, match=r"Ticker\.Events\.Nightly.*L-2"):
            LocalGateway(aws, port=0)
    finally:
        aws.stop()
