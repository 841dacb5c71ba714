"""The invite campaign API in-process with API Gateway v2 events, against the moto server and the real PostgreSQL.

The function's environment is template.yaml's own (Globals merged, intrinsics resolved); the plan queue and the
scheduler role are made by each test's fixture, so every test reads exactly its own messages and schedules.
"""

import importlib
import json
import sqlite3
import uuid

import pytest
import requests
import sqlalchemy as sa
from botocore.exceptions import ClientError

from attract.aws import from_item
from attract_local.cfn import Resolver
from attract_local.stack import FAKE_CREDENTIALS, REGION
from tests.support import FakeLambdaContext, load_event, require_service, with_body

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# id, email, first, last, skills, city, consent: two skips (bad email, no consent) and a duplicate before the 3rd
PEOPLE = [
    (1, "ada@example.com", "Ada", "Lovelace", "python;maths", "London", True),
    (2, "not-an-email", "Bad", "Email", "", "Nowhere", True),
    (3, "linus@example.com", "Linus", "T", "c", "Portland", False),
    (4, " ADA@example.com", "Ada", "Again", "", "London", True),
    (5, "grace@example.com", "Grace", "<Hopper>", "cobol", "Arlington", True),
    (6, "margaret@example.com", "Margaret", "Hamilton", "apollo", "Boston", True),
    (7, "never-read@example.com", "Never", "Read", "", "Nowhere", True),
]


def _call(module, event) -> tuple[int, dict | None]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def _event(method: str, path: str, body: dict | None = None, groups: str = "[marketers]") -> dict:
    event = load_event("invites/create_campaign")
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = groups
    event["body"] = None
    return with_body(event, body) if body is not None else event


def _body(**changes) -> dict:
    body = json.loads(load_event("invites/create_campaign")["body"])
    body.pop("schedule")
    return {**body, **changes}


