"""Conversion feedback against moto: the joins function enqueues only consented ad joins (never a raw email),
the uploader records each (join, platform) result, retries what may succeed later, and dead-letters poison."""

import hashlib
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from attract.aws import from_item
from attract.campaigns.conversions import ConversionMessage, RetryableUploadError, upload_conversion
from attract.campaigns.conversions_repository import ConversionRepository, conversion_key
from attract.campaigns.models import Conversion, ConversionResult
from attract.campaigns.ports import RateLimited
from attract.identity import email_hash
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
    assert body["email_sha256"] == hashlib.sha256(email.encode()).hexdigest()
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


def record(ledger: ConversionRepository, join_id: str, channel: str) -> dict:
    item = ledger.dynamodb.get_item(TableName=ledger.table, Key=conversion_key(join_id, channel))["Item"]
    return from_item(item)


def message(join_id: str = "j-1", channels=("google_search", "meta"), joined_at: datetime = NOW) -> ConversionMessage:
    return ConversionMessage(join_id=join_id, joined_at=joined_at, channels=list(channels), gclid="G", fbclid="F",
                             fbclid_at=joined_at, email_sha256="a" * 64, client_user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                             event_source_url="https://careers.example.com/join")


def test_each_platform_is_uploaded_once_and_a_redelivery_uploads_nothing(ledger):
    google, meta = Platform("google_search", {"ok": True}), Platform("meta", {"ok": True})
    platforms = {"google_search": google, "meta": meta}
    assert upload_conversion(message(), platforms.__getitem__, ledger, NOW) == {"google_search": "uploaded", "meta": "uploaded"}
    assert upload_conversion(message(), platforms.__getitem__, ledger, NOW) == {"google_search": "skipped", "meta": "skipped"}
    assert len(google.uploaded) == len(meta.uploaded) == 1
    [[sent]] = google.uploaded
    assert isinstance(sent, Conversion) and (sent.join_id, sent.gclid, sent.email_sha256) == ("j-1", "G", "a" * 64)
    assert record(ledger, "j-1", "meta") | {"last_at": None, "first_at": None} == {
        "PK": "CONVERSION#j-1", "SK": "meta", "status": "uploaded", "retryable": False, "code": "-", "attempts": 1,
        "type": "conversion", "last_at": None, "first_at": None}


def test_a_retryable_failure_is_recorded_raised_and_the_retry_uploads_only_what_is_left(ledger):
    google = Platform("google_search", {"ok": True})
    meta = Platform("meta", RateLimited("meta", "too many calls", ["17"]), {"ok": True})
    platforms = {"google_search": google, "meta": meta}
    with pytest.raises(RetryableUploadError) as raised:
        upload_conversion(message(), platforms.__getitem__, ledger, NOW)
    assert raised.value.channels == ["meta"]
    assert (record(ledger, "j-1", "meta")["status"], record(ledger, "j-1", "meta")["code"]) == ("failed", "17")
    assert upload_conversion(message(), platforms.__getitem__, ledger, NOW) == {"google_search": "skipped", "meta": "uploaded"}
    assert len(google.uploaded) == 1 and len(meta.uploaded) == 2
    assert (record(ledger, "j-1", "meta")["status"], record(ledger, "j-1", "meta")["attempts"]) == ("uploaded", 2)


def test_a_refused_conversion_is_recorded_with_its_code_and_never_retried(ledger):
    google = Platform("google_search", {"ok": False, "retryable": False, "error": "EXPIRED_GCLID"})
    platforms = {"google_search": google}
    assert upload_conversion(message(channels=["google_search"]), platforms.__getitem__, ledger, NOW) == {"google_search": "failed"}
    assert upload_conversion(message(channels=["google_search"]), platforms.__getitem__, ledger, NOW) == {"google_search": "skipped"}
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
                       "Resource": {"Fn::GetAtt": ["JoinMailQueue", "Arn"]}}]  # issue 13: capped mails wait there


# ---- the real adapters against their local sandboxes


def test_google_upload_click_conversions_through_the_sandbox(ledger, monkeypatch):
    from attract.providers import google_ads as adapter
    from attract_local.sandboxes import google_ads as sandboxes

    sandbox = sandboxes.GoogleAdsSandbox()
    endpoint = sandbox.start()
    try:
        monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(sandbox.cert_path))
        gateway = adapter.GoogleAdsGateway(sandbox.config(), endpoint)
        statuses = upload_conversion(message(channels=["google_search"]), {"google_search": gateway}.__getitem__, ledger, NOW)
        assert statuses == {"google_search": "uploaded"}
        [request] = [r for method, r in sandbox.received if "UploadClickConversions" in str(method)]
        assert request.partial_failure and request.conversions[0].order_id == "j-1" and request.conversions[0].gclid == "G"
    finally:
        sandbox.stop()


def test_meta_conversions_api_lead_through_the_sandbox(ledger):
    from attract.providers import meta as adapter
    from attract_local.sandboxes import meta as sandboxes

    sandbox = sandboxes.MetaSandbox()
    url = sandbox.start()
    try:
        gateway = adapter.MetaGateway(sandbox.config(), url)
        # The sandbox holds event_time to Meta's window against the wall clock: a join of a moment ago
        joined_at = datetime.now(timezone.utc)
        sent_message = message(channels=["meta"], joined_at=joined_at)
        assert upload_conversion(sent_message, {"meta": gateway}.__getitem__, ledger, joined_at) == {"meta": "uploaded"}
        [event] = sandbox.events
        assert (event["event_name"], event["event_id"], event["user_data"]["em"]) == ("Lead", "j-1", ["a" * 64])
        assert event["user_data"]["client_user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
        assert event["event_source_url"] == "https://careers.example.com/join"
    finally:
        sandbox.stop()


def test_the_handler_uploads_to_both_platforms_through_the_real_adapters(uploader, local_aws, sandboxes):
    google, meta, _, _ = sandboxes  # gateway_for builds the real adapters from the stack's secrets
    event = load_event("campaigns/conversion")
    join_id = f"j-{uuid.uuid4()}"
    joined_at = datetime.now(timezone.utc)  # Meta (and its sandbox) take events of the last 7 days only
    body = json.loads(event["Records"][0]["body"]) | {"join_id": join_id, "joined_at": joined_at.isoformat(),
                                                       "fbclid_at": joined_at.isoformat()}
    event["Records"][0]["body"] = json.dumps(body)
    assert uploader.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    store = ConversionRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))
    assert record(store, join_id, "google_search")["status"] == record(store, join_id, "meta")["status"] == "uploaded"
    [upload] = [r for method, r in google.received if "UploadClickConversions" in str(method)]
    assert upload.partial_failure and upload.conversions[0].order_id == join_id
    sent_to_meta = json.dumps(meta.received, default=str)
    assert join_id in sent_to_meta and body["email_sha256"] in sent_to_meta
    [lead] = [e for e in meta.events if e["event_id"] == join_id]
    assert (lead["user_data"]["client_user_agent"], lead["event_source_url"]) == (body["client_user_agent"], body["event_source_url"])
