"""Conversion feedback against moto: the joins function enqueues only consented ad joins (never a raw email),
the uploader records each (join, platform) result, retries what may succeed later, and dead-letters poison;
a Google conversion waits 6 hours after its click in the delayed path (held items + the sweep), never in SQS."""

import hashlib
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from attract.aws import from_item
from attract.campaigns.conversions import ConversionMessage, RetryableUploadError, sweep, upload_conversion
from attract.campaigns.conversions_repository import (
    CURSOR_KEY,
    ConversionRepository,
    PendingConversionRepository,
    conversion_key,
    held_key,
)
from attract.campaigns.models import Conversion, ConversionResult
from attract.campaigns.ports import RateLimited
from attract.identity import email_hash
from attract.joins.feedback import google_email_sha256
from attract_local.triggers import failed_message_ids, sqs_event
from tests.integration.conftest import MAX_RECEIVES, VISIBILITY
from tests.support import FakeLambdaContext, join_and_confirm_in_process, load_event, with_body

NOW = datetime(2026, 12, 3, 10, tzinfo=timezone.utc)


def new_queue(local_aws) -> tuple[object, str, str, str]:
    """A queue pair of this test only, wired like the template's (redrive after MAX_RECEIVES)."""
    sqs = local_aws.client("sqs")
    name = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"conversions-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"conversions-{name}", Attributes={
        "VisibilityTimeout": str(VISIBILITY),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, queue, arn, dlq


def messages(sqs, queue: str) -> list[dict]:
    return sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])


# ---- the joins function's side


@pytest.fixture
def joins(function_env, local_aws, monkeypatch):
    """The joins function with a conversions queue of this test (the template gives it the stack's)."""
    from attract import settings

    module = function_env("JoinsFunction")
    assert module.load_settings().conversions_queue_url == local_aws.refs["ConversionsQueue"]
    sqs, queue, _, _ = new_queue(local_aws)
    monkeypatch.setenv("CONVERSIONS_QUEUE_URL", queue)
    settings.load_settings.cache_clear()
    module._conversions.cache_clear()
    yield module, sqs, queue
    module._conversions.cache_clear()


def confirm(module, local_aws, **fields) -> tuple[dict, str]:
    email = f"conv-{uuid.uuid4().hex[:10]}@example.com"
    response = join_and_confirm_in_process(module, local_aws.endpoint, {"email": email, "name": "C", "consent": True, **fields})
    assert response["statusCode"] == 200, response["body"]
    return response, email


def test_a_consented_join_from_a_google_ad_enqueues_one_message_without_the_email(joins, local_aws):
    module, sqs, queue = joins
    _, email = confirm(module, local_aws, ads_consent=True, gclid="Cj0KCQ-test-gclid")
    [message] = messages(sqs, queue)
    body = json.loads(message["Body"])
    assert body["channels"] == ["google_search"] and body["gclid"] == "Cj0KCQ-test-gclid"
    # Google's hash of the address (its own normalisation), and not Meta's: Meta is not told of this join
    assert body["google_email_sha256"] == google_email_sha256(email) and "email_sha256" not in body
    assert body["v"] == 2 and datetime.fromisoformat(body["google_click_at"]) <= datetime.fromisoformat(body["joined_at"])
    assert email not in message["Body"] and email.split("@")[0] not in message["Body"]
    # And its join id is the member's id (Google's order_id, Meta's event_id)
    pepper = local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    member = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(email, pepper)}"}, "SK": {"S": "MEMBER"}})["Item"]
    assert body["join_id"] == member["member_id"]["S"] and from_item(member)["consent"]["ads"] is True


def test_a_consented_join_from_a_meta_ad_is_for_meta_with_its_click_time(joins, local_aws):
    module, sqs, queue = joins
    confirm(module, local_aws, ads_consent=True, fbclid="IwAR-test-fbclid")
    [message] = messages(sqs, queue)
    body = json.loads(message["Body"])
    assert (body["channels"], body["fbclid"]) == (["meta"], "IwAR-test-fbclid") and body["fbclid_at"]
    # And the join form's browser, which Meta requires with website events, from the submission's headers
    headers = load_event("joins/join")["headers"]
    assert (body["client_user_agent"], body["event_source_url"]) == (headers["user-agent"], headers["referer"])