@pytest.fixture
def plan(local_aws):
    """A plan queue and a scheduler role of this test's own, standing for the template's (their messages are read here)."""
    name = uuid.uuid4().hex[:10]
    sqs = local_aws.client("sqs")
    url = sqs.create_queue(QueueName=f"invite-plan-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = local_aws.client("iam").create_role(RoleName=f"invite-scheduler-{name}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    return {"url": url, "arn": arn, "role": role, "sqs": sqs}


@pytest.fixture
def api(local_aws, plan, monkeypatch):
    """functions/invites/api/app.py with InviteApiFunction's template environment in place."""
    from attract import aws, settings
    from attract.invites import campaign_logic
    from attract.links import logic

    template = local_aws.template
    variables = {**template["Globals"]["Function"]["Environment"]["Variables"],
                 **template["Resources"]["InviteApiFunction"]["Properties"]["Environment"]["Variables"]}
    resolve = Resolver({**local_aws.refs, "InvitePlanQueue": plan["url"]},
                       {**local_aws.attrs, ("InvitePlanQueue", "Arn"): plan["arn"],
                        ("InviteSchedulerRole", "Arn"): plan["role"]})
    environment = {name: str(value) for name, value in resolve(variables, "InviteApiFunction").items()}
    environment |= {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": local_aws.endpoint, "AWS_REGION": REGION,
                    "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true",
                    "PUBLIC_BASE_URL": "https://go.acme.example", "INVITE_ALLOW_LOCAL_SOURCES": "true"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    def reset() -> None:
        settings.load_settings.cache_clear()
        aws.client.cache_clear()
        logic.idempotent_create_link.cache_clear()
        campaign_logic.idempotent_create_campaign.cache_clear()
        campaign_logic.idempotent_start_run.cache_clear()

    # The sample campaigns send as careers@acme.example: its domain is a verified SES identity, as it must be
    local_aws.client("sesv2").create_email_identity(EmailIdentity="acme.example")
    reset()
    module = importlib.import_module("functions.invites.api.app")
    for cached in (module._stores, module._triggers, module._identities):
        cached.cache_clear()
    yield module
    reset()
    for cached in (module._stores, module._triggers, module._identities):
        cached.cache_clear()


def _secret(local_aws, **credentials) -> str:
    name = f"attract/sources/ats-{uuid.uuid4().hex[:8]}"
    local_aws.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(credentials))
    return name


@pytest.fixture
def pg_table(local_aws):
    """A real PostgreSQL table of PEOPLE and an RDS-format secret for it; (secret id, table)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    engine = sa.create_engine(PG_URL)
    table = "cand_" + uuid.uuid4().hex[:10]
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE public.{table} (id int PRIMARY KEY, email text, first_name text, "
                                   "last_name text, skills text, city text, marketing_consent boolean)")
        for person in PEOPLE:
            connection.execute(sa.text(f"INSERT INTO public.{table} VALUES (:i, :e, :f, :l, :s, :c, :k)"),
                               dict(zip(["i", "e", "f", "l", "s", "c", "k"], person, strict=True)))
    secret = _secret(local_aws, engine="postgres", host="127.0.0.1", port=5432, username="postgres", password="",
                     dbname="test")
    yield secret, f"public.{table}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE public.{table}")
    engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "ats.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, "
                           "last_name TEXT, skills TEXT, city TEXT, marketing_consent INTEGER)")
        connection.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [(*person[:6], int(person[6])) for person in PEOPLE])
    return str(path)


def _mapping() -> dict:
    return {"email": "email", "first_name": "first_name", "last_name": "last_name", "skills": "skills",
            "location": "city", "consent": "marketing_consent", "external_id": "id"}


def _create(api, **changes) -> dict:
    status, created = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), **changes)))
    assert status == 201, created
    return created


def _item(local_aws, pk: str, sk: str) -> dict | None:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"],
                                                 Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")
    return from_item(item) if item else None


def test_create_read_and_preview_a_postgresql_campaign(api, local_aws, pg_table):
    secret, table = pg_table
    # When a marketer creates a campaign over a PostgreSQL table
    created = _create(api, source={"kind": "postgresql", "secret_id": secret, "table": table})
    # Then it has an id and a tracked link: channel email, the campaign's name, source invitation, medium email
    assert created["id"] and created["link_url"] == f"https://go.acme.example/r/{created['link_code']}"
    link = _item(local_aws, f"LINK#{created['link_code']}", "LINK")
    assert (link["channel"], link["campaign"], link["source"], link["medium"], link["destination"]) == (
        "email", "Berlin data alumni", "invitation", "email", "https://careers.example.com/community")
    stored = _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")
    assert stored["type"] == "invite_campaign" and json.loads(stored["spec"])["sender"]["from"].startswith("Acme")
    # And reading it back gives the same campaign, with no run yet
    status, read = _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))
    assert status == 200 and read == created and read["latest_run"] is None and "created_by" not in read
    # When it is previewed
    status, preview = _call(api, _event("POST", f"/invite-campaigns/{created['id']}/preview"))
    # Then three real rows are rendered, and the rows read before them are counted by skip reason
    assert status == 200, preview
    assert [m["to"] for m in preview["messages"]] == ["ada@example.com", "grace@example.com", "margaret@example.com"]
    assert preview["skipped"] == {"invalid_email": 1, "no_consent": 1, "duplicate": 1} and preview["rows_read"] == 6
    assert preview["messages"][0]["subject"] == "Ada, join our talent community"
    assert "join us: https://go.acme.example/r/" in preview["messages"][0]["text"]
    assert "1 Main Street, Springfield" in preview["messages"][0]["text"]


def _ses_messages(local_aws) -> int:
    """Every message moto's SES accepted so far (simple and raw)."""
    ses = requests.get(f"{local_aws.endpoint}/moto-api/data.json", timeout=60).json().get("ses") or {}
    return sum(len(ses.get(kind) or []) for kind in ("Message", "RawMessage"))


def test_preview_sends_nothing_and_queues_nothing(api, local_aws, plan, pg_table):
    secret, table = pg_table
    created = _create(api, source={"kind": "postgresql", "secret_id": secret, "table": table})
    sent_before = _ses_messages(local_aws)
    assert _call(api, _event("POST", f"/invite-campaigns/{created['id']}/preview"))[0] == 200
    assert _ses_messages(local_aws) == sent_before
    assert "Messages" not in plan["sqs"].receive_message(QueueUrl=plan["url"], WaitTimeSeconds=0)
    assert _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN").get("latest_run_id") is None


def test_a_retried_create_returns_the_same_campaign(api):
    first = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    second = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    assert (first["id"], first["link_code"]) == (second["id"], second["link_code"])


def test_preview_of_a_sqlite_file_in_the_local_stack(api, sqlite_file):
    created = _create(api, name="Local ATS", source={"kind": "sqlite", "path": sqlite_file, "table": "candidates"},
                      html="<p>Hi {{first_name}} {{last_name}}</p><a href=\"{{invite_url}}\">Join</a>")
    status, preview = _call(api, _event("POST", f"/invite-campaigns/{created['id']}/preview"))
    assert status == 200, preview
    assert [m["to"] for m in preview["messages"]] == ["ada@example.com", "grace@example.com", "margaret@example.com"]
    assert "Grace &lt;Hopper&gt;" in preview["messages"][1]["html"]  # escaped in HTML


def test_sqlite_is_refused_where_local_sources_are_not_allowed(api, monkeypatch, sqlite_file):
    from attract.settings import load_settings

    monkeypatch.setenv("INVITE_ALLOW_LOCAL_SOURCES", "false")  # the template's value
    load_settings.cache_clear()
    status, body = _call(api, _event("POST", "/invite-campaigns", _body(
        mapping=_mapping(), source={"kind": "sqlite", "path": sqlite_file, "table": "candidates"})))
    assert status == 422
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("source.kind", "source_kind_local_only")]


def test_preview_of_an_unusable_source_is_a_named_error_not_a_500(api, local_aws, pg_table):
    secret, _ = pg_table
    # A table that does not exist: 422 naming the mapping
    missing = _create(api, name="Missing table", source={"kind": "postgresql", "secret_id": secret, "table": "nope"})
    status, body = _call(api, _event("POST", f"/invite-campaigns/{missing['id']}/preview"))
    assert status == 422 and body["errors"][0]["rule"] == "source_schema"
    # A secret that does not exist: 502 naming the secret
    no_secret = _create(api, name="No secret", source={"kind": "postgresql", "secret_id": "attract/sources/none",
                                                         "table": "candidates"})
    status, body = _call(api, _event("POST", f"/invite-campaigns/{no_secret['id']}/preview"))
    assert status == 502 and (body["errors"][0]["field"], body["errors"][0]["rule"]) == (
        "source.secret_id", "source_secret_unavailable")
    # A database that refuses the connection: 502, the host never echoed
    closed = _secret(local_aws, engine="postgres", host="127.0.0.1", port=1, username="postgres", password="pw",
                     dbname="test")
    down = _create(api, name="Down", source={"kind": "postgresql", "secret_id": closed, "table": "candidates"})
    status, body = _call(api, _event("POST", f"/invite-campaigns/{down['id']}/preview"))
    assert status == 502 and body["errors"][0]["rule"] == "source_unavailable"
    assert "127.0.0.1" not in json.dumps(body) and "pw" not in json.dumps(body)


