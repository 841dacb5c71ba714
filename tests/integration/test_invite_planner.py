"""The invitation planner against real sources (PostgreSQL and MariaDB on this machine, S3 and DynamoDB in the
moto server, SQLite in a file), real moto queues and the real sender: the test plays Lambda's pollers.

What is asserted is what happened: the run item's counts, the jobs that reached the invites queue, and the
recipients moto's SES received (every one at most once).
"""

import csv
import gzip
import io
import json
import sqlite3
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from attract.aws import from_item
from attract.identity import email_hash
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import InviteCampaign
from attract.invites.run_repository import RunRepository
from attract_local.triggers import sqs_event
from tests.integration.conftest import VISIBILITY
from tests.integration.test_invite_sender import received
from tests.support import FakeLambdaContext, require_service

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root:@127.0.0.1:3306/test"
MAPPING = {"email": "email", "first_name": "first_name", "last_name": "last_name", "skills": "skills",
           "location": "city", "consent": "marketing_consent", "updated_at": "updated_at", "external_id": "id"}
KINDS = ["postgresql", "mysql", "sqlite", "s3-csv-gzip", "s3-jsonl", "dynamodb"]


class HardKill(BaseException):
    """A Lambda timeout or OOM: no `except Exception` cleanup runs."""


# ---- people: (id, local part or raw address, consent, updated_at day) and what the table says of them

def screened_people() -> list[tuple]:
    """One row per reason, and four people to invite."""
    return [
        (1, "ada", True, 1), (2, "grace", True, 2), (3, "not-an-email", True, 3), (4, "linus", False, 4),
        (5, " ADA ", True, 5),  # the same address as ada once normalised: a duplicate
        (6, "member", True, 6), (7, "optout", True, 7), (8, "cooling", True, 8), (9, "invited", True, 9),
        (10, "margaret", True, 10), (11, "longago", True, 11)]


SCREENED_ELIGIBLE = {"ada", "grace", "margaret", "longago"}
SKIPS = {"invalid_email": 1, "no_consent": 1, "duplicate": 1, "member": 1, "suppressed": 1, "cooldown": 1,
         "already_invited": 1}


def address(local: str, domain: str) -> str:
    if "@" in local or local == "not-an-email":
        return local
    if local != local.strip():  # spaces and capitals: the same person as the trimmed, lower-cased address
        return f" {local.strip()}@PEOPLE.{domain.upper()} "
    return f"{local}@people.{domain}"


def rows(people: list[tuple], domain: str) -> list[dict]:
    return [{"id": i, "email": address(local, domain), "first_name": local.strip().title(), "last_name": "Example",
             "skills": ["python", "sql"], "city": "Berlin", "marketing_consent": consent,
             "updated_at": T0 + timedelta(days=day)} for i, local, consent, day in people]


# ---- sources, each created with the given rows; `replace(rows)` rewrites (files) or upserts (tables)