def test_a_click_on_the_campaigns_tracked_link_carries_its_gclid_to_the_message(joins, function_env, local_aws):
    from attract import settings

    # Given the tracked link a launch creates for Google (channel paid_search), clicked from an ad with a gclid
    module, sqs, queue = joins
    links = function_env("LinksFunction")
    event = load_event("links/create_link")
    body = {**json.loads(event["body"]), "campaign": f"Search {uuid.uuid4().hex[:8]}", "channel": "paid_search",
            "source": "google"}
    code = json.loads(links.lambda_handler(with_body(event, body), FakeLambdaContext())["body"])["code"]
    tracking = function_env("TrackingFunction")
    click = load_event("tracking/click")
    gclid = f"Cj0KCQ-{uuid.uuid4().hex[:12]}"
    click["pathParameters"]["code"] = code
    click["rawPath"] = click["requestContext"]["http"]["path"] = f"/r/{code}"
    click["queryStringParameters"], click["rawQueryString"], click["cookies"] = {"gclid": gclid}, f"gclid={gclid}", []
    location = parse_qs(urlsplit(tracking.lambda_handler(click, FakeLambdaContext())["headers"]["Location"]).query)
    # When the visitor joins from the careers page (the snippet sends its signed ids, not the gclid) with ads consent
    # (the other functions' environments leave the fixture's CONVERSIONS_QUEUE_URL in place)
    settings.load_settings.cache_clear()
    assert module.load_settings().conversions_queue_url == queue
    confirm(module, local_aws, ads_consent=True, visitor_id=location["tc_vid"][0],
            click_ids={"tc_click": location["tc_click"]})
    # Then the message names Google with the click's gclid, taken from the credited path
    [message] = messages(sqs, queue)
    sent = json.loads(message["Body"])
    assert (sent["channels"], sent["gclid"]) == (["google_search"], gclid)


@pytest.mark.parametrize("fields", [
    {"gclid": "Cj0KCQ-no-consent"},  # an ad click, but no consent to tell the platform
    {"ads_consent": False, "fbclid": "IwAR-no-consent"},
    {"ads_consent": True},  # consent, but no ad brought them (direct)
    {"ads_consent": True, "click_ids": {"msclkid": ["bing-1"]}},  # an ad platform we do not report to
])
def test_nothing_is_enqueued_without_consent_or_without_a_google_or_meta_ad(joins, local_aws, fields):
    module, sqs, queue = joins
    confirm(module, local_aws, **fields)
    assert messages(sqs, queue) == []


def test_ads_consent_must_be_a_json_boolean(joins):
    module, _, _ = joins
    event = with_body(load_event("joins/join"), {"email": "x@example.com", "name": "X", "consent": True, "ads_consent": "yes"})
    response = module.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 422 and "ads_consent" in response["body"]


def test_a_failure_to_enqueue_never_fails_the_join_and_logs_no_personal_data(joins, local_aws, monkeypatch, capfd, caplog):
    from attract import settings

    module, _, _ = joins
    monkeypatch.setenv("CONVERSIONS_QUEUE_URL", f"{local_aws.endpoint}/123456789012/no-such-queue-{uuid.uuid4().hex[:6]}")
    settings.load_settings.cache_clear()
    module._conversions.cache_clear()
    response, email = confirm(module, local_aws, ads_consent=True, gclid="Cj0KCQ-lost")
    assert "You're in" in response["body"]
    assert '"ConversionEnqueueFailed":[1.0]' in capfd.readouterr().out  # the metric
    [warning] = [r for r in caplog.records if r.getMessage() == "conversion not enqueued"]
    assert warning.error_code == "AWS.SimpleQueueService.NonExistentQueue"
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert email not in logged and "Cj0KCQ-lost" not in logged and hashlib.sha256(email.encode()).hexdigest() not in logged


# ---- the uploader's side: the domain with an in-test AdsGateway, recorded in a table of its own


class Platform:
    """An in-test AdsGateway: answers uploads from a script of results (or errors), and keeps what it got."""

    def __init__(self, channel: str, *script):
        self.channel, self.script, self.uploaded = channel, list(script), []

    def upload_conversions(self, conversions):
        self.uploaded.append(list(conversions))
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return [ConversionResult(join_id=c.join_id, **outcome) for c in conversions]


@pytest.fixture
def ledger(local_aws):
    name = f"conv-{uuid.uuid4().hex[:8]}"
    definition = local_aws.template["Resources"]["AttractTable"]["Properties"]
    local_aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                              AttributeDefinitions=definition["AttributeDefinitions"])
    yield ConversionRepository(name, local_aws.client("dynamodb"))
    local_aws.client("dynamodb").delete_table(TableName=name)