def test_starting_a_run_records_it_and_queues_the_planner(api, local_aws, plan):
    created = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    # When a marketer starts a run
    status, started = _call(api, _event("POST", f"/invite-campaigns/{created['id']}/runs"))
    # Then it is accepted with a run id, the run exists as planning, and the planner's message is on the queue
    assert status == 202 and started["run_id"].startswith("r-")
    messages = plan["sqs"].receive_message(QueueUrl=plan["url"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"campaign_id": created["id"], "run_id": started["run_id"]}]
    status, run = _call(api, _event("GET", f"/invite-campaigns/{created['id']}/runs/{started['run_id']}"))
    assert status == 200 and (run["run_id"], run["status"], run["trigger"]) == (started["run_id"], "planning", "api")
    assert run["counts"] == {"rows": 0, "planned": 0, "sent": 0, "failed": 0, "skipped": {}}
    # Nothing planned or sent yet: no total while planning, no rate, no estimate
    assert run["progress"] == {"done": 0, "total": None, "per_minute": None} and run["estimated_done_at"] is None
    # And the campaign reports it as its latest run, with the counts the pipeline adds
    local_aws.client("dynamodb").update_item(
        TableName=local_aws.refs["AttractTable"],
        Key={"PK": {"S": f"INVITE_RUN#{created['id']}"}, "SK": {"S": f"RUN#{started['run_id']}"}},
        UpdateExpression="ADD #r :r, skipped_no_consent :n", ExpressionAttributeNames={"#r": "rows"},
        ExpressionAttributeValues={":r": {"N": "7"}, ":n": {"N": "2"}})
    status, read = _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))
    assert read["latest_run_id"] == started["run_id"]
    assert read["latest_run"]["counts"]["rows"] == 7 and read["latest_run"]["counts"]["skipped"] == {"no_consent": 2}
    # And once sending (4 planned, 2 sent one second apart, in 2030 so that the estimate is not raised to now),
    # the run's progress is 2 of 4 at 1 a second (60 a minute), done 2 s after the last: 09:00:03
    local_aws.client("dynamodb").update_item(
        TableName=local_aws.refs["AttractTable"],
        Key={"PK": {"S": f"INVITE_RUN#{created['id']}"}, "SK": {"S": f"RUN#{started['run_id']}"}},
        UpdateExpression="SET #s = :sending, first_outcome_at = :first, last_outcome_at = :last ADD planned :p, sent :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":sending": {"S": "sending"}, ":first": {"S": "2030-01-02T09:00:00.000Z"},
                                   ":last": {"S": "2030-01-02T09:00:01.000Z"}, ":p": {"N": "4"}, ":s": {"N": "2"}})
    status, run = _call(api, _event("GET", f"/invite-campaigns/{created['id']}/runs/{started['run_id']}"))
    assert status == 200 and run["progress"] == {"done": 2, "total": 4, "per_minute": 60.0}
    assert run["estimated_done_at"] == "2030-01-02T09:00:03.000Z"
    status, read = _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))
    assert read["latest_run"]["progress"] == run["progress"]


def _start(api, campaign_id: str, key: str | None = None, caller: str | None = None) -> tuple[int, dict | None]:
    event = _event("POST", f"/invite-campaigns/{campaign_id}/runs")
    if key is not None:
        event["headers"]["idempotency-key"] = key  # API Gateway HTTP APIs lower-case header names
    if caller is not None:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = caller
    return _call(api, event)


def _fresh_campaign(api) -> dict:
    """A campaign of its own: an identical create request would be answered with an earlier test's campaign."""
    return _create(api, name=f"Runs {uuid.uuid4().hex[:8]}",
                   source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})


def _plan_messages(plan) -> list[dict]:
    messages = plan["sqs"].receive_message(QueueUrl=plan["url"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def _runs(local_aws):
    from attract.invites.run_repository import RunRepository

    return RunRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))


def _finish_with_nothing_to_send(local_aws, campaign_id: str, run_id: str) -> None:
    """What the planner does to a run whose source had nobody to invite: planning -> done."""
    from attract.clock import utc_now

    runs = _runs(local_aws)
    assert runs.begin_planning(campaign_id, run_id, None, utc_now()) is not None
    assert runs.finish_planning(campaign_id, run_id, 0, 0, {}, {}, utc_now())


def test_a_second_run_while_one_is_active_is_409_naming_it_and_allowed_once_it_is_done(api, local_aws, plan):
    created = _fresh_campaign(api)
    # Given a run that is planning
    status, first = _start(api, created["id"])
    assert status == 202, first
    # When the marketer (or a retrying client) starts another
    status, answer = _start(api, created["id"])
    # Then it is refused, naming the run in progress, and the planner got one message only
    assert status == 409 and answer["run_id"] == first["run_id"] and first["run_id"] in answer["message"]
    assert _plan_messages(plan) == [{"campaign_id": created["id"], "run_id": first["run_id"]}]
    # And while that run is sending it is refused too
    local_aws.client("dynamodb").update_item(
        TableName=local_aws.refs["AttractTable"],
        Key={"PK": {"S": f"INVITE_RUN#{created['id']}"}, "SK": {"S": f"RUN#{first['run_id']}"}},
        UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "sending"}})
    assert _start(api, created["id"])[0] == 409
    # When the run is done (the planner found nobody to invite: it releases the campaign)
    local_aws.client("dynamodb").update_item(
        TableName=local_aws.refs["AttractTable"],
        Key={"PK": {"S": f"INVITE_RUN#{created['id']}"}, "SK": {"S": f"RUN#{first['run_id']}"}},
        UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "planning"}})
    _finish_with_nothing_to_send(local_aws, created["id"], first["run_id"])
    assert "active_run_id" not in _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")
    # Then a new run starts, and becomes the campaign's latest
    status, second = _start(api, created["id"])
    assert status == 202 and second["run_id"] != first["run_id"]
    assert _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))[1]["latest_run_id"] == second["run_id"]


