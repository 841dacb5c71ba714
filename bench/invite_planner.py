"""Invitation planner: peak memory and rows/s at 10,000 and 200,000 rows from PostgreSQL and from S3 (gzip CSV).

Each case runs the planner's real handler (functions/invites/planner) in a fresh process, so its resident
peak (VmHWM, minus what the process held before the plan message) is the planner's alone; moto runs in this
process. Two paths:
- `moto`: everything real: the source, BatchGetItem lookups in moto's DynamoDB, SendMessageBatch into the
  stack's invites queue in moto. 10,000 rows only: moto serves ~1,000 calls/s, so 200,000 rows (8,000
  lookups + 20,000 queue calls) would measure moto.
- `stubbed`: the same handler, with BatchGetItem and SendMessageBatch answered inside botocore (event
  hooks on the clients: nobody invited yet, every entry accepted; the calls are counted). The source read,
  screen(), hashing, job building, checkpoints (UpdateItem in moto) are real. This is the path to
  compare between 10,000 and 200,000 rows.
Sender CPU and SES calls per 1,000 invitations: bench/invite_sender.py. Printed, never asserted.
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test).
"""

import csv
import gzip
import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from bench.invite_sources import COLUMNS, PG, person, reset_peak, resident_kib  # noqa: E402

VOLUMES = (10_000, 200_000)
MOTO_ROWS = 1_000
MAPPING = {"email": "email", "first_name": "first_name", "last_name": "last_name", "skills": "skills",
           "location": "city", "consent": "consent", "updated_at": "updated_at", "external_id": "id"}


# ------------------------------------------------------------------ the child: one plan message


class _Http:
    """What botocore needs of an HTTP response answered by a before-call hook."""

    def __init__(self) -> None:
        self.status_code = 200
        self.headers: dict = {}


def _stub(calls: Counter) -> None:
    """BatchGetItem and SendMessageBatch answered in-process (the planner's clients, not our functions)."""
    from attract.aws import client

    table = os.environ["TABLE_NAME"]
    pending: dict = {}

    def batch_get(**_):
        calls["BatchGetItem"] += 1
        return _Http(), {"Responses": {table: []}, "UnprocessedKeys": {}}

    def remember(params, **_):
        pending["ids"] = [entry["Id"] for entry in params["Entries"]]
        calls["SendMessageBatch"] += 1
        calls["messages"] += len(params["Entries"])

    def send_batch(**_):
        return _Http(), {"Successful": [{"Id": i, "MessageId": i, "MD5OfMessageBody": ""} for i in pending["ids"]],
                         "Failed": []}

    client("dynamodb").meta.events.register("before-call.dynamodb.BatchGetItem", batch_get)
    client("sqs").meta.events.register("before-parameter-build.sqs.SendMessageBatch", remember)
    client("sqs").meta.events.register("before-call.sqs.SendMessageBatch", send_batch)