@pytest.fixture
def held(ledger, local_aws):
    """The delayed path's items, in the ledger's table of this test."""
    return PendingConversionRepository(ledger.table, local_aws.client("dynamodb"))


def record(ledger: ConversionRepository, join_id: str, channel: str) -> dict:
    item = ledger.dynamodb.get_item(TableName=ledger.table, Key=conversion_key(join_id, channel))["Item"]
    return from_item(item)


def message(join_id: str = "j-1", channels=("google_search", "meta"), joined_at: datetime = NOW,
            clicked: timedelta = timedelta(hours=7)) -> ConversionMessage:
    """A join `clicked` after its Google click (7 hours: Google takes it at once)."""
    return ConversionMessage(join_id=join_id, joined_at=joined_at, channels=list(channels), gclid="G", fbclid="F",
                             fbclid_at=joined_at, email_sha256="a" * 64, google_email_sha256="b" * 64,
                             google_click_at=joined_at - clicked, client_user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                             event_source_url="https://careers.example.com/join")


def test_each_platform_is_uploaded_once_and_a_redelivery_uploads_nothing(ledger, held):
    google, meta = Platform("google_search", {"ok": True}), Platform("meta", {"ok": True})
    platforms = {"google_search": google, "meta": meta}
    assert upload_conversion(message(), platforms.__getitem__, ledger, held, NOW) == {"google_search": "uploaded", "meta": "uploaded"}
    assert upload_conversion(message(), platforms.__getitem__, ledger, held, NOW) == {"google_search": "skipped", "meta": "skipped"}
    assert len(google.uploaded) == len(meta.uploaded) == 1
    [[sent]] = google.uploaded
    assert isinstance(sent, Conversion) and (sent.join_id, sent.gclid, sent.google_email_sha256) == ("j-1", "G", "b" * 64)
    assert record(ledger, "j-1", "meta") | {"last_at": None, "first_at": None} == {
        "PK": "CONVERSION#j-1", "SK": "meta", "status": "uploaded", "retryable": False, "code": "-", "attempts": 1,
        "type": "conversion", "request_id": "-", "last_at": None, "first_at": None}


def test_a_retryable_failure_is_recorded_raised_and_the_retry_uploads_only_what_is_left(ledger, held):
    google = Platform("google_search", {"ok": True})
    meta = Platform("meta", RateLimited("meta", "too many calls", ["17"]), {"ok": True})
    platforms = {"google_search": google, "meta": meta}
    with pytest.raises(RetryableUploadError) as raised:
        upload_conversion(message(), platforms.__getitem__, ledger, held, NOW)
    assert raised.value.channels == ["meta"]
    assert (record(ledger, "j-1", "meta")["status"], record(ledger, "j-1", "meta")["code"]) == ("failed", "17")
    assert upload_conversion(message(), platforms.__getitem__, ledger, held, NOW) == {"google_search": "skipped", "meta": "uploaded"}
    assert len(google.uploaded) == 1 and len(meta.uploaded) == 2
    assert (record(ledger, "j-1", "meta")["status"], record(ledger, "j-1", "meta")["attempts"]) == ("uploaded", 2)


def test_a_refused_conversion_is_recorded_with_its_code_and_never_retried(ledger, held):
    google = Platform("google_search", {"ok": False, "retryable": False, "error": "EXPIRED_GCLID"})
    platforms = {"google_search": google}
    assert upload_conversion(message(channels=["google_search"]), platforms.__getitem__, ledger, held, NOW) == {"google_search": "failed"}
    assert upload_conversion(message(channels=["google_search"]), platforms.__getitem__, ledger, held, NOW) == {"google_search": "skipped"}
    assert len(google.uploaded) == 1
    assert {k: record(ledger, "j-1", "google_search")[k] for k in ("status", "retryable", "code")} == {
        "status": "failed", "retryable": False, "code": "EXPIRED_GCLID"}


def test_an_uploaded_record_is_never_downgraded_by_a_late_failure(ledger):
    ledger.record("meta", ConversionResult(join_id="j-9", ok=True), NOW)
    ledger.record("meta", ConversionResult(join_id="j-9", ok=False, retryable=True, error="2"), NOW)
    assert record(ledger, "j-9", "meta")["status"] == "uploaded" and ledger.settled("j-9", "meta")


