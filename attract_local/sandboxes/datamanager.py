"""LOCAL SANDBOX of Google's Data Manager API: a gRPC server on 127.0.0.1 speaking the SDK's own wire format.

Not Google: an in-memory fake for tests, `make local` and `make demo`. It serves what the conversions adapter
(`attract.providers.google_datamanager`) calls, `google.ads.datamanager.v1.IngestionService`: IngestEvents
and RetrieveRequestStatus, with request deserialisers and response serialisers taken from
`google.ads.datamanager_v1.types` (the `google-ads-datamanager` package). It models what Google documents:

- Errors (https://developers.google.com/data-manager/api/devguides/concepts/understand-errors): fast fail.
  One invalid event fails the whole request, nothing is ingested, and the status (INVALID_ARGUMENT) carries
  ErrorInfo (reason = an ErrorReason name, domain datamanager.googleapis.com), RequestInfo (request id) and
  BadRequest field violations naming the field (`events[2].user_data.user_identifiers[0].email_address`).
  Checked: destinations (operating account GOOGLE_ADS = the sandbox's customer, product destination id =
  its conversion action), at most 2000 events, event_timestamp present and neither in the future nor older
  than 90 days, an ad identifier or a user identifier on each event, at most 10 user identifiers, the
  request `encoding` with user data, and each hashed identifier in that encoding: 64 hex characters (HEX)
  or the Base64 of 32 bytes (BASE64), per "Format user data"
  (https://developers.google.com/data-manager/api/devguides/concepts/formatting).
- `validate_only`: the same checks, nothing ingested, no request status to retrieve.
- Processing is asynchronous at Google: an accepted request is answered with its request id only, and its
  diagnostics come from RetrieveRequestStatus as counts per destination (ProcessingErrorReason). Here they are
  ready at once: an event without granted ad_user_data consent (its own, else the request's) is
  PROCESSING_ERROR_REASON_DENIED_CONSENT / _UNKNOWN_CONSENT; a transaction id the conversion action already
  has is _DUPLICATE_TRANSACTION_ID; a click (`record_click`) less than 6 hours old at ingestion is
  _TOO_RECENT_CLICK (the Google Ads API's TOO_RECENT_EVENT: "occurred less than 6 hours ago"), one after the
  event is _CONVERSION_PRECEDES_CLICK. Only events without such an error are kept (`events`).
- OAuth: every call needs the bearer token its token endpoint (or the Google Ads sandbox's: same token)
  hands out; TLS with the certificate shared with the Google Ads sandbox (attract_local.sandboxes.google_oauth).
- `clock` is injectable (the 6-hour rule, time windows); failure injection: `rate_limit_next`,
  `unavailable_next`, `refuse_next(reason)`. `received`: every (method, request) in order.
"""

import base64
import binascii
import copy
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
from google.ads.datamanager_v1.types import ingestion_service as _service
from google.ads.datamanager_v1.types import processing_errors as _processing
from google.ads.datamanager_v1.types import request_status_per_destination as _status
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from attract_local.sandboxes.grpc_server import GoogleGrpcSandbox

logger = logging.getLogger("attract_local.sandboxes.datamanager")

DOMAIN = "datamanager.googleapis.com"
MAX_EVENTS = 2000
MAX_DESTINATIONS = 10
MAX_USER_IDENTIFIERS = 10
TOO_RECENT = timedelta(hours=6)
OLDEST_EVENT = timedelta(days=90)
_HEX = re.compile(r"^[0-9a-fA-F]*$")
Reason = _processing.ProcessingErrorReason
Status = _status.RequestStatusPerDestination


@dataclass
class _Fault:
    status: grpc.StatusCode
    reason: str
    message: str