class Sources:
    def __init__(self, local_aws, tmp_path):
        self.aws, self.tmp = local_aws, tmp_path
        self.cleanup: list = []

    def create(self, kind: str, data: list[dict]) -> dict:
        return getattr(self, "_" + kind.replace("-", "_"))(data)

    def _secret(self, engine: str, port: int, user: str) -> str:
        name = f"attract/sources/{uuid.uuid4().hex[:8]}"
        self.aws.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(
            {"engine": engine, "host": "127.0.0.1", "port": port, "username": user, "password": "", "dbname": "test"}))
        return name

    def _postgresql(self, data: list[dict]) -> dict:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        engine, table = sa.create_engine(PG_URL), "inv_" + uuid.uuid4().hex[:10]
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {table} (id int PRIMARY KEY, email text, first_name text, last_name text, "
                "skills text[], city text, marketing_consent boolean, updated_at timestamptz)")
        self.cleanup.append((engine, table))
        self.upsert = lambda changed: self._sql_upsert(engine, table, changed, "ON CONFLICT (id) DO UPDATE SET")
        self.upsert(data)
        return {"kind": "postgresql", "secret_id": self._secret("postgres", 5432, "postgres"),
                "table": f"public.{table}"}

    def _mysql(self, data: list[dict]) -> dict:
        require_service("MariaDB", "127.0.0.1", 3306)
        engine, table = sa.create_engine(MARIADB_URL), "inv_" + uuid.uuid4().hex[:10]
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {table} (id int PRIMARY KEY, email varchar(320), first_name varchar(200), "
                "last_name varchar(200), skills varchar(500), city varchar(200), marketing_consent tinyint, "
                "updated_at datetime(6))")
        self.cleanup.append((engine, table))
        self.upsert = lambda changed: self._sql_upsert(engine, table, [
            {**row, "skills": ";".join(row["skills"]), "updated_at": row["updated_at"].replace(tzinfo=None)}
            for row in changed], "ON DUPLICATE KEY UPDATE")
        self.upsert(data)
        return {"kind": "mysql", "secret_id": self._secret("mariadb", 3306, "root"), "table": table}

    @staticmethod
    def _sql_upsert(engine, table: str, data: list[dict], conflict: str) -> None:
        columns = list(data[0])
        assignments = ", ".join(f"{c} = " + (f"EXCLUDED.{c}" if "CONFLICT" in conflict else f"VALUES({c})")
                                for c in columns if c != "id")
        statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                            f"({', '.join(':' + c for c in columns)}) {conflict} {assignments}")
        with engine.begin() as connection:
            connection.execute(statement, data)

    def _sqlite(self, data: list[dict]) -> dict:
        path = self.tmp / f"ats-{uuid.uuid4().hex[:6]}.db"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, "
                               "last_name TEXT, skills TEXT, city TEXT, marketing_consent INTEGER, updated_at TEXT)")
            connection.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                (r["id"], r["email"], r["first_name"], r["last_name"], ";".join(r["skills"]), r["city"],
                 int(r["marketing_consent"]), r["updated_at"].isoformat()) for r in data])
        return {"kind": "sqlite", "path": str(path), "table": "candidates"}

    def _bucket(self) -> str:
        bucket = f"attract-sources-{uuid.uuid4().hex[:8]}"
        self.aws.client("s3").create_bucket(Bucket=bucket)
        return bucket

    def _s3_csv_gzip(self, data: list[dict]) -> dict:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(data[0]))
        writer.writeheader()
        for row in data:
            writer.writerow({**row, "skills": ";".join(row["skills"]),
                             "marketing_consent": "yes" if row["marketing_consent"] else "no",
                             "updated_at": row["updated_at"].isoformat()})
        bucket = self._bucket()
        self.aws.client("s3").put_object(Bucket=bucket, Key="ats/people.csv.gz",
                                         Body=gzip.compress(text.getvalue().encode()))
        return {"kind": "s3", "uri": f"s3://{bucket}/ats/people.csv.gz", "format": "csv", "compression": "gzip"}

    def _s3_jsonl(self, data: list[dict]) -> dict:
        lines = "\n".join(json.dumps({**row, "updated_at": row["updated_at"].isoformat()}) for row in data)
        bucket = self._bucket()
        self.aws.client("s3").put_object(Bucket=bucket, Key="people.jsonl", Body=lines.encode())
        return {"kind": "s3", "uri": f"s3://{bucket}/people.jsonl", "format": "jsonl"}

    def _dynamodb(self, data: list[dict]) -> dict:
        name = f"attract-source-{uuid.uuid4().hex[:8]}"
        dynamodb = self.aws.client("dynamodb")
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        for row in data:
            dynamodb.put_item(TableName=name, Item={
                "id": {"N": str(row["id"])}, "email": {"S": row["email"]}, "first_name": {"S": row["first_name"]},
                "last_name": {"S": row["last_name"]}, "skills": {"L": [{"S": s} for s in row["skills"]]},
                "city": {"S": row["city"]}, "marketing_consent": {"BOOL": row["marketing_consent"]},
                "updated_at": {"S": row["updated_at"].isoformat()}})
        return {"kind": "dynamodb", "table_name": name, "segments": 3}

    def close(self) -> None:
        for engine, table in self.cleanup:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP TABLE {table}")
            engine.dispose()