# ---- the handler, as Lambda's SQS poller calls it: partial batch failures, then the dead-letter queue


@pytest.fixture
def uploader(function_env, local_aws):
    return function_env("ConversionsFunction")


def test_a_batch_fails_only_its_poison_message_and_the_poison_ends_in_the_dead_letter_queue(uploader, local_aws):
    # Given a join already uploaded to both platforms (a redelivery) and two messages nobody can process
    sqs, queue, arn, dlq = new_queue(local_aws)
    store = ConversionRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    join_id = f"j-{uuid.uuid4().hex[:8]}"
    for channel in ("google_search", "meta"):
        store.record(channel, ConversionResult(join_id=join_id, ok=True), NOW)
    settled = json.dumps({"v": 1, "join_id": join_id, "joined_at": NOW.isoformat(), "channels": ["google_search", "meta"],
                          "gclid": "G", "email_sha256": "b" * 64})
    for body in (settled, "{not json", json.dumps({"v": 1, "join_id": "x", "joined_at": NOW.isoformat(), "channels": []})):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    # When the poller delivers until the queue is empty (failed messages come back after the visibility timeout)
    deliveries: dict[str, int] = {}
    for _ in range(MAX_RECEIVES + 3):
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if batch:
            result = uploader.lambda_handler(sqs_event(batch, arn), FakeLambdaContext())
            failed = failed_message_ids(result, [m["MessageId"] for m in batch], report_failures=True)
            for m in batch:
                deliveries[m["Body"]] = deliveries.get(m["Body"], 0) + 1
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            # Then only the poison fails: the settled join succeeds without a platform call
            assert {m["Body"] for m in batch if m["MessageId"] in failed} == {m["Body"] for m in batch} - {settled}
        time.sleep(VISIBILITY + 0.2)
    # Then the settled one was handled once, each poison MAX_RECEIVES times, and both poisons are dead-lettered
    assert deliveries[settled] == 1
    assert sorted(v for k, v in deliveries.items() if k != settled) == [MAX_RECEIVES, MAX_RECEIVES]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["Body"][:9] for m in dead) == sorted(["{not json", '{"v": 1, '])
    assert messages(sqs, queue) == []


def test_the_sample_event_of_a_settled_join_succeeds_without_a_platform_call(uploader, local_aws):
    event = load_event("campaigns/conversion")
    join_id = json.loads(event["Records"][0]["body"])["join_id"]
    store = ConversionRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    store.record("google_search", ConversionResult(join_id=join_id, ok=True), NOW)
    store.record("meta", ConversionResult(join_id=join_id, ok=False, retryable=False, error="2804050"), NOW)
    # Google uploaded, Meta refused for good: nothing left to do, and both records stay as they were
    assert uploader.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert store.settled(join_id, "google_search") and store.settled(join_id, "meta")


def test_the_template_wires_the_queue_dlq_and_partial_batch_responses(local_aws):
    resources = local_aws.template["Resources"]
    redrive = resources["ConversionsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == MAX_RECEIVES
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ConversionsDeadLetterQueue", "Arn"]}
    event = resources["ConversionsFunction"]["Properties"]["Events"]["Conversions"]["Properties"]
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    joins = resources["JoinsFunction"]["Properties"]
    assert joins["Environment"]["Variables"]["CONVERSIONS_QUEUE_URL"] == {"Ref": "ConversionsQueue"}
    grants = [s for s in joins["Policies"][0]["Statement"] if "sqs:SendMessage" in s["Action"]]
    assert grants == [{"Sid": "EnqueueConversions", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                       "Resource": {"Fn::GetAtt": ["ConversionsQueue", "Arn"]}},
                      {"Sid": "DeferConfirmations", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                       "Resource": {"Fn::GetAtt": ["JoinMailQueue", "Arn"]}},  # issue 13: capped mails wait there
                      {"Sid": "QueueScoring", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                       "Resource": {"Fn::GetAtt": ["ScoringQueue", "Arn"]}}]  # issue 14: new members are scored


# ---- the real adapters against their local sandboxes


def test_google_through_the_data_manager_sandbox(ledger, held, monkeypatch):
    from attract.providers import google_datamanager as adapter
    from attract_local.sandboxes import datamanager as sandboxes

    sandbox = sandboxes.DataManagerSandbox()
    endpoint = sandbox.start()
    try:
        monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(sandbox.cert_path))
        uploader = adapter.DataManagerUploader(sandbox.config(), endpoint)
        joined_at = datetime.now(timezone.utc)  # the sandbox holds event_timestamp to the last 90 days
        sent = message(channels=["google_search"], joined_at=joined_at)
        assert upload_conversion(sent, {"google_search": uploader}.__getitem__, ledger, held, joined_at) == {
            "google_search": "uploaded"}
        [request] = sandbox.calls("IngestEvents")
        [event] = request.events
        assert (event.transaction_id, event.ad_identifiers.gclid) == ("j-1", "G")
        assert [u.email_address for u in event.user_data.user_identifiers] == ["b" * 64]  # Google's hash, not Meta's
        assert record(ledger, "j-1", "google_search")["request_id"] != "-"
    finally:
        sandbox.stop()