class _Invalid(Exception):
    def __init__(self, status: grpc.StatusCode, reason: str, message: str, fields: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.reason, self.fields = status, reason, fields or []  # fields: (field path, ErrorReason)


class DataManagerSandbox(GoogleGrpcSandbox):
    """A local stand-in for datamanager.googleapis.com: `start()` -> "127.0.0.1:<port>"."""

    SERVICE = "google.ads.datamanager.v1.IngestionService"

    def __init__(self, customer_id: str = "1234567890", conversion_action: str = "555000111",
                 access_token: str = "sandbox-access-token", clock: Callable[[], datetime] | None = None):
        super().__init__(access_token)
        self.customer_id, self.conversion_action = customer_id, conversion_action
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(timezone.utc))
        self.received: list[tuple[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # request metadata per call, without the bearer token
        self.clicks: dict[str, datetime] = {}  # click id (gclid, gbraid, wbraid) -> when Google served that click
        self.events: dict[tuple[str, str], Any] = {}  # (conversion action, transaction id) -> the Event ingested
        self.statuses: dict[str, list[Any]] = {}  # request id -> RequestStatusPerDestination, as retrieved
        self._faults: list[_Fault] = []

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def _handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        return {
            "IngestEvents": grpc.unary_unary_rpc_method_handler(
                self._ingest_events, request_deserializer=_service.IngestEventsRequest.deserialize,
                response_serializer=_service.IngestEventsResponse.serialize),
            "RetrieveRequestStatus": grpc.unary_unary_rpc_method_handler(
                self._retrieve_request_status, request_deserializer=_service.RetrieveRequestStatusRequest.deserialize,
                response_serializer=_service.RetrieveRequestStatusResponse.serialize),
        }

    def start(self, port: int = 0, token_port: int = 0) -> str:
        super().start(port, token_port)
        logger.warning("LOCAL SANDBOX (not Google): Data Manager API fake on %s, OAuth token endpoint %s, customer %s, "
                       "conversion action %s", self.endpoint, self.token_uri, self.customer_id, self.conversion_action)
        return self.endpoint

    def config(self, **overrides) -> dict:
        """The Google secret's fields this API uses (attract.providers.google_auth.GoogleOAuthConfig)."""
        return {"client_id": "sandbox-client", "client_secret": "sandbox-secret", "refresh_token": "sandbox-refresh-token",
                "customer_id": self.customer_id, "conversion_action": self.conversion_action,
                "token_uri": self.token_uri, **overrides}

    # ---- test controls -----------------------------------------------------------------------------------

    def record_click(self, click_id: str, at: datetime | None = None) -> None:
        """Google served this click at `at` (now): the 6-hour rule and CONVERSION_PRECEDES_CLICK apply to it."""
        with self._lock:
            self.clicks[click_id] = at or self.clock()

    def rate_limit_next(self, times: int = 1) -> None:
        self._add(times, _Fault(grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED", "sandbox: quota exceeded"))

    def unavailable_next(self, times: int = 1) -> None:
        self._add(times, _Fault(grpc.StatusCode.UNAVAILABLE, "", "sandbox: service unavailable"))

    def refuse_next(self, reason: str, status: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT) -> None:
        """The next IngestEvents is refused whole with this ErrorReason (no event named)."""
        self._add(1, _Fault(status, reason, f"sandbox: injected {reason}"))

    def calls(self, method: str) -> list[Any]:
        return [request for name, request in self.received if name == method]

    def clear_faults(self) -> None:
        """Drops injected faults not consumed yet (between tests sharing one sandbox), like the other sandboxes."""
        with self._lock:
            self._faults.clear()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.received.clear()
            self.events.clear()
            self.clicks.clear()
            self.statuses.clear()

    def _add(self, times: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    # ---- the RPCs ----------------------------------------------------------------------------------------

    def _begin(self, method: str, request, context) -> str:
        metadata = dict(context.invocation_metadata())
        request_id = uuid.uuid4().hex
        with self._lock:
            self.received.append((method, copy.deepcopy(request)))
            self.headers.append({key: value for key, value in metadata.items() if key != "authorization"})
            fault = self._faults.pop(0) if self._faults and method == "IngestEvents" else None
        if metadata.get("authorization") != f"Bearer {self.access_token}":
            self._abort(context, request_id, _Invalid(grpc.StatusCode.UNAUTHENTICATED, "", "sandbox: no valid token"))
        if fault is not None:
            self._abort(context, request_id, _Invalid(fault.status, fault.reason, fault.message))
        return request_id

    def _ingest_events(self, request, context):
        request_id = self._begin("IngestEvents", request, context)
        now = self.clock()
        try:
            self._validate(request, now)
        except _Invalid as invalid:
            self._abort(context, request_id, invalid)
        if request.validate_only:
            return _service.IngestEventsResponse()
        with self._lock:
            self.statuses[request_id] = [self._ingest(request, destination, now) for destination in request.destinations]
        return _service.IngestEventsResponse(request_id=request_id)

    def _retrieve_request_status(self, request, context):
        request_id = self._begin("RetrieveRequestStatus", request, context)
        with self._lock:
            statuses = self.statuses.get(request.request_id)
        if statuses is None:
            self._abort(context, request_id, _Invalid(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST_ID",
                                                      "sandbox: no such request (validate_only requests have none)"))
        return _service.RetrieveRequestStatusResponse(request_status_per_destination=statuses)

    # ---- fast-fail validation ----------------------------------------------------------------------------

    def _validate(self, request, now: datetime) -> None:
        if not request.destinations:
            raise _refusal("REQUIRED_FIELD_MISSING", [("destinations", "REQUIRED_FIELD_MISSING")])
        if len(request.destinations) > MAX_DESTINATIONS:
            raise _refusal("TOO_MANY_DESTINATIONS", [("destinations", "TOO_MANY_DESTINATIONS")])
        for index, destination in enumerate(request.destinations):
            self._check_destination(destination, f"destinations[{index}]")
        if not request.events:
            raise _refusal("REQUIRED_FIELD_MISSING", [("events", "REQUIRED_FIELD_MISSING")])
        if len(request.events) > MAX_EVENTS:
            raise _refusal("TOO_MANY_EVENTS", [("events", "TOO_MANY_EVENTS")])
        if any(event.user_data.user_identifiers for event in request.events) and request.encoding.name in (
                "ENCODING_UNSPECIFIED", None):
            raise _refusal("REQUIRED_FIELD_MISSING", [("encoding", "REQUIRED_FIELD_MISSING")])
        violations = [violation for index, event in enumerate(request.events)
                      for violation in _event_violations(event, f"events[{index}]", request.encoding.name, now)]
        if violations:
            raise _refusal(violations[0][1], violations)

    def _check_destination(self, destination, path: str) -> None:
        operating = destination.operating_account
        if operating.account_type.name != "GOOGLE_ADS" or not operating.account_id:
            raise _refusal("INVALID_DESTINATION", [(f"{path}.operating_account", "INVALID_DESTINATION")])
        if not re.fullmatch(r"\d{10}", operating.account_id):
            raise _refusal("INVALID_FORMAT", [(f"{path}.operating_account.account_id", "INVALID_FORMAT")])
        if operating.account_id != self.customer_id:
            raise _Invalid(grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED",
                           "sandbox: the caller has no access to this operating account")
        login = destination.login_account
        if login.account_id and (login.account_type.name != "GOOGLE_ADS" or not re.fullmatch(r"\d{10}", login.account_id)):
            raise _refusal("INVALID_DESTINATION", [(f"{path}.login_account", "INVALID_DESTINATION")])
        if destination.product_destination_id != self.conversion_action:
            raise _refusal("INVALID_CONVERSION_ACTION_ID",
                           [(f"{path}.product_destination_id", "INVALID_CONVERSION_ACTION_ID")])

    # ---- asynchronous processing, done at once -----------------------------------------------------------

    def _ingest(self, request, destination, now: datetime):
        errors: Counter[int] = Counter()
        events = [event for event in request.events
                  if not event.destination_references or destination.reference in event.destination_references]
        for event in events:
            reason = self._processing_error(request, event, destination, now)
            if reason is None:
                self.events[(destination.product_destination_id, event.transaction_id)] = copy.deepcopy(event)
            else:
                errors[reason] += 1
        outcome = (Status.RequestStatus.SUCCESS if not errors else Status.RequestStatus.FAILED
                   if sum(errors.values()) == len(events) else Status.RequestStatus.PARTIAL_SUCCESS)
        status = Status(destination=destination, request_status=outcome,
                        events_ingestion_status=Status.IngestEventsStatus(record_count=len(events)))
        if errors:
            status.error_info = _processing.ErrorInfo(error_counts=[
                _processing.ErrorCount(reason=reason, record_count=count) for reason, count in sorted(errors.items())])
        return status

    def _processing_error(self, request, event, destination, now: datetime) -> int | None:
        consent = event.consent.ad_user_data.name
        if consent == "CONSENT_STATUS_UNSPECIFIED":
            consent = request.consent.ad_user_data.name
        if consent == "CONSENT_DENIED":
            return Reason.PROCESSING_ERROR_REASON_DENIED_CONSENT
        if consent != "CONSENT_GRANTED":  # no account default here to fall back on
            return Reason.PROCESSING_ERROR_REASON_UNKNOWN_CONSENT
        if event.transaction_id and (destination.product_destination_id, event.transaction_id) in self.events:
            return Reason.PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID
        ids = event.ad_identifiers
        clicked = next((self.clicks[value] for value in (ids.gclid, ids.gbraid, ids.wbraid) if value in self.clicks), None)
        if clicked is not None and now - clicked < TOO_RECENT:
            return Reason.PROCESSING_ERROR_REASON_TOO_RECENT_CLICK
        if clicked is not None and event.event_timestamp < clicked:
            return Reason.PROCESSING_ERROR_REASON_CONVERSION_PRECEDES_CLICK
        return None

    def _abort(self, context, request_id: str, invalid: _Invalid):
        details = [error_details_pb2.RequestInfo(request_id=request_id)]
        if invalid.reason:
            details.insert(0, error_details_pb2.ErrorInfo(reason=invalid.reason, domain=DOMAIN))
        if invalid.fields:
            details.append(error_details_pb2.BadRequest(field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, reason=reason, description=f"sandbox: {reason}")
                for field, reason in invalid.fields]))
        packed = []
        for detail in details:
            wrapper = any_pb2.Any()
            wrapper.Pack(detail)
            packed.append(wrapper)
        context.abort_with_status(rpc_status.to_status(status_pb2.Status(
            code=invalid.status.value[0], message=str(invalid), details=packed)))


def _refusal(reason: str, fields: list[tuple[str, str]]) -> _Invalid:
    return _Invalid(grpc.StatusCode.INVALID_ARGUMENT, reason, f"sandbox: {reason}", fields)


def _event_violations(event, path: str, encoding: str, now: datetime) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if "event_timestamp" not in event:
        found.append((f"{path}.event_timestamp", "REQUIRED_FIELD_MISSING"))
    elif event.event_timestamp > now or event.event_timestamp < now - OLDEST_EVENT:
        found.append((f"{path}.event_timestamp", "EVENT_TIME_INVALID"))
    ids = event.ad_identifiers
    identifiers = list(event.user_data.user_identifiers)
    if not (ids.gclid or ids.gbraid or ids.wbraid or identifiers):
        found.append((path, "NO_IDENTIFIERS_PROVIDED"))
    if len(identifiers) > MAX_USER_IDENTIFIERS:
        found.append((f"{path}.user_data.user_identifiers", "TOO_MANY_USER_IDENTIFIERS"))
    for index, identifier in enumerate(identifiers):
        kind = type(identifier).pb(identifier).WhichOneof("identifier")
        if kind in ("email_address", "phone_number"):
            problem = _hash_problem(getattr(identifier, kind), encoding)
            if problem:
                found.append((f"{path}.user_data.user_identifiers[{index}].{kind}", problem))
    return found


def _hash_problem(value: str, encoding: str) -> str | None:
    """A SHA-256 hash as "Format user data" requires: hex or Base64 encoded bytes, 32 of them."""
    if encoding == "HEX":
        if not _HEX.match(value) or len(value) % 2:
            return "INVALID_HEX_ENCODING"
        return None if len(value) == 64 else "INVALID_SHA256_FORMAT"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "INVALID_BASE64_ENCODING"
    return None if len(raw) == 32 else "INVALID_SHA256_FORMAT"