def test_a_finished_run_whose_release_was_lost_or_a_stale_run_does_not_block_the_campaign(api, local_aws, plan):
    from datetime import timedelta

    from attract.clock import iso, utc_now

    created = _fresh_campaign(api)
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    # Given a run that failed, but whose release of the campaign never happened (the function died in between)
    first = _start(api, created["id"])[1]["run_id"]
    dynamodb.update_item(TableName=table, Key={"PK": {"S": f"INVITE_RUN#{created['id']}"}, "SK": {"S": f"RUN#{first}"}},
                         UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues={":s": {"S": "failed"}})
    assert _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")["active_run_id"] == first
    # Then a new run takes the campaign over
    status, second = _start(api, created["id"])
    assert status == 202
    # And given that run stuck in planning for longer than a run may take
    assert _start(api, created["id"])[0] == 409
    dynamodb.update_item(TableName=table, Key={"PK": {"S": f"INVITE_CAMPAIGN#{created['id']}"}, "SK": {"S": "CAMPAIGN"}},
                         UpdateExpression="SET active_run_at = :at",
                         ExpressionAttributeValues={":at": {"S": iso(utc_now() - timedelta(hours=25))}})
    # Then it does not block the campaign forever
    status, third = _start(api, created["id"])
    assert status == 202 and third["run_id"] not in (first, second["run_id"])
    assert _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")["active_run_id"] == third["run_id"]


def test_an_idempotency_key_replays_the_same_run_and_another_key_is_409(api, local_aws, plan):
    created = _fresh_campaign(api)
    # Given a run started with an Idempotency-Key
    status, first = _start(api, created["id"], key="retry-me-1")
    assert status == 202
    # When the client retries with the same key (a timeout, a double click)
    status, again = _start(api, created["id"], key="retry-me-1")
    # Then it gets the same run, and the planner got one message
    assert (status, again) == (202, first)
    assert _plan_messages(plan) == [{"campaign_id": created["id"], "run_id": first["run_id"]}]
    # And another key, or the same key from another caller, is a new request: 409 while the run is active
    status, answer = _start(api, created["id"], key="retry-me-2")
    assert status == 409 and answer["run_id"] == first["run_id"]
    assert _start(api, created["id"], key="retry-me-1", caller="another-marketer")[0] == 409
    # And once the run is done, the first key still answers its own run (remembered for 24 h)
    _finish_with_nothing_to_send(local_aws, created["id"], first["run_id"])
    assert _start(api, created["id"], key="retry-me-1") == (202, first)
    status, later = _start(api, created["id"], key="retry-me-2")
    assert status == 202 and later["run_id"] != first["run_id"]


def test_a_run_whose_plan_message_cannot_be_queued_fails_and_frees_the_campaign(api, local_aws, plan):
    created = _fresh_campaign(api)
    # Given a plan queue that is gone (a broken deployment)
    plan["sqs"].delete_queue(QueueUrl=plan["url"])
    # When a run is started
    status, answer = _start(api, created["id"])
    # Then it is a server error, the run it created is failed with a code, and the campaign is not left locked
    assert status == 500 and answer == {"message": "Internal server error"}
    campaign = _item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")
    assert "active_run_id" not in campaign
    run = _runs(local_aws).get(created["id"], campaign["latest_run_id"])
    assert (run["status"], run["error"]) == ("failed", "enqueue_failed")
    # And once the queue is back, a retry starts a run
    plan["sqs"].create_queue(QueueName=plan["url"].rsplit("/", 1)[1])
    status, started = _start(api, created["id"])
    assert status == 202 and started["run_id"] != campaign["latest_run_id"]


@pytest.mark.parametrize("key", ["has space", "x" * 256, "ünicode"])
def test_a_malformed_idempotency_key_is_422_naming_the_header(api, key):
    created = _fresh_campaign(api)
    status, answer = _start(api, created["id"], key=key)
    assert status == 422
    # HTTP header names are case-insensitive; API Gateway hands them over lower-cased
    assert [(e["location"], e["field"]) for e in answer["errors"]] == [("header", "idempotency-key")]


def _schedule(local_aws, campaign_id: str) -> dict:
    return local_aws.client("scheduler").get_schedule(Name=f"invite-{campaign_id}", GroupName="default")


def test_schedule_is_created_updated_and_deleted_in_eventbridge_scheduler(api, local_aws, plan):
    created = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    path = f"/invite-campaigns/{created['id']}/schedule"
    # When a marketer schedules the campaign
    status, schedule = _call(api, _event("PUT", path, {"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/Berlin"}))
    assert status == 200 and schedule["name"] == f"invite-{created['id']}"
    # Then Scheduler holds it: the plan queue as target, the scheduler role, the run's message as input
    found = _schedule(local_aws, created["id"])
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"]) == ("cron(0 9 ? * MON *)", "Europe/Berlin")
    assert (found["Target"]["Arn"], found["Target"]["RoleArn"]) == (plan["arn"], plan["role"])
    assert json.loads(found["Target"]["Input"]) == {"campaign_id": created["id"],
                                                    "scheduled_at": "<aws.scheduler.scheduled-time>"}
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"} and found["State"] == "ENABLED"
    # And a message it cannot deliver is retried for an hour (the shortest time between two firings), then kept in
    # the template's EventDeadLetterQueue (Scheduler's own default would retry 185 times for a day, then drop it)
    dead_letters = local_aws.resolve({"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]})
    delivery = {"RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": dead_letters}}
    assert {key: found["Target"].get(key) for key in delivery} == delivery
    # When it is put again: updated in place, with the same delivery
    status, _ = _call(api, _event("PUT", path, {"expression": "rate(1 day)"}))
    assert status == 200
    found = _schedule(local_aws, created["id"])
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"]) == ("rate(1 day)", "UTC")
    assert {key: found["Target"].get(key) for key in delivery} == delivery
    assert _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))[1]["schedule"] == {
        "expression": "rate(1 day)", "timezone": "UTC", "name": f"invite-{created['id']}"}
    # When it is deleted: gone from Scheduler and from the campaign, and a second DELETE is fine
    assert _call(api, _event("DELETE", path)) == (204, None)
    with pytest.raises(ClientError) as raised:
        _schedule(local_aws, created["id"])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))[1]["schedule"] is None
    assert _call(api, _event("DELETE", path)) == (204, None)


