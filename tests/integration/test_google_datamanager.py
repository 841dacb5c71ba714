"""Google conversions through the real `google-ads-datamanager` SDK (gRPC, TLS, OAuth) against the local Data
Manager sandbox: the request as sent (destination, consent, hashing, click ids, transaction id), fast-fail
refusals mapped per event, rate limits, validate_only, and the asynchronous diagnostics the sandbox models."""

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from attract.campaigns.models import Conversion
from attract.campaigns.ports import PlatformError, RateLimited
from attract.joins.feedback import email_sha256, google_email_sha256
from attract.providers.google_datamanager import DataManagerUploader
from attract_local.sandboxes.datamanager import DataManagerSandbox
from tests.support import serving_google_sandbox

NOW = datetime(2026, 12, 3, 16, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sandbox():
    with serving_google_sandbox(DataManagerSandbox(customer_id="1234567890", clock=lambda: NOW)) as box:
        yield box


@pytest.fixture(autouse=True)
def _fresh(sandbox):
    sandbox.clear()
    sandbox.clock = lambda: NOW
    yield


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def uploader(sandbox, sleeps):
    return DataManagerUploader(sandbox.config(login_customer_id="987-654-3210"), sandbox.endpoint, timeout_s=10,
                               sleep=sleeps.append)


def join(join_id: str, **fields) -> Conversion:
    return Conversion(join_id=join_id, joined_at=NOW - timedelta(hours=1), **fields)


def test_the_request_as_sent_destination_consent_hashes_click_ids_and_transaction_id(sandbox, uploader):
    # Given joins from a gclid, a gbraid (with a wbraid too) and a hashed email only (enhanced conversions for leads)
    gmail = google_email_sha256("Ada.Lovelace+jobs@gmail.com")
    results = uploader.upload_conversions([
        join("j1", gclid="Cj0KCQ-1", google_email_sha256=gmail, email_sha256=email_sha256("Ada.Lovelace+jobs@gmail.com")),
        join("j2", gbraid="gb-1", wbraid="wb-1"),
        join("j3", google_email_sha256=gmail),
    ])
    # Then one IngestEvents carried them, as Google documents it
    [request] = sandbox.calls("IngestEvents")
    [destination] = request.destinations
    assert (destination.operating_account.account_type.name, destination.operating_account.account_id) == (
        "GOOGLE_ADS", "1234567890")
    assert (destination.login_account.account_id, destination.product_destination_id) == ("9876543210", "555000111")
    assert request.encoding.name == "HEX" and not request.validate_only
    assert [e.transaction_id for e in request.events] == ["j1", "j2", "j3"]
    assert {(e.consent.ad_user_data.name, e.consent.ad_personalization.name) for e in request.events} == {
        ("CONSENT_GRANTED", "CONSENT_DENIED")}
    assert {e.event_source.name for e in request.events} == {"WEB"}
    assert request.events[0].event_timestamp == NOW - timedelta(hours=1)
    first, braid, lead = request.events
    # Google's hash, not Meta's: the Gmail address without its dots and +tag
    assert [u.email_address for u in first.user_data.user_identifiers] == [
        hashlib.sha256(b"adalovelace@gmail.com").hexdigest()]
    assert first.ad_identifiers.gclid == "Cj0KCQ-1"
    assert (braid.ad_identifiers.gbraid, braid.ad_identifiers.wbraid) == ("gb-1", "")  # one click id: the most precise
    assert not lead.ad_identifiers.gclid and lead.user_data.user_identifiers[0].email_address == gmail
    # And each result names the request, which Google ingested
    assert all(r.ok for r in results) and len({r.request_id for r in results}) == 1
    assert set(sandbox.events) == {("555000111", "j1"), ("555000111", "j2"), ("555000111", "j3")}


def test_the_raw_bytes_on_the_wire_hold_hashes_never_an_address(sandbox, uploader):
    address = "ada.lovelace@example.com"
    uploader.upload_conversions([join("j1", google_email_sha256=google_email_sha256(address))])
    [request] = sandbox.calls("IngestEvents")
    wire = type(request).serialize(request)
    assert google_email_sha256(address).encode() in wire and address.encode() not in wire


def test_a_fast_fail_refusal_fails_only_the_events_it_names_and_the_rest_is_sent_again(sandbox, uploader):
    # Given a batch where one hash is not hex and one is too short (the API fails the whole request for either)
    results = uploader.upload_conversions([
        join("ok-1", gclid="G1"), join("bad-hex", google_email_sha256="Z" * 64),
        join("ok-2", gclid="G2"), join("short", google_email_sha256="ab" * 16), join("nothing")])
    # Then each refused event gets its ErrorReason, for good; the others are ingested by a second request
    assert [(r.join_id, r.ok, r.retryable, r.error) for r in results] == [
        ("ok-1", True, False, None), ("bad-hex", False, False, "datamanager:INVALID_HEX_ENCODING"),
        ("ok-2", True, False, None), ("short", False, False, "datamanager:INVALID_SHA256_FORMAT"),
        ("nothing", False, False, "attract:NO_CLICK_ID_OR_EMAIL")]  # never sent: nothing to match on
    first, second = sandbox.calls("IngestEvents")
    assert [e.transaction_id for e in first.events] == ["ok-1", "bad-hex", "ok-2", "short"]
    assert [e.transaction_id for e in second.events] == ["ok-1", "ok-2"]
    assert set(sandbox.events) == {("555000111", "ok-1"), ("555000111", "ok-2")}


def test_a_rate_limit_is_retried_with_backoff_then_surfaces_as_rate_limited(sandbox, uploader, sleeps):
    sandbox.rate_limit_next(2)
    assert uploader.upload_conversions([join("j1", gclid="G1")])[0].ok
    assert len(sleeps) == 2 and len(sandbox.calls("IngestEvents")) == 3
    sandbox.rate_limit_next(5)
    with pytest.raises(RateLimited) as limited:
        uploader.upload_conversions([join("j2", gclid="G2")])
    assert limited.value.codes == ["datamanager:RESOURCE_EXHAUSTED"] and limited.value.retryable
    assert limited.value.request_id  # RequestInfo, for Google's support


def test_a_whole_request_refusal_is_retryable_and_a_too_recent_conversion_action_asks_to_come_back(sandbox, uploader):
    # A refusal naming no event (credentials, destination, an outage) is fixed on Google's or the operator's side
    sandbox.refuse_next("PERMISSION_DENIED")
    with pytest.raises(PlatformError) as refused:
        uploader.upload_conversions([join("j1", gclid="G1")])
    assert refused.value.codes == ["datamanager:PERMISSION_DENIED"] and refused.value.retryable
    # A conversion action created too recently: each conversion comes back 6 hours later, nothing is lost
    sandbox.refuse_next("CONVERSION_ACTION_TOO_RECENTLY_CREATED")
    [result] = uploader.upload_conversions([join("j1", gclid="G1")])
    assert (result.ok, result.retryable, result.retry_after_s) == (False, True, 6 * 3600)
    assert result.error == "datamanager:CONVERSION_ACTION_TOO_RECENTLY_CREATED"


def test_validate_only_checks_and_ingests_nothing(sandbox, uploader):
    [good, bad] = uploader.validate_conversions([join("j1", gclid="G1"), join("j2", google_email_sha256="x")])
    assert good.ok and (bad.ok, bad.error) == (False, "datamanager:INVALID_HEX_ENCODING")
    assert all(r.validate_only for r in sandbox.calls("IngestEvents")) and sandbox.events == {}


def test_the_sandbox_refuses_what_google_refuses_at_once(sandbox, uploader):
    # An event in the future, and a destination that is not this customer's conversion action
    [future] = uploader.upload_conversions([Conversion(join_id="f", joined_at=NOW + timedelta(minutes=5), gclid="G")])
    assert future.error == "datamanager:EVENT_TIME_INVALID"
    wrong = DataManagerUploader(sandbox.config(conversion_action="999"), sandbox.endpoint, timeout_s=10)
    with pytest.raises(PlatformError) as refused:
        wrong.upload_conversions([join("j", gclid="G")])
    assert refused.value.codes == ["datamanager:INVALID_CONVERSION_ACTION_ID"]


def test_asynchronous_diagnostics_a_click_under_6_hours_and_a_duplicate_transaction_id(sandbox, uploader):
    """Accepted is not ingested: Google reports these later through RetrieveRequestStatus, as counts. The delayed
    path exists so that the first never happens; the ledger and transaction_id make the second harmless."""
    from google.ads import datamanager_v1 as dm

    sandbox.record_click("G-recent", NOW - timedelta(hours=1))
    sandbox.record_click("G-old", NOW - timedelta(hours=7))
    [recent] = uploader.upload_conversions([join("j-recent", gclid="G-recent")])
    [old] = uploader.upload_conversions([join("j-old", gclid="G-old")])
    [again] = uploader.upload_conversions([join("j-old", gclid="G-old")])
    assert recent.ok and old.ok and again.ok  # all accepted at once
    assert set(sandbox.events) == {("555000111", "j-old")}  # only the one 6 hours after its click, once

    def diagnostics(request_id):
        [status] = uploader.client.retrieve_request_status(request=dm.RetrieveRequestStatusRequest(request_id=request_id),
                                                           timeout=10).request_status_per_destination
        return status.request_status.name, [(c.reason.name, c.record_count) for c in status.error_info.error_counts]

    assert diagnostics(recent.request_id) == ("FAILED", [("PROCESSING_ERROR_REASON_TOO_RECENT_CLICK", 1)])
    assert diagnostics(old.request_id) == ("SUCCESS", [])
    assert diagnostics(again.request_id) == ("FAILED", [("PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID", 1)])


def test_one_token_refresh_with_the_data_manager_scope_serves_every_call(sandbox, uploader):
    tokens = sandbox.token_requests
    uploader.upload_conversions([join("j1", gclid="G1")])
    uploader.upload_conversions([join("j2", gclid="G2")])
    assert sandbox.token_requests == tokens + 1  # the sandbox refuses a call without its bearer token
    assert uploader.client.transport._credentials.scopes == ["https://www.googleapis.com/auth/datamanager"]