@pytest.fixture
def sources(local_aws, tmp_path):
    made = Sources(local_aws, tmp_path)
    yield made
    made.close()


# ---- the stack: plan queue, invites queue, planner and sender

@pytest.fixture
def plan_queue(local_aws):
    sqs = local_aws.client("sqs")
    name = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"plan-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs.create_queue(QueueName=f"plan-{name}", Attributes={
        "VisibilityTimeout": str(VISIBILITY),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})["QueueUrl"]


@pytest.fixture
def pipeline(sender, function_env, queues, plan_queue, monkeypatch, local_aws):
    """(planner module, sender module, sqs, plan queue url, invites queue url)."""
    from attract import settings

    _, invites, _ = queues
    monkeypatch.setenv("INVITE_MAX_SEND_RATE", "1000")
    planner = function_env("InvitePlannerFunction")
    monkeypatch.setenv("INVITES_QUEUE_URL", invites)
    monkeypatch.setenv("INVITE_PLAN_CHECKPOINT_ROWS", "25")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://go.acme.example")  # the planner's environment reset it
    settings.load_settings.cache_clear()
    planner._stores.cache_clear()
    sender._stores.cache_clear()
    return planner, sender, local_aws.client("sqs"), plan_queue, invites


def pepper(local_aws) -> str:
    return local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]


def put_campaign(local_aws, source: dict, domain: str, mapping: dict = MAPPING) -> str:
    """The campaign stored as the API stores it (its repository)."""
    campaign_id = "c" + uuid.uuid4().hex[:12]
    CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).create(
        InviteCampaign.model_validate({
            "id": campaign_id, "name": f"Alumni {campaign_id}", "destination": "https://careers.example.com/community",
            "source": source, "mapping": mapping, "subject": "{{first_name}}, join our talent community",
            "text": "Hello {{first_name}}, join us: {{invite_url}}",
            "sender": {"from": f"Acme Careers <careers@{domain}>", "reply_to": f"careers@{domain}",
                       "postal_address": "1 Main Street, Springfield"},
            "link_code": "inv" + campaign_id[:8], "created_at": NOW, "created_by": "marketer-1"}))
    return campaign_id


def seed_people_states(local_aws, campaign_id: str, domain: str) -> None:
    """A member, an unsubscribed address, one invited by another campaign 5 days ago (cooldown) and one
    40 days ago (free again), and one this campaign invited before."""
    table, dynamodb, secret = local_aws.refs["AttractTable"], local_aws.client("dynamodb"), pepper(local_aws)

    def digest(local: str) -> str:
        return email_hash(f"{local}@people.{domain}", secret)

    now = int(NOW.timestamp())
    items = [
        {"PK": {"S": f"MEMBER#{digest('member')}"}, "SK": {"S": "MEMBER"}},
        {"PK": {"S": f"SUPPRESS#{digest('optout')}"}, "SK": {"S": "SUPPRESS"}, "reason": {"S": "unsubscribe"}},
        {"PK": {"S": f"COOLDOWN#{digest('cooling')}"}, "SK": {"S": "COOLDOWN"}, "campaign_id": {"S": "other"},
         "invited_at": {"N": str(now - 5 * 86400)}},
        {"PK": {"S": f"COOLDOWN#{digest('longago')}"}, "SK": {"S": "COOLDOWN"}, "campaign_id": {"S": "other"},
         "invited_at": {"N": str(now - 40 * 86400)}},
        {"PK": {"S": f"INVITE_SEND#{campaign_id}#{digest('invited')}"}, "SK": {"S": "SEND"},
         "status": {"S": "SENT"}},
    ]
    for item in items:
        dynamodb.put_item(TableName=table, Item=item)


def start_run(local_aws, campaign_id: str, run_id: str = "r-1") -> None:
    assert RunRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).start(
        campaign_id, run_id, "api", NOW)