def test_meta_conversions_api_lead_through_the_sandbox(ledger, held):
    from attract.providers import meta as adapter
    from attract_local.sandboxes import meta as sandboxes

    sandbox = sandboxes.MetaSandbox()
    url = sandbox.start()
    try:
        gateway = adapter.MetaGateway(sandbox.config(), url)
        # The sandbox holds event_time to Meta's window against the wall clock: a join of a moment ago
        joined_at = datetime.now(timezone.utc)
        sent_message = message(channels=["meta"], joined_at=joined_at)
        assert upload_conversion(sent_message, {"meta": gateway}.__getitem__, ledger, held, joined_at) == {"meta": "uploaded"}
        [event] = sandbox.events
        assert (event["event_name"], event["event_id"], event["user_data"]["em"]) == ("Lead", "j-1", ["a" * 64])
        assert event["user_data"]["client_user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
        assert event["event_source_url"] == "https://careers.example.com/join"
    finally:
        sandbox.stop()


def test_the_handler_uploads_to_both_platforms_through_the_real_adapters(sandboxes, datamanager, uploader, local_aws):
    _, meta, _, _ = sandboxes  # uploader_for builds the real adapters from the stack's secrets
    event = load_event("campaigns/conversion")
    join_id = f"j-{uuid.uuid4()}"
    joined_at = datetime.now(timezone.utc)  # Meta (and its sandbox) take events of the last 7 days only
    body = json.loads(event["Records"][0]["body"]) | {"join_id": join_id, "joined_at": joined_at.isoformat(),
                                                       "fbclid_at": joined_at.isoformat(),
                                                       "google_click_at": (joined_at - timedelta(hours=7)).isoformat()}
    event["Records"][0]["body"] = json.dumps(body)
    assert uploader.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    store = ConversionRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    assert record(store, join_id, "google_search")["status"] == record(store, join_id, "meta")["status"] == "uploaded"
    [upload] = datamanager.calls("IngestEvents")
    assert [e.transaction_id for e in upload.events] == [join_id]
    assert upload.events[0].user_data.user_identifiers[0].email_address == body["google_email_sha256"]
    sent_to_meta = json.dumps(meta.received, default=str)
    assert join_id in sent_to_meta and body["email_sha256"] in sent_to_meta
    [lead] = [e for e in meta.events if e["event_id"] == join_id]
    assert (lead["user_data"]["client_user_agent"], lead["event_source_url"]) == (body["client_user_agent"], body["event_source_url"])


# ---- the delayed path: Google takes a conversion 6 hours after its click; nothing waits in SQS for it


def test_a_conversion_not_due_is_held_and_the_sweep_uploads_it_once_when_due(ledger, held):
    # Given a join 1 hour after its Google click (and Meta's too, which takes it at once)
    google, meta = Platform("google_search", {"ok": True}), Platform("meta", {"ok": True})
    platforms = {"google_search": google, "meta": meta}.__getitem__
    early = message(clicked=timedelta(hours=1))
    # When the queue delivers it (twice: at-least-once)
    for _ in range(2):
        statuses = upload_conversion(early, platforms, ledger, held, NOW)
    # Then Meta has it, Google does not yet: it is held for the click's sixth hour, not raised for SQS to retry
    assert statuses == {"google_search": "scheduled", "meta": "skipped"} and google.uploaded == []
    due = NOW + timedelta(hours=5)
    [item] = list(held.due(due))
    assert (item.channel, item.due_at, item.message.channels) == ("google_search", due, ["google_search"])
    # And a sweep before then uploads nothing; the first after it uploads once; later sweeps find nothing
    assert sweep(held, platforms, ledger, due - timedelta(minutes=1)) == {}
    assert sweep(held, platforms, ledger, due + timedelta(minutes=10)) == {"uploaded": 1}
    assert sweep(held, platforms, ledger, due + timedelta(minutes=25)) == {}
    assert len(google.uploaded) == 1 and record(ledger, "j-1", "google_search")["status"] == "uploaded"
    # And a late redelivery of the queue message changes nothing
    assert upload_conversion(early, platforms, ledger, held, due + timedelta(hours=1)) == {
        "google_search": "skipped", "meta": "skipped"}


def test_a_platform_asking_to_come_back_later_gets_it_later_never_a_retry_now(ledger, held):
    google = Platform("google_search", {"ok": False, "retryable": True, "error": "datamanager:CONVERSION_ACTION_TOO_RECENTLY_CREATED",
                                        "retry_after_s": 6 * 3600}, {"ok": True})
    platforms = {"google_search": google}.__getitem__
    # The queue's delivery records it and holds it: no RetryableUploadError, so nothing is dead-lettered
    assert upload_conversion(message(channels=["google_search"]), platforms, ledger, held, NOW) == {
        "google_search": "scheduled"}
    assert sweep(held, platforms, ledger, NOW + timedelta(hours=5)) == {}
    assert sweep(held, platforms, ledger, NOW + timedelta(hours=6)) == {"uploaded": 1}
    assert len(google.uploaded) == 2


def test_the_sweep_retries_with_backoff_then_gives_up_for_good(ledger, held):
    limited = {"ok": False, "retryable": True, "error": "datamanager:RESOURCE_EXHAUSTED"}
    google = Platform("google_search", *[limited] * 3)
    platforms = {"google_search": google}.__getitem__
    held.hold("google_search", message(channels=["google_search"]), NOW)
    # 15, then 30 minutes later: each retryable failure is held again, further off
    assert sweep(held, platforms, ledger, NOW, max_attempts=3) == {"scheduled": 1}
    assert sweep(held, platforms, ledger, NOW + timedelta(minutes=14), max_attempts=3) == {}
    assert sweep(held, platforms, ledger, NOW + timedelta(minutes=15), max_attempts=3) == {"scheduled": 1}
    assert sweep(held, platforms, ledger, NOW + timedelta(minutes=45), max_attempts=3) == {"failed": 1}
    # The third failure is the last: recorded as refused (settled), held no more
    assert {k: record(ledger, "j-1", "google_search")[k] for k in ("status", "retryable", "code", "attempts")} == {
        "status": "failed", "retryable": False, "code": "datamanager:RESOURCE_EXHAUSTED,attract:GAVE_UP", "attempts": 3}
    assert sweep(held, platforms, ledger, NOW + timedelta(days=1), max_attempts=3) == {} and len(google.uploaded) == 3


def test_the_sweep_reads_due_hour_partitions_from_its_cursor_never_a_scan(ledger, held):
    # Given conversions held for 3 different hours
    for hour in (9, 11, 14):
        held.hold("google_search", message(join_id=f"j-{hour}", channels=["google_search"]), NOW.replace(hour=hour))
    calls = []
    dynamodb = held.dynamodb
    dynamodb.meta.events.register("before-parameter-build.dynamodb.*", lambda model, params, **_: calls.append(
        (model.name, params.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S"))))
    try:
        google = Platform("google_search", {"ok": True}, {"ok": True})
        assert sweep(held, {"google_search": google}.__getitem__, ledger, NOW.replace(hour=12)) == {"uploaded": 2}
    finally:
        dynamodb.meta.events.unregister("before-parameter-build.dynamodb.*")
    # Then it Queried each hour up to its own (from 2 days back: no cursor yet), and no Scan
    queried = [pk for name, pk in calls if name == "Query"]
    assert queried[-4:] == [f"CONVERSION_DUE#2026-12-03T{h:02d}" for h in (9, 10, 11, 12)] and len(queried) == 49
    assert "Scan" not in {name for name, _ in calls}
    # And the next sweep starts an hour before its predecessor's hour
    assert dynamodb.get_item(TableName=held.table, Key=CURSOR_KEY)["Item"]["through"]["S"] == "2026-12-03T11"
    assert "Item" in dynamodb.get_item(TableName=held.table, Key=held_key("google_search", "j-14", NOW.replace(hour=14)))


# ---- the delayed path end to end: the real functions, the Data Manager adapter and sandbox, moto's queue


@pytest.fixture
def sweeper(function_env, local_aws):
    """The sweep function; the sweep's cursor starts afresh (tests move its time back and forth)."""
    dynamodb, table = local_aws.client("dynamodb"), local_aws.refs["AttractTable"]
    dynamodb.delete_item(TableName=table, Key=CURSOR_KEY)
    yield function_env("ConversionSweepFunction")
    dynamodb.delete_item(TableName=table, Key=CURSOR_KEY)


def scheduled(at: datetime) -> dict:
    return {**load_event("campaigns/conversion_sweep_schedule"), "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_join_an_hour_after_its_click_is_uploaded_by_the_sweep_6_hours_on_never_dead_lettered(
        sandboxes, datamanager, uploader, sweeper, local_aws):  # sandboxes first: the functions read their endpoints
    # Given a join confirmed 1 hour after its Google click (Google knows the click), on a queue wired like the stack's
    sqs, queue, arn, dlq = new_queue(local_aws)
    clicked = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    join_id, gclid = f"j-{uuid.uuid4()}", f"Cj0KCQ-{uuid.uuid4().hex[:12]}"
    datamanager.record_click(gclid, clicked)
    body = json.dumps({"v": 2, "join_id": join_id, "joined_at": (clicked + timedelta(hours=1)).isoformat(),
                       "channels": ["google_search"], "gclid": gclid, "google_click_at": clicked.isoformat(),
                       "google_email_sha256": google_email_sha256("ada.lovelace@gmail.com")})
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    # When the poller delivers it, and the message comes back once more (at-least-once)
    for delivery in range(2):
        if delivery:
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        [delivered] = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"]
        assert uploader.lambda_handler(sqs_event([delivered], arn), FakeLambdaContext()) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=delivered["ReceiptHandle"])
    # Then nothing went to Google, nothing is left to retry or dead-letter: the conversion is held
    assert datamanager.calls("IngestEvents") == [] and messages(sqs, queue) == [] and messages(sqs, dlq) == []
    store = ConversionRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    assert not store.settled(join_id, "google_search")
    # When the sweep runs 4 hours later, nothing is due; 6 hours after the click (Google's clock agrees), it uploads
    assert sweeper.lambda_handler(scheduled(clicked + timedelta(hours=5)), FakeLambdaContext())["counts"] == {}
    six_hours = clicked + timedelta(hours=6, minutes=10)
    datamanager.clock = lambda: six_hours
    answer = sweeper.lambda_handler(scheduled(six_hours), FakeLambdaContext())
    assert answer["counts"] == {"uploaded": 1}
    [request] = datamanager.calls("IngestEvents")
    assert [(e.transaction_id, e.ad_identifiers.gclid) for e in request.events] == [(join_id, gclid)]
    assert ("555000111", join_id) in datamanager.events  # ingested: no TOO_RECENT_CLICK
    assert record(store, join_id, "google_search")["status"] == "uploaded"
    # And a repeated sweep uploads nothing more
    assert sweeper.lambda_handler(scheduled(six_hours + timedelta(minutes=15)), FakeLambdaContext())["counts"] == {}
    assert len(datamanager.calls("IngestEvents")) == 1


def test_the_template_runs_the_sweep_every_15_minutes_with_least_privilege(local_aws):
    resources = local_aws.template["Resources"]
    sweep_function = resources["ConversionSweepFunction"]["Properties"]
    # Retried for one period, then dead-lettered (issue 17: no scheduled invocation disappears)
    assert sweep_function["Events"]["Sweep"] == {"Type": "Schedule", "Properties": {
        "Schedule": "rate(15 minutes)", "RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 900},
        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}}}}
    grants = {s["Sid"]: s for s in sweep_function["Policies"][0]["Statement"]}
    assert grants["HeldConversions"]["Action"] == ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem",
                                                   "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    assert grants["HeldConversions"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["CONVERSION_DUE#*"]
    assert not any("Scan" in str(s["Action"]) for s in grants.values())
    uploader = {s["Sid"]: s for s in resources["ConversionsFunction"]["Properties"]["Policies"][0]["Statement"]}
    assert uploader["HoldConversions"]["Action"] == ["dynamodb:PutItem"]