def test_a_schedule_in_the_create_request_is_created_too(api, local_aws, plan):
    body = json.loads(load_event("invites/create_campaign")["body"])
    status, created = _call(api, with_body(load_event("invites/create_campaign"), {**body, "name": "Scheduled"}))
    assert status == 201 and created["schedule"]["name"] == f"invite-{created['id']}"
    found = _schedule(local_aws, created["id"])
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"], found["Target"]["Arn"]) == (
        "cron(0 9 ? * MON *)", "Europe/Berlin", plan["arn"])


def test_a_bad_schedule_is_422_naming_the_field(api):
    created = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    path = f"/invite-campaigns/{created['id']}/schedule"
    status, body = _call(api, _event("PUT", path, {"expression": "every monday", "timezone": "Mars/Base"}))
    assert status == 422
    assert {(e["field"], e["rule"]) for e in body["errors"]} == {("expression", "schedule_expression"),
                                                                  ("timezone", "timezone")}


@pytest.mark.parametrize(("changes", "field"), [({"text": "Hello {{first_name}}, ..."}, "text"),
                                              ({"html": "<p>Hello {{first_name}}</p>"}, "html")])
def test_an_invitation_without_its_join_link_is_422_naming_the_field_and_the_rule(api, local_aws, changes, field):
    # Given a body whose text (or html) never places {{invite_url}}
    body = _body(mapping=_mapping(), source={"kind": "postgresql", "secret_id": "attract/sources/x",
                                             "table": "candidates"}, **changes)
    # When it is posted, Then 422 naming the field and the rule
    status, answer = _call(api, _event("POST", "/invite-campaigns", body))
    assert status == 422, answer
    assert [(e["field"], e["location"], e["rule"]) for e in answer["errors"]] == [(field, "body", "invite_url_required")]


def _sender(address: str) -> dict:
    return {"from": f"Acme Careers <{address}>", "postal_address": "1 Main Street, Springfield"}


def test_a_sender_ses_has_not_verified_is_422_naming_sender_from_and_the_rule(api, local_aws):
    # Given a sender whose address and domain are no SES identity of the account
    domain = f"unverified-{uuid.uuid4().hex[:8]}.example"
    body = _body(mapping=_mapping(), sender=_sender(f"careers@{domain}"))
    # When the campaign is created, Then 422 naming sender.from and the rule; no link, no campaign
    status, answer = _call(api, _event("POST", "/invite-campaigns", body))
    assert status == 422, answer
    assert [(e["field"], e["location"], e["rule"]) for e in answer["errors"]] == [
        ("sender.from", "body", "ses.identity_not_verified")]
    assert domain not in json.dumps(answer)  # the address is never echoed
    # When the address alone is verified (not its domain), Then the same request creates the campaign
    local_aws.client("sesv2").create_email_identity(EmailIdentity=f"careers@{domain}")
    status, created = _call(api, _event("POST", "/invite-campaigns", body))
    assert status == 201, created


@pytest.mark.parametrize(("sender", "field"), [
    ({"from": "careers@acme.example, boss@acme.example", "postal_address": "1 Main Street"}, "sender.from"),
    ({"from": "Acme <evil@x.example> <careers@acme.example>", "postal_address": "1 Main Street"}, "sender.from"),
    ({"from": "=?utf-8?q?x=0D=0A?=@acme.example", "postal_address": "1 Main Street"}, "sender.from"),
    ({"from": "careers@acme.example", "reply_to": "not an address", "postal_address": "1 Main Street"},
     "sender.reply_to")])
def test_a_sender_that_is_not_one_mailbox_is_422_naming_the_field(api, sender, field):
    status, answer = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), sender=sender)))
    assert status == 422, answer
    assert [(e["field"], e["rule"]) for e in answer["errors"]] == [(field, "mailbox")]


def test_ses_that_cannot_be_asked_is_a_502_naming_sender_from_not_a_500(api, monkeypatch):
    # Given SES out of reach (nothing listens on that port; the adapter's client is made after this)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    api._identities.cache_clear()
    # When a campaign is created, Then 502 naming sender.from and the rule ses.unavailable
    status, answer = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping())))
    assert status == 502, answer
    assert [(e["field"], e["rule"]) for e in answer["errors"]] == [("sender.from", "ses.unavailable")]


ROUTES = [("GET", "/invite-campaigns/{id}"), ("POST", "/invite-campaigns/{id}/preview"),
          ("POST", "/invite-campaigns/{id}/runs"), ("GET", "/invite-campaigns/{id}/runs/r-unknown"),
          ("PUT", "/invite-campaigns/{id}/schedule"), ("DELETE", "/invite-campaigns/{id}/schedule")]