def run_item(local_aws, campaign_id: str, run_id: str = "r-1") -> dict:
    return RunRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).get(campaign_id, run_id) or {}


def counts(local_aws, campaign_id: str, run_id: str = "r-1") -> dict:
    response = RunRepository.to_response(run_item(local_aws, campaign_id, run_id))
    return {"status": response.status, **response.counts.model_dump()}


def poll(module, sqs, queue: str, max_messages: int = 1) -> tuple[int, list[str]]:
    """One poll as Lambda's event-source mapping does it: invoke with the batch, delete what succeeded."""
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=max_messages,
                                   MessageSystemAttributeNames=["All"]).get("Messages", [])
    if not messages:
        return 0, []
    response = module.lambda_handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q"), FakeLambdaContext())
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return len(messages), failed


def plan(pipeline, campaign_id: str, run_id: str = "r-1") -> None:
    planner, _, sqs, plan_url, _ = pipeline
    sqs.send_message(QueueUrl=plan_url, MessageBody=json.dumps({"campaign_id": campaign_id, "run_id": run_id}))
    assert poll(planner, sqs, plan_url) == (1, [])


def deliver(pipeline) -> Counter:
    """The sender drains the invites queue; returns how many jobs each recipient (local part) had."""
    _, sender, sqs, _, invites = pipeline
    jobs: Counter = Counter()
    for _ in range(200):
        messages = sqs.receive_message(QueueUrl=invites, MaxNumberOfMessages=10,
                                       MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not messages:
            attributes = sqs.get_queue_attributes(QueueUrl=invites, AttributeNames=["All"])["Attributes"]
            if attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
                return jobs
            time.sleep(VISIBILITY + 0.2)
            continue
        jobs.update(json.loads(m["Body"])["recipient"]["email"].split("@")[0] for m in messages
                    if "ApproximateFirstReceiveTimestamp" in m["Attributes"]
                    and m["Attributes"]["ApproximateReceiveCount"] == "1")
        response = sender.lambda_handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:i"),
                                         FakeLambdaContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=invites, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the invites queue did not drain")


# ---- tests

@pytest.mark.parametrize("kind", KINDS)
def test_a_run_screens_every_reason_and_invites_each_eligible_person_once(kind, pipeline, sources, domain,
                                                                          local_aws):
    # Given a source with one row per skip reason and four people to invite, and the table's states
    source = sources.create(kind, rows(screened_people(), domain))
    campaign_id = put_campaign(local_aws, source, domain)
    seed_people_states(local_aws, campaign_id, domain)
    start_run(local_aws, campaign_id)
    # When the API's plan message is handled
    plan(pipeline, campaign_id)
    # Then every row is counted once, by reason, and the four are planned
    assert counts(local_aws, campaign_id) == {"status": "sending", "rows": 11, "planned": 4, "sent": 0, "failed": 0,
                                              "skipped": SKIPS}
    # And the sender sends each of them exactly once, and the run is done
    assert deliver(pipeline) == Counter(SCREENED_ELIGIBLE)
    assert received(local_aws, domain) == Counter(SCREENED_ELIGIBLE)
    assert counts(local_aws, campaign_id)["status"] == "done"
    assert counts(local_aws, campaign_id)["sent"] == 4


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_second_run_reads_only_changed_rows_and_never_reinvites(kind, pipeline, sources, domain, local_aws):
    # Given a first run that invited ada and grace (linus had no consent)
    people = [(1, "ada", True, 1), (2, "grace", True, 2), (3, "linus", False, 3)]
    source = sources.create(kind, rows(people, domain))
    campaign_id = put_campaign(local_aws, source, domain)
    start_run(local_aws, campaign_id)
    plan(pipeline, campaign_id)
    assert deliver(pipeline) == Counter({"ada": 1, "grace": 1})
    watermark = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"INVITE_CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}})["Item"]["watermark"]["S"]
    assert watermark.startswith((T0 + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S"))
    # When ada's row is edited, linus consents and someone new arrives, and a second run plans
    sources.upsert(rows([(1, "ada", True, 10), (3, "linus", True, 11), (4, "hedy", True, 12)], domain))
    start_run(local_aws, campaign_id, "r-2")
    plan(pipeline, campaign_id, "r-2")
    # Then only the three changed rows are read, the edited row of ada (invited already) sends nothing
    assert counts(local_aws, campaign_id, "r-2") == {"status": "sending", "rows": 3, "planned": 2, "sent": 0,
                                                     "failed": 0, "skipped": {"already_invited": 1}}
    assert deliver(pipeline) == Counter({"linus": 1, "hedy": 1})
    assert received(local_aws, domain) == Counter({"ada": 1, "grace": 1, "linus": 1, "hedy": 1})
    assert counts(local_aws, campaign_id, "r-2")["status"] == "done"
    # And a third run with nothing new reads nothing and is done at once
    start_run(local_aws, campaign_id, "r-3")
    plan(pipeline, campaign_id, "r-3")
    assert counts(local_aws, campaign_id, "r-3") == {"status": "done", "rows": 0, "planned": 0, "sent": 0,
                                                     "failed": 0, "skipped": {}}


def test_a_planner_killed_mid_run_resumes_from_its_checkpoint_and_nobody_gets_two_invitations(
        pipeline, sources, domain, local_aws):
    # Given 150 people to invite from PostgreSQL, checkpoints every 25 rows
    planner, _, sqs, plan_url, _ = pipeline
    people = [(i, f"p{i:03d}", True, i) for i in range(1, 151)]  # read in id order (ORDER BY updated_at, id)
    campaign_id = put_campaign(local_aws, sources.create("postgresql", rows(people, domain)), domain)
    start_run(local_aws, campaign_id)
    sqs.send_message(QueueUrl=plan_url, MessageBody=json.dumps({"campaign_id": campaign_id, "run_id": "r-1"}))
    # When the planner dies (no cleanup) right after SQS accepted its 5th batch: rows 26-45 are enqueued
    # but the last checkpoint says 25
    from attract import aws

    batches = Counter()

    def die_after_five(**_):
        batches["sent"] += 1
        if batches["sent"] == 5:
            raise HardKill()

    events = aws.client("sqs").meta.events
    events.register("after-call.sqs.SendMessageBatch", die_after_five, unique_id="hard-kill")
    try:
        with pytest.raises(HardKill):
            poll(planner, sqs, plan_url)
    finally:
        events.unregister("after-call.sqs.SendMessageBatch", unique_id="hard-kill")
    assert int(run_item(local_aws, campaign_id)["checkpoint"]["rows"]) == 25
    # And SQS delivers the plan message again after its visibility timeout
    time.sleep(VISIBILITY + 0.2)
    assert poll(planner, sqs, plan_url) == (1, [])
    # Then every row is counted once, the overlap since the checkpoint is enqueued twice and no more
    assert counts(local_aws, campaign_id) == {"status": "sending", "rows": 150, "planned": 150, "sent": 0,
                                              "failed": 0, "skipped": {}}
    jobs = deliver(pipeline)
    assert set(jobs) == {f"p{i:03d}" for i in range(1, 151)}
    assert sorted(person for person, n in jobs.items() if n == 2) == [f"p{i:03d}" for i in range(26, 46)]
    assert max(jobs.values()) == 2
    # And through the real sender and moto's SES each person received exactly one invitation
    mail = received(local_aws, domain)
    assert len(mail) == 150 and set(mail.values()) == {1}
    final = run_item(local_aws, campaign_id)
    assert final["status"] == "done" and int(final["sent"]) == 150 and int(final["duplicate"]) == 20


def test_a_parallel_scan_killed_mid_run_starts_over_and_counts_each_row_once(pipeline, sources, domain,
                                                                             local_aws):
    # Given 60 people in a DynamoDB table read by a 3-segment parallel Scan (no stable order between reads)
    planner, _, sqs, plan_url, _ = pipeline
    people = [(i, f"d{i:02d}", True, i) for i in range(1, 61)]
    campaign_id = put_campaign(local_aws, sources.create("dynamodb", rows(people, domain)), domain)
    start_run(local_aws, campaign_id)
    sqs.send_message(QueueUrl=plan_url, MessageBody=json.dumps({"campaign_id": campaign_id, "run_id": "r-1"}))
    # When the planner dies after its 4th accepted batch (one checkpoint of 25 rows written)
    from attract import aws

    batches = Counter()

    def die_after_four(**_):
        batches["sent"] += 1
        if batches["sent"] == 4:
            raise HardKill()

    events = aws.client("sqs").meta.events
    events.register("after-call.sqs.SendMessageBatch", die_after_four, unique_id="hard-kill")
    try:
        with pytest.raises(HardKill):
            poll(planner, sqs, plan_url)
    finally:
        events.unregister("after-call.sqs.SendMessageBatch", unique_id="hard-kill")
    assert int(run_item(local_aws, campaign_id)["checkpoint"]["rows"]) == 25
    time.sleep(VISIBILITY + 0.2)
    assert poll(planner, sqs, plan_url) == (1, [])
    # Then the rewound run counts every row once, and every person receives one invitation
    assert counts(local_aws, campaign_id) == {"status": "sending", "rows": 60, "planned": 60, "sent": 0,
                                              "failed": 0, "skipped": {}}
    jobs = deliver(pipeline)
    assert set(jobs) == {f"d{i:02d}" for i in range(1, 61)} and sum(jobs.values()) == 60 + 35
    mail = received(local_aws, domain)
    assert len(mail) == 60 and set(mail.values()) == {1}
    assert run_item(local_aws, campaign_id)["status"] == "done"


def test_a_scheduled_message_creates_its_run_once_and_a_redelivery_plans_nothing(pipeline, sources, domain,
                                                                                  local_aws):
    # Given a campaign and the message its EventBridge schedule sends, delivered twice
    planner, _, sqs, plan_url, _ = pipeline
    campaign_id = put_campaign(local_aws, sources.create("sqlite", rows([(1, "ada", True, 1)], domain)), domain)
    body = json.dumps({"campaign_id": campaign_id, "scheduled_at": "2026-11-26T10:00:00Z"})
    sqs.send_message(QueueUrl=plan_url, MessageBody=body)
    sqs.send_message(QueueUrl=plan_url, MessageBody=body)
    # When both are handled
    assert poll(planner, sqs, plan_url) == (1, [])
    assert poll(planner, sqs, plan_url) == (1, [])
    # Then one run, named by the scheduled time, planned ada once
    run = run_item(local_aws, campaign_id, "s-20261126T100000Z")
    assert run["trigger"] == "schedule" and int(run["planned"]) == 1
    assert deliver(pipeline) == Counter({"ada": 1})
    assert counts(local_aws, campaign_id, "s-20261126T100000Z")["status"] == "done"


def test_a_schedule_firing_while_a_run_is_active_is_recorded_as_skipped_and_the_next_one_runs(pipeline, sources,
                                                                                                domain, local_aws):
    # Given a campaign whose API run planned ada and is sending
    planner, _, sqs, plan_url, _ = pipeline
    campaign_id = put_campaign(local_aws, sources.create("sqlite", rows([(1, "ada", True, 1)], domain)), domain)
    runs = RunRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    assert runs.start(campaign_id, "r-1", "api", datetime.now(UTC))
    plan(pipeline, campaign_id)
    assert counts(local_aws, campaign_id)["status"] == "sending"
    # When the campaign's schedule fires meanwhile (and its message is delivered twice)
    body = json.dumps({"campaign_id": campaign_id, "scheduled_at": "2026-11-26T10:00:00Z"})
    for _ in range(2):
        sqs.send_message(QueueUrl=plan_url, MessageBody=body)
        assert poll(planner, sqs, plan_url) == (1, [])
    # Then that firing reads nothing and enqueues nothing: its run is recorded as skipped, naming the active run
    skipped = run_item(local_aws, campaign_id, "s-20261126T100000Z")
    assert {k: skipped.get(k) for k in ("status", "trigger", "error", "blocked_by", "rows", "planned")} == {
        "status": "failed", "trigger": "schedule", "error": "run_in_progress", "blocked_by": "r-1", "rows": None,
        "planned": None}
    campaign = from_item(local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"INVITE_CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}})["Item"])
    assert (campaign["active_run_id"], campaign["latest_run_id"]) == ("r-1", "r-1")
    assert deliver(pipeline) == Counter({"ada": 1})
    # When the run is done (the sender's last outcome releases the campaign), the next firing runs
    assert counts(local_aws, campaign_id)["status"] == "done"
    sqs.send_message(QueueUrl=plan_url, MessageBody=json.dumps({"campaign_id": campaign_id,
                                                                "scheduled_at": "2026-11-27T10:00:00Z"}))
    assert poll(planner, sqs, plan_url) == (1, [])
    later = run_item(local_aws, campaign_id, "s-20261127T100000Z")
    assert later["status"] == "done" and "error" not in later  # nothing changed since: nobody to invite
    campaign = from_item(local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"INVITE_CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}})["Item"])
    assert "active_run_id" not in campaign and campaign["latest_run_id"] == "s-20261127T100000Z"
    assert received(local_aws, domain) == Counter({"ada": 1})


def test_a_source_error_fails_the_run_with_a_code_and_is_not_retried(pipeline, sources, domain, local_aws,
                                                                     monkeypatch):
    # Given a campaign whose table does not exist, and a sqlite campaign where sqlite is not allowed
    _, _, sqs, plan_url, _ = pipeline
    require_service("PostgreSQL", "127.0.0.1", 5432)
    missing = {"kind": "postgresql", "secret_id": sources._secret("postgres", 5432, "postgres"),
               "table": "public.no_such_table_" + uuid.uuid4().hex[:6]}
    broken = put_campaign(local_aws, missing, domain)
    start_run(local_aws, broken)
    # When the plan message is handled
    plan(pipeline, broken)
    # Then the run failed with a code (no personal data), and the message is gone (not retried forever)
    run = run_item(local_aws, broken)
    assert run["status"] == "failed" and run["error"] == "source_query_failed"
    assert sqs.receive_message(QueueUrl=plan_url).get("Messages") is None
    # And a sqlite source outside the local stack fails the same way
    from attract import settings

    monkeypatch.setenv("INVITE_ALLOW_LOCAL_SOURCES", "false")
    settings.load_settings.cache_clear()
    local = put_campaign(local_aws, sources.create("sqlite", rows([(1, "ada", True, 1)], domain)), domain)
    start_run(local_aws, local)
    plan(pipeline, local)
    assert {k: run_item(local_aws, local)[k] for k in ("status", "error")} == {"status": "failed",
                                                                               "error": "source_not_allowed"}


def test_the_template_wires_the_plan_queue_the_planner_and_the_scheduler_role():
    from attract_local.cfn import load_template

    resources = load_template()["Resources"]
    planner = resources["InvitePlannerFunction"]["Properties"]
    event = planner["Events"]["Plans"]["Properties"]
    assert event["BatchSize"] == 1 and event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["InvitePlanQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * planner["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == planner["Environment"]["Variables"]["INVITE_MAX_RECEIVES"]
    role = resources["InviteSchedulerRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [("sqs:SendMessage",
                                                                    {"Fn::GetAtt": ["InvitePlanQueue", "Arn"]})]
    assert {"Ref": "SourcesLayer"} in planner["Layers"]
    sender_env = resources["InviteSenderFunction"]["Properties"]["Environment"]["Variables"]
    assert sender_env["INVITE_MAX_RECEIVES"] == resources["InvitesQueue"]["Properties"]["RedrivePolicy"][
        "maxReceiveCount"]


def test_run_status_reads_back_as_the_api_answers_it(local_aws):
    # Given a run with planner and sender counts
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    runs = RunRepository(table, dynamodb)
    campaign_id = put_campaign(local_aws, {"kind": "sqlite", "path": "/nowhere.db", "table": "candidates"},
                               "status.example")
    assert runs.start(campaign_id, "r-9", "api", NOW) and not runs.start(campaign_id, "r-9", "api", NOW)
    dynamodb.update_item(TableName=table, Key={"PK": {"S": f"INVITE_RUN#{campaign_id}"}, "SK": {"S": "RUN#r-9"}},
                         UpdateExpression="ADD #r :r, planned :p, sent :s, skipped_member :m",
                         ExpressionAttributeNames={"#r": "rows"}, ExpressionAttributeValues={
                             ":r": {"N": "5"}, ":p": {"N": "3"}, ":s": {"N": "2"}, ":m": {"N": "2"}})
    # Then the response model carries them, and the item is read back as stored
    status = RunRepository.to_response(runs.get(campaign_id, "r-9") or {})
    assert status.model_dump() == {"run_id": "r-9", "status": "planning", "trigger": "api",
                                   "started_at": status.started_at, "counts": {
                                       "rows": 5, "planned": 3, "sent": 2, "failed": 0, "skipped": {"member": 2}},
                                   # still planning: 2 sent of a total not known yet, no rate without stamps
                                   "progress": {"done": 2, "total": None, "per_minute": None},
                                   "estimated_done_at": None}
    assert from_item(dynamodb.get_item(TableName=table, Key={
        "PK": {"S": f"INVITE_RUN#{campaign_id}"}, "SK": {"S": "RUN#r-9"}})["Item"])["type"] == "invite_run"


def test_a_stored_campaign_naming_the_application_table_fails_without_reading_it(pipeline, local_aws, domain):
    # Given a campaign stored before the source rules, whose source is Attract's own table (pending joiners'
    # addresses, names and cities), and a run of it
    from attract.aws import client

    _, _, sqs, _, invites = pipeline
    campaign_id = put_campaign(local_aws, {"kind": "dynamodb", "table_name": local_aws.refs["AttractTable"],
                                           "segments": 1}, domain, mapping={"email": "email", "consent": "consent"})
    start_run(local_aws, campaign_id)
    scans: list[str] = []
    client("dynamodb").meta.events.register("before-call.dynamodb.Scan", lambda **_: scans.append("scan"))
    # When the planner handles its plan message
    plan(pipeline, campaign_id)
    # Then the run failed as not allowed, the table was never scanned and nobody is to be invited
    run = run_item(local_aws, campaign_id)
    assert (run["status"], run["error"]) == ("failed", "source_not_allowed")
    assert scans == []
    assert sqs.receive_message(QueueUrl=invites).get("Messages") is None


def test_a_stored_schedule_firing_more_than_once_an_hour_plans_nothing(pipeline, sources, local_aws, domain):
    # Given a campaign whose schedule (stored before the API refused such schedules) fires every minute
    from attract.invites.campaigns import StoredSchedule

    _, _, sqs, plan_url, invites = pipeline
    campaign_id = put_campaign(local_aws, sources.create("sqlite", rows([(1, "ada", True, 1)], domain)), domain)
    CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).set_schedule(
        campaign_id, StoredSchedule(expression="rate(1 minute)", timezone="UTC", name=f"invite-{campaign_id}"))
    # When one of its firings reaches the planner
    sqs.send_message(QueueUrl=plan_url, MessageBody=json.dumps({"campaign_id": campaign_id,
                                                                "scheduled_at": "2026-11-26T09:00:00Z"}))
    assert poll(pipeline[0], sqs, plan_url) == (1, [])
    # Then no run was started and nothing was read or queued (the message is done with)
    assert run_item(local_aws, campaign_id, "s-20261126T090000Z") == {}
    assert sqs.receive_message(QueueUrl=invites).get("Messages") is None
    assert sqs.receive_message(QueueUrl=plan_url).get("Messages") is None