def child(case: dict) -> None:
    import contextlib
    import importlib

    from attract.aws import client
    from attract_local.context import FakeLambdaContext

    planner = importlib.import_module("functions.invites.planner.app")
    calls: Counter = Counter()
    if case["mode"] == "stubbed":
        _stub(calls)
    else:
        began: dict = {}
        for service in ("dynamodb", "sqs"):
            events = client(service).meta.events
            events.register(f"before-call.{service}", lambda model, **_: began.update({model.name: time.perf_counter()}))
            events.register(f"after-call.{service}", lambda model, **_: calls.update(
                {model.name: 1, f"ms {model.name}": (time.perf_counter() - began[model.name]) * 1000}))
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:plan", "awsRegion": "us-east-1",
                          "messageAttributes": {}, "attributes": {"ApproximateReceiveCount": "1"},
                          "body": json.dumps({"campaign_id": case["campaign_id"], "run_id": "r-1"})}]}
    reset_peak()
    before, _ = resident_kib()
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and the summary log line
        response = planner.lambda_handler(event, FakeLambdaContext())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    for _, error, _ in planner.processor.exceptions:
        print(f"planner failed: {error!r}", file=sys.stderr)
    _, peak = resident_kib()
    print(json.dumps({"failures": response["batchItemFailures"], "seconds": seconds, "cpu": cpu,
                      "rss_before_mib": before / 1024, "rss_peak_mib": (peak - before) / 1024,
                      "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "calls": calls}))


# ------------------------------------------------------------------ the parent: sources, campaigns, cases


def postgres_table(n: int, tables: list[str]) -> str:
    import psycopg

    table = "bench_plan_" + uuid.uuid4().hex[:8]
    tables.append(table)
    with psycopg.connect(PG, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, email text, first_name text, last_name text, "
                           "skills text, city text, consent boolean, updated_at timestamptz)")
        with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for i in range(1, n + 1):
                copy.write_row(person(i))
        connection.execute(f"ANALYZE {table}")
    return table


def s3_object(aws, n: int) -> str:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for row in map(person, range(1, n + 1)):
        writer.writerow([*row[:6], "yes" if row[6] else "no", row[7].isoformat()])
    key = f"plan-{n}.csv.gz"
    aws.client("s3").put_object(Bucket="attract-sources-bench", Key=key,
                                Body=gzip.compress(text.getvalue().encode(), compresslevel=5))
    return f"s3://attract-sources-bench/{key}"


def eligible(n: int) -> int:
    from attract.identity import normalise_email

    seen, count = set(), 0
    for row in map(person, range(1, n + 1)):
        try:
            email = normalise_email(row[1])
        except ValueError:
            continue
        if row[6] and email not in seen:
            seen.add(email)
            count += 1
    return count


def put_campaign(aws, source: dict) -> str:
    campaign_id = "bench" + uuid.uuid4().hex[:10]
    from attract.invites.campaign_repository import CampaignRepository
    from attract.invites.campaigns import InviteCampaign
    from attract.invites.run_repository import RunRepository

    table = aws.refs["AttractTable"]
    CampaignRepository(table, aws.client("dynamodb")).create(InviteCampaign.model_validate({
        "id": campaign_id, "name": f"Bench {campaign_id}", "destination": "https://careers.example.com/community",
        "source": source, "mapping": MAPPING, "subject": "{{first_name}}, join us", "text": "Hello {{first_name}}: {{invite_url}}",
        "sender": {"from": "Acme <careers@acme.example>", "postal_address": "1 Main Street, Springfield"},
        "link_code": "bench1", "created_at": datetime.now(timezone.utc)}))

    RunRepository(table, aws.client("dynamodb")).start(campaign_id, "r-1", "api", datetime.now(timezone.utc))
    return campaign_id


def run_case(aws, env: dict, campaign_id: str, mode: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps({"campaign_id": campaign_id, "mode": mode})],
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0 or "\"failures\": []" not in done.stdout:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    import psycopg

    from attract.aws import from_item
    from attract_local.stack import LocalAws

    aws = LocalAws().start()
    tables: list[str] = []
    try:
        env = {**os.environ, **aws.handler_environment("InvitePlannerFunction"), "POWERTOOLS_LOG_LEVEL": "WARNING",
               "POWERTOOLS_METRICS_NAMESPACE": "Bench",
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/common/python")])}
        secret = "attract/sources/bench"
        aws.client("secretsmanager").create_secret(Name=secret, SecretString=json.dumps(
            {"engine": "postgres", "host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "",
             "dbname": "test"}))
        aws.client("s3").create_bucket(Bucket="attract-sources-bench")
        print("invitation planner: one plan message, the real handler in a fresh process (checkpoint every 1,000 rows)")
        print(f"  {'source':<11} {'rows':>7}  {'path':<8} {'rows/s':>8} {'CPU s':>6}  {'RSS peak MiB':>12}"
              f"  {'(process before)':>16}  calls")
        cases = [("postgresql", n, "stubbed") for n in VOLUMES] + [("s3 gzip csv", n, "stubbed") for n in VOLUMES]
        cases += [("postgresql", MOTO_ROWS, "moto")]
        if os.environ.get("BENCH_PLANNER_ONLY"):  # e.g. "moto": one path only
            cases = [case for case in cases if case[2] == os.environ["BENCH_PLANNER_ONLY"]]
        for name, n, mode in cases:
            if name == "postgresql":
                source = {"kind": "postgresql", "secret_id": secret, "table": postgres_table(n, tables)}
            else:
                source = {"kind": "s3", "uri": s3_object(aws, n), "format": "csv", "compression": "gzip"}
            campaign_id = put_campaign(aws, source)
            figures = run_case(aws, env, campaign_id, mode)
            run = from_item(aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
                "PK": {"S": f"INVITE_RUN#{campaign_id}"}, "SK": {"S": "RUN#r-1"}})["Item"])
            assert not figures["failures"] and int(run["rows"]) == n and int(run["planned"]) == eligible(n), run
            calls = {k: v for k, v in sorted(figures["calls"].items()) if k != "messages" and not k.startswith("ms ")}
            calls |= {k: f"{v / figures['calls'][k[3:]]:.0f} ms each" for k, v in figures["calls"].items()
                      if k.startswith("ms ") and k[3:] in ("BatchGetItem", "SendMessageBatch")}
            print(f"  {name:<11} {n:>7,}  {mode:<8} {n / figures['seconds']:>8,.0f} {figures['cpu']:>6.1f}"
                  f"  {figures['rss_peak_mib']:>12.1f}  {figures['rss_before_mib']:>16.1f}  {calls}")
            if mode == "moto":
                aws.client("sqs").purge_queue(QueueUrl=aws.refs["InvitesQueue"])
    finally:
        with psycopg.connect(PG, autocommit=True) as connection:
            for table in tables:
                connection.execute(f"DROP TABLE {table}")
        aws.stop()
    print("RSS peak = the planner process's VmHWM during the plan message minus its RSS before it (imports, clients).")
    print("It grows only by screen()'s 8-byte digest per unique consenting address (DigestSet, 16-32 bytes each):")
    print("rows, candidates and jobs stream through 25 / 10 at a time.")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(json.loads(sys.argv[2]))
    else:
        main()