@pytest.mark.parametrize(("method", "path"), [("POST", "/invite-campaigns"), *ROUTES])
def test_only_marketers_may_call_it(api, method, path):
    body = {"expression": "rate(1 day)"} if method == "PUT" else _body() if path == "/invite-campaigns" else None
    status, answer = _call(api, _event(method, path.format(id="c1"), body, groups="[recruiters]"))
    assert status == 403 and answer == {"message": "Requires group: marketers"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_unknown_campaign_or_run_is_404(api, method, path):
    body = {"expression": "rate(1 day)"} if method == "PUT" else None
    status, answer = _call(api, _event(method, path.format(id="nosuchcampaign"), body))
    assert status == 404 and "nosuchcampaign" in answer["message"]


def test_unknown_run_of_a_known_campaign_is_404(api):
    created = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    status, answer = _call(api, _event("GET", f"/invite-campaigns/{created['id']}/runs/r-nope"))
    assert status == 404 and "r-nope" in answer["message"]


def test_complete_planning_moves_the_watermark_forward_only(api, local_aws):
    from datetime import datetime, timezone

    from attract.invites.campaign_repository import CampaignRepository

    created = _create(api, source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    campaigns = CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    later, earlier = datetime(2026, 11, 20, 8, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc)
    # When the planner completes a run, then an older one completes late, then a run with no watermark
    campaigns.complete_planning(created["id"], "s-20261120T080000Z", later)
    campaigns.complete_planning(created["id"], "s-20261101T000000Z", earlier)
    campaign = campaigns.get(created["id"])
    # Then the watermark stays at the later one, and the latest run is the last recorded
    assert campaign.watermark == later and campaign.latest_run_id == "s-20261101T000000Z"
    campaigns.complete_planning(created["id"], "r-none", None)
    assert campaigns.get(created["id"]).watermark == later
    # And a campaign that does not exist is not created by it
    campaigns.complete_planning("nosuchcampaign", "r-x", later)
    assert campaigns.get("nosuchcampaign") is None


def test_destination_hosts_allow_list_applies_to_campaigns(api, monkeypatch):
    from attract.settings import load_settings

    monkeypatch.setenv("DESTINATION_HOSTS", "careers.acme.example")
    load_settings.cache_clear()
    status, body = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping())))
    assert status == 422
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("destination", "destination_host_not_allowed")]


def test_preview_of_a_large_mariadb_table_reads_a_few_rows_and_lets_go(api, local_aws):
    import time

    require_service("MariaDB", "127.0.0.1", 3306)
    engine = sa.create_engine("mysql+pymysql://root:@127.0.0.1:3306/test")
    table = "cand_" + uuid.uuid4().hex[:10]
    rows = 20_000
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY, email varchar(320), first_name text, "
                                   "last_name text, skills text, city text, marketing_consent tinyint)")
        connection.execute(sa.text(f"INSERT INTO {table} VALUES (:i, :e, :f, '', '', 'Berlin', :k)"),
                           [{"i": n, "e": f"person{n}@example.com", "f": f"P{n}", "k": int(n % 2 == 0)}
                            for n in range(1, rows + 1)])
    try:
        secret = _secret(local_aws, engine="mariadb", host="127.0.0.1", port=3306, username="root", password="",
                         dbname="test")
        created = _create(api, name="MariaDB", source={"kind": "mysql", "secret_id": secret, "table": table})
        started = time.perf_counter()
        status, preview = _call(api, _event("POST", f"/invite-campaigns/{created['id']}/preview"))
        elapsed = time.perf_counter() - started
        # Then: the first three consenting rows in key order, the odd ids before them skipped, the rest never read
        assert status == 200, preview
        assert [m["to"] for m in preview["messages"]] == [f"person{n}@example.com" for n in (2, 4, 6)]
        assert preview["skipped"] == {"no_consent": 3} and preview["rows_read"] == 6
        assert elapsed < 10, elapsed
        # And the connection was let go: the table can be dropped at once (no metadata lock held by a stream)
        with engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = 'test' AND command = 'Query' "
                "AND info LIKE :pattern AND id <> CONNECTION_ID()"), {"pattern": f"%{table}%"}).scalar_one() == 0
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()


# ---- what a campaign may read (attract.invites.source_rules), and how often it may run -------------------------


def _rules(answer: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in answer["errors"]]


def test_the_application_tables_as_a_dynamodb_source_are_422(api, local_aws, monkeypatch):
    from attract.settings import load_settings

    # Given a marketer naming Attract's own table (pending joiners' addresses, names and cities) or its idempotency
    # table as a source: 422 naming the field and the rule, before anything is read or written
    for table in (local_aws.refs["AttractTable"], local_aws.refs["IdempotencyTable"]):
        status, answer = _call(api, _event("POST", "/invite-campaigns", _body(
            mapping=_mapping(), source={"kind": "dynamodb", "table_name": table})))
        assert status == 422, answer
        assert _rules(answer) == [("source.table_name", "source_table_not_allowed")]
    # And with SourceTablePattern opened to every table, Attract's own stay refused
    monkeypatch.setenv("SOURCE_TABLE_ARN_PATTERN", f"arn:aws:dynamodb:{REGION}:123456789012:table/*")
    load_settings.cache_clear()
    status, answer = _call(api, _event("POST", "/invite-campaigns", _body(
        mapping=_mapping(), source={"kind": "dynamodb", "table_name": local_aws.refs["AttractTable"]})))
    assert status == 422 and _rules(answer) == [("source.table_name", "source_own_resource")]


@pytest.mark.parametrize(("source", "rule"), [
    ({"kind": "s3", "uri": "s3://acme-ats/export.csv"}, ("source.uri", "source_bucket_not_allowed")),
    ({"kind": "dynamodb", "table_name": "crm-people"}, ("source.table_name", "source_table_not_allowed")),
    ({"kind": "postgresql", "secret_id": "hr/payroll-db", "table": "people"},
     ("source.secret_id", "source_secret_not_allowed")),
    ({"kind": "mysql", "secret_id": "arn:aws:secretsmanager:us-east-1:999999999999:secret:attract/sources/x",
      "table": "people"}, ("source.secret_id", "source_secret_not_allowed"))])
def test_a_bucket_table_or_secret_outside_the_templates_patterns_is_422(api, source, rule):
    status, answer = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), source=source)))
    assert status == 422, answer
    assert _rules(answer) == [rule]


def test_the_stacks_own_secrets_are_never_a_source(api, local_aws):
    for secret in ("SigningKeySecret", "EmailPepperSecret"):
        status, answer = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), source={
            "kind": "postgresql", "secret_id": local_aws.refs[secret], "table": "people"})))
        assert status == 422 and _rules(answer) == [("source.secret_id", "source_secret_not_allowed")]


def test_whether_a_secret_or_a_file_exists_is_never_revealed(api, local_aws, pg_table):
    # Given a secret and an object outside the patterns that exist, and names of ones that do not
    name = uuid.uuid4().hex[:8]
    local_aws.client("secretsmanager").create_secret(Name=f"hr/payroll-{name}", SecretString="{}")
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=f"acme-{name}")
    s3.put_object(Bucket=f"acme-{name}", Key="people.csv", Body=b"email,consent\n")

    def create(source: dict) -> tuple[int, dict]:
        return _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), source=source)))

    # When a campaign names each, Then the answers are the same, byte for byte: refused before any read
    assert create({"kind": "postgresql", "secret_id": f"hr/payroll-{name}", "table": "t"}) == create(
        {"kind": "postgresql", "secret_id": f"hr/nothing-{name}", "table": "t"})
    assert create({"kind": "s3", "uri": f"s3://acme-{name}/people.csv"}) == create(
        {"kind": "s3", "uri": f"s3://acme-{name}/nothing.csv"}) == create(
        {"kind": "s3", "uri": f"s3://nothing-{name}/people.csv"})
    # And inside the patterns, a missing object and a missing bucket preview alike (as would one IAM denies)
    s3.create_bucket(Bucket=f"attract-sources-{name}")
    answers = []
    for uri in (f"s3://attract-sources-{name}/nothing.csv", f"s3://attract-sources-none-{name}/people.csv"):
        created = _create(api, name=f"Exists {uri}", source={"kind": "s3", "uri": uri})
        answers.append(_call(api, _event("POST", f"/invite-campaigns/{created['id']}/preview")))
    assert answers[0] == answers[1] and answers[0][0] == 502, answers
    assert _rules(answers[0][1]) == [("source", "source_unavailable")] and name not in json.dumps(answers[0][1])


def test_a_campaign_stored_before_the_rules_is_refused_at_preview_and_at_run(api, local_aws, plan):
    from datetime import datetime, timezone

    from attract.invites.campaign_repository import CampaignRepository
    from attract.invites.campaigns import InviteCampaign

    # Given a campaign stored (by the repository, as before the rules) with Attract's own table as its source
    campaign_id = "old" + uuid.uuid4().hex[:10]
    CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).create(
        InviteCampaign.model_validate({**_body(mapping=_mapping(), source={
            "kind": "dynamodb", "table_name": local_aws.refs["AttractTable"]}), "id": campaign_id,
            "link_code": "old" + campaign_id[3:11], "created_at": datetime.now(timezone.utc)}))
    # When it is previewed or run: 422 naming the field, nothing read, no run, no plan message
    for path in ("preview", "runs"):
        status, answer = _call(api, _event("POST", f"/invite-campaigns/{campaign_id}/{path}"))
        assert status == 422 and _rules(answer) == [("source.table_name", "source_table_not_allowed")], answer
    assert "Messages" not in plan["sqs"].receive_message(QueueUrl=plan["url"], WaitTimeSeconds=0)
    assert _item(local_aws, f"INVITE_CAMPAIGN#{campaign_id}", "CAMPAIGN").get("latest_run_id") is None


@pytest.mark.parametrize("expression", ["rate(1 minute)", "rate(30 minutes)", "cron(* * * * ? *)",
                                        "cron(0,30 9 ? * MON-FRI *)"])
def test_a_schedule_firing_more_than_once_an_hour_is_422_at_creation_and_on_put(api, local_aws, expression):
    # At creation: 422 on schedule.expression, and no campaign (nothing was written before the check)
    body = _body(mapping=_mapping(), name=f"Too often {uuid.uuid4().hex[:6]}",
                 schedule={"expression": expression, "timezone": "Europe/Berlin"})
    status, answer = _call(api, _event("POST", "/invite-campaigns", body))
    assert status == 422 and _rules(answer) == [("schedule.expression", "schedule_too_frequent")], answer
    # On PUT …/schedule: 422 on expression, and Scheduler holds nothing
    created = _create(api, name=f"Hourly at most {uuid.uuid4().hex[:6]}")
    status, answer = _call(api, _event("PUT", f"/invite-campaigns/{created['id']}/schedule",
                                       {"expression": expression}))
    assert status == 422 and _rules(answer) == [("expression", "schedule_too_frequent")], answer
    with pytest.raises(ClientError):
        _schedule(local_aws, created["id"])
    # And hourly is fine
    status, _ = _call(api, _event("PUT", f"/invite-campaigns/{created['id']}/schedule", {"expression": "rate(1 hour)"}))
    assert status == 200


# ---- PATCH: the message changed between runs ----------------------------------------------------------------------


def _patch(api, campaign_id: str, body) -> tuple[int, dict | None]:
    return _call(api, _event("PATCH", f"/invite-campaigns/{campaign_id}", body))


def test_the_message_is_changed_between_runs_and_the_rest_stays(api, local_aws, plan):
    created = _fresh_campaign(api)
    # When the marketer fixes the subject and drops the HTML part
    status, changed = _patch(api, created["id"], {"subject": "{{first_name}}, join us", "html": None})
    # Then the campaign reads back changed, everything else as it was
    assert status == 200, changed
    assert (changed["subject"], changed["html"]) == ("{{first_name}}, join us", None)
    same = ("name", "destination", "source", "mapping", "text", "sender", "link_code", "link_url", "created_at")
    assert {k: changed[k] for k in same} == {k: created[k] for k in same}
    assert _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))[1]["subject"] == "{{first_name}}, join us"
    # And the next run plans with it (the planner reads the stored campaign)
    from attract.invites.campaign_repository import CampaignRepository

    stored = CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).get(created["id"])
    assert stored is not None and stored.subject == "{{first_name}}, join us" and stored.html is None
    # And the change is audited with the fields it changed, never their text
    audit = local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AuditTable"], IndexName="ByObject",
        KeyConditionExpression="object_key = :o", ExpressionAttributeValues={":o": {"S": f"invite_campaign#{created['id']}"}})
    changes = [from_item(i) for i in audit["Items"] if from_item(i).get("action") == "invite_campaign.change"]
    assert len(changes) == 1 and changes[0]["details"]["fields"] == ["html", "subject"]
    assert "join us" not in json.dumps(changes[0], default=str)


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({}, "body", "no_change"),
    ({"text": "Hello, no link here"}, "text", "invite_url_required"),
    ({"subject": "{{nickname}}"}, "subject", "unknown_placeholder"),
    ({"subject": None}, "body", "not_removable"),
    ({"name": "Renamed"}, "(unknown field)", "extra_forbidden"),
    ({"text": "{{invite_url}} " + "\U0001F600" * 15_500}, "text", "string_too_long"),  # 62,000 bytes
])
def test_a_change_breaking_a_rule_is_422_naming_the_field_and_changes_nothing(api, body, field, rule):
    created = _fresh_campaign(api)
    status, answer = _patch(api, created["id"], body)
    assert status == 422, answer
    assert (answer["errors"][0]["field"], answer["errors"][0]["rule"]) == (field, rule), answer
    assert _call(api, _event("GET", f"/invite-campaigns/{created['id']}"))[1]["subject"] == created["subject"]


def test_templates_too_large_together_are_422_on_the_merged_campaign(api):
    created = _create(api, name=f"Big {uuid.uuid4().hex[:8]}", text="{{invite_url}} " + "\x01" * 19_000,
                      source={"kind": "postgresql", "secret_id": "attract/sources/x", "table": "candidates"})
    # Each part within its bounds, but a control character escapes to six bytes in the job's JSON (\\u0001)
    status, answer = _patch(api, created["id"], {"html": "<p>{{invite_url}}</p>" + "\x01" * 30_000})
    assert status == 422 and answer["errors"][0]["rule"] == "templates_too_large", answer


def test_a_change_while_a_run_plans_or_sends_is_409_naming_the_run(api, local_aws, plan):
    created = _fresh_campaign(api)
    status, run = _start(api, created["id"])
    assert status == 202, run
    status, answer = _patch(api, created["id"], {"subject": "Too late"})
    assert status == 409 and answer["run_id"] == run["run_id"], answer
    _finish_with_nothing_to_send(local_aws, created["id"], run["run_id"])
    assert _patch(api, created["id"], {"subject": "In time for the next run"})[0] == 200



def test_a_run_stuck_past_the_lock_s_age_blocks_a_change_no_more_than_a_new_run(api, local_aws, plan):
    from datetime import timedelta

    from attract.clock import iso, utc_now

    created = _fresh_campaign(api)
    assert _start(api, created["id"])[0] == 202
    local_aws.client("dynamodb").update_item(
        TableName=local_aws.refs["AttractTable"], Key={"PK": {"S": f"INVITE_CAMPAIGN#{created['id']}"}, "SK": {"S": "CAMPAIGN"}},
        UpdateExpression="SET active_run_at = :at", ExpressionAttributeValues={":at": {"S": iso(utc_now() - timedelta(hours=25))}})
    assert _patch(api, created["id"], {"subject": "After the stuck run"})[0] == 200


def test_a_new_sender_on_a_verified_domain_is_stored_as_from(api, local_aws):
    created = _fresh_campaign(api)
    sender = {"from": "Acme Talent <talent@acme.example>", "postal_address": "2 Main Street, Springfield"}
    status, changed = _patch(api, created["id"], {"sender": sender})
    assert status == 200, changed
    assert changed["sender"]["from"] == "Acme Talent <talent@acme.example>" and changed["subject"] == created["subject"]
    spec = json.loads(_item(local_aws, f"INVITE_CAMPAIGN#{created['id']}", "CAMPAIGN")["spec"])
    assert spec["sender"]["from"] == "Acme Talent <talent@acme.example>"  # spelled `from`, as at creation


def test_a_sender_ses_has_not_verified_is_422_and_an_unknown_campaign_is_404(api):
    created = _fresh_campaign(api)
    status, answer = _patch(api, created["id"], {"sender": _sender(f"x@unverified-{uuid.uuid4().hex[:8]}.example")})
    assert status == 422 and answer["errors"][0]["rule"] == "ses.identity_not_verified", answer
    assert _patch(api, "nosuchcampaign000000", {"subject": "Hi"})[0] == 404


def test_two_changes_at_once_never_lose_one_silently(api, local_aws):
    from attract.errors import ConflictError
    from attract.invites.campaign_logic import change_campaign
    from attract.invites.campaign_repository import CampaignRepository
    from attract.invites.campaigns import InviteCampaignChanges

    created = _fresh_campaign(api)
    campaigns = CampaignRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    read = campaigns.spec(created["id"])
    # Given another change landing between this one's read and write
    real = campaigns.spec
    campaigns.spec = lambda campaign_id: read  # type: ignore[method-assign]
    _patch(api, created["id"], {"subject": "First"})
    # Then this one is refused (409), not written over it
    with pytest.raises(ConflictError):
        change_campaign(created["id"], InviteCampaignChanges(subject="Second"), active_run=None, campaigns=campaigns)
    campaigns.spec = real  # type: ignore[method-assign]
    assert campaigns.get(created["id"]).subject == "First"
