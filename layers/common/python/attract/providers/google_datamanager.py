"""Google conversions through the Data Manager API (`google-ads-datamanager`, gRPC): `IngestionService.IngestEvents`.

The only module that knows the Data Manager API; imported lazily by `attract.campaigns.gateways.uploader_for`.
Since 2026-06-15 the Google Ads API takes no new adopters of offline click conversion import
(`UploadClickConversions`, enhanced conversions for leads included: CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE);
Google's path for them is this API (https://developers.google.com/data-manager/api/devguides/events/google-ads/offline).

A join is one `Event` (https://developers.google.com/data-manager/api/reference/rpc/google.ads.datamanager.v1):
- destination: operating account = the Google Ads customer (`GOOGLE_ADS`), login account = the manager
  account when the secret names one, product destination id = the conversion action id;
- `transaction_id` = the join id: Google deduplicates a conversion action's events on it
  (PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID), so an upload repeated by a retry counts once;
- `event_timestamp` = the confirmation; `ad_identifiers`: one click id, the most precise (gclid, else
  gbraid, else wbraid); `user_data`: the email hashed Google's way (attract.joins.feedback.google_email_sha256:
  Gmail dots and +tags removed), SHA-256 hex, request `encoding` HEX;
- `consent`: ad_user_data GRANTED (only joins with the person's ads consent are ever queued), ad_personalization
  DENIED (they agreed to be counted as a conversion of the ad, not to personalised advertising);
- `event_source` WEB: the join form is on the careers site.

Errors follow the API's fast-fail model (https://developers.google.com/data-manager/api/devguides/concepts/understand-errors):
one invalid event fails the whole request and nothing of it is ingested. The BadRequest field violations
name the events (`events[3]...`); those get their ErrorReason as a non-retryable result and the rest is
sent again, so one bad conversion never blocks the others. A refusal of the whole request (no event named:
destination, credentials, quota, an outage) is a PlatformError; every one of those is worth retrying,
since each is fixed on Google's or the operator's side, never by changing the conversion. RESOURCE_EXHAUSTED
is `RateLimited`, retried here with `with_backoff`. CONVERSION_ACTION_TOO_RECENTLY_CREATED asks to come
back later: a result with `retry_after_s`, which the delayed path honours.

Processing after acceptance is asynchronous: an accepted request's diagnostics (a click too recent, a
duplicate transaction id, consent) are reported by `RetrieveRequestStatus`, as counts per destination, 30
minutes to a day later. Hence the 6-hour wait happens before the upload (attract.campaigns.conversions),
not on Google's answer.
"""

import re
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.ads import datamanager_v1 as dm
from google.api_core import exceptions as core_exceptions
from google.api_core.client_options import ClientOptions
from google.rpc import error_details_pb2

from attract.campaigns.models import GOOGLE_SEARCH, Conversion, ConversionResult
from attract.campaigns.ports import PlatformError, RateLimited, with_backoff
from attract.providers.google_auth import GoogleOAuthConfig, oauth_credentials

PLATFORM = "google_datamanager"
DEFAULT_ENDPOINT = "datamanager.googleapis.com:443"
SCOPES = ["https://www.googleapis.com/auth/datamanager"]
MAX_EVENTS_PER_REQUEST = 2000  # IngestEventsRequest.events: "At most 2000 Event resources"
# "The conversion action was created too recently": the Google Ads API said of the same case "try importing
# again in 6 hours" (ConversionUploadError.TOO_RECENT_CONVERSION_ACTION).
RETRY_LATER_S = {"CONVERSION_ACTION_TOO_RECENTLY_CREATED": 6 * 3600}
_EVENT_INDEX = re.compile(r"^events\[(\d+)\]")

T = TypeVar("T")


def build_client(config: GoogleOAuthConfig, endpoint: str = DEFAULT_ENDPOINT) -> dm.IngestionServiceClient:
    """An IngestionServiceClient over gRPC on `endpoint` (host:port); TLS trusts the system roots or the file in
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (the local sandbox's certificate), like the Google Ads adapter."""
    return dm.IngestionServiceClient(credentials=oauth_credentials(config, SCOPES), transport="grpc",
                                     client_options=ClientOptions(api_endpoint=endpoint))


class DataManagerUploader:
    """`ConversionUploader` for Google: the joins of one Google Ads customer into its conversion action."""

    channel = GOOGLE_SEARCH

    def __init__(self, config: dict, endpoint: str = DEFAULT_ENDPOINT, *, client: dm.IngestionServiceClient | None = None,
                 timeout_s: float = 30.0, attempts: int = 5, backoff_base_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = GoogleOAuthConfig.model_validate(config)
        if not self.config.conversion_action:
            raise ValueError("the Google secret names no conversion_action")
        self.endpoint, self.timeout_s = endpoint, timeout_s
        self.attempts, self.backoff_base_s, self._sleep = attempts, backoff_base_s, sleep
        self._client = client

    @property
    def client(self) -> dm.IngestionServiceClient:
        if self._client is None:
            self._client = build_client(self.config, self.endpoint)
        return self._client

    def upload_conversions(self, conversions: Sequence[Conversion]) -> list[ConversionResult]:
        return self._ingest(conversions, validate_only=False)

    def validate_conversions(self, conversions: Sequence[Conversion]) -> list[ConversionResult]:
        """The same request with `validate_only`: Google checks it and ingests nothing (a dry run)."""
        return self._ingest(conversions, validate_only=True)

    # ---- the request -------------------------------------------------------------------------------------

    def destination(self) -> dm.Destination:
        action = (self.config.conversion_action or "").rsplit("/", 1)[-1]  # an id, or a resource name's last part
        google_ads = dm.ProductAccount.AccountType.GOOGLE_ADS
        destination = dm.Destination(operating_account=dm.ProductAccount(account_type=google_ads,
                                                                         account_id=self.config.customer_id),
                                     product_destination_id=action)
        if self.config.login_customer_id:
            destination.login_account = dm.ProductAccount(account_type=google_ads,
                                                          account_id=self.config.login_customer_id)
        return destination

    @staticmethod
    def event(conversion: Conversion) -> dm.Event:
        event = dm.Event(transaction_id=conversion.join_id, event_timestamp=conversion.joined_at,
                         event_source=dm.EventSource.WEB,
                         consent=dm.Consent(ad_user_data=dm.ConsentStatus.CONSENT_GRANTED,
                                            ad_personalization=dm.ConsentStatus.CONSENT_DENIED))
        # One click id, the most precise: Google attributes the event to that click.
        if conversion.gclid:
            event.ad_identifiers = dm.AdIdentifiers(gclid=conversion.gclid)
        elif conversion.gbraid:
            event.ad_identifiers = dm.AdIdentifiers(gbraid=conversion.gbraid)
        elif conversion.wbraid:
            event.ad_identifiers = dm.AdIdentifiers(wbraid=conversion.wbraid)
        if conversion.google_email_sha256:
            event.user_data = dm.UserData(user_identifiers=[dm.UserIdentifier(email_address=conversion.google_email_sha256)])
        return event

    # ---- sending -----------------------------------------------------------------------------------------

    def _ingest(self, conversions: Sequence[Conversion], *, validate_only: bool) -> list[ConversionResult]:
        results: dict[int, ConversionResult] = {}
        sendable: list[int] = []
        for index, conversion in enumerate(conversions):
            if conversion.gclid or conversion.gbraid or conversion.wbraid or conversion.google_email_sha256:
                sendable.append(index)
            else:
                results[index] = ConversionResult(join_id=conversion.join_id, ok=False, error="attract:NO_CLICK_ID_OR_EMAIL")
        for start in range(0, len(sendable), MAX_EVENTS_PER_REQUEST):
            chunk = sendable[start:start + MAX_EVENTS_PER_REQUEST]
            results |= self._send_chunk([(index, conversions[index]) for index in chunk], validate_only)
        return [results[index] for index in range(len(conversions))]

    def _send_chunk(self, items: list[tuple[int, Conversion]], validate_only: bool) -> dict[int, ConversionResult]:
        """Sends the chunk; events the API refuses by name are taken out and the rest sent again (fast fail)."""
        results: dict[int, ConversionResult] = {}
        for _ in range(len(items)):  # each refusal takes out at least one event
            if not items:
                break
            try:
                refused = self._refused_events([conversion for _, conversion in items], validate_only)
            except PlatformError as error:
                if not _later(error.codes):
                    raise
                # Refused whole, to come back later (a conversion action created too recently): each one held
                refused = {position: (error.codes, error.request_id) for position in range(len(items))}
            if isinstance(refused, str):  # accepted: the request id
                results |= {index: ConversionResult(join_id=c.join_id, ok=True, request_id=refused or None)
                            for index, c in items}
                break
            for position, (codes, request_id) in refused.items():
                index, conversion = items[position]
                later = _later(codes)
                results[index] = ConversionResult(join_id=conversion.join_id, ok=False, error=",".join(codes),
                                                  request_id=request_id, retryable=bool(later), retry_after_s=later)
            items = [item for position, item in enumerate(items) if position not in refused]
        return results

    def _refused_events(self, conversions: list[Conversion],
                        validate_only: bool) -> str | dict[int, tuple[list[str], str | None]]:
        """The request id when accepted, else the refused events' reasons by position in `conversions`."""
        request = dm.IngestEventsRequest(destinations=[self.destination()], events=[self.event(c) for c in conversions],
                                         encoding=dm.Encoding.HEX, validate_only=validate_only)
        try:
            response = self._call(lambda: self.client.ingest_events(request=request, retry=None, timeout=self.timeout_s))
        except _EventsRefused as refused:
            if max(refused.by_event) >= len(conversions):  # not an event of this request: refuse it whole
                raise PlatformError(PLATFORM, "the Data Manager API refused an event the request does not have",
                                    ["attract:UNKNOWN_EVENT_INDEX"], retryable=True) from None
            return refused.by_event
        return response.request_id

    def _call(self, call: Callable[[], T]) -> T:
        """`call()` with errors mapped; rate limits retried with backoff (a refused request ingested nothing)."""
        return with_backoff(lambda: _mapped(call), attempts=self.attempts, base_s=self.backoff_base_s, sleep=self._sleep)


def _later(codes: Sequence[str]) -> int | None:
    """Seconds after which Google asks to send again, when a code says so."""
    return max((RETRY_LATER_S.get(code.removeprefix("datamanager:"), 0) for code in codes), default=0) or None


class _EventsRefused(Exception):
    """A fast-fail refusal naming events: nothing of the request was ingested."""

    def __init__(self, by_event: dict[int, tuple[list[str], str | None]]):
        super().__init__(f"{len(by_event)} events refused")
        self.by_event = by_event


def _mapped(call: Callable[[], T]) -> T:
    try:
        return call()
    except core_exceptions.GoogleAPICallError as error:
        raise _platform_error(error) from None


def _platform_error(error: core_exceptions.GoogleAPICallError) -> Exception:
    """`_EventsRefused` when the violations name events only, else a PlatformError (RateLimited for quota)."""
    details = list(error.details or [])
    request_id = next((d.request_id for d in details if isinstance(d, error_details_pb2.RequestInfo)), None)
    reason = next((d.reason for d in details if isinstance(d, error_details_pb2.ErrorInfo)), None)
    violations = [v for d in details if isinstance(d, error_details_pb2.BadRequest) for v in d.field_violations]
    status = error.grpc_status_code
    by_event: dict[int, tuple[list[str], str | None]] = {}
    for violation in violations:
        index = _EVENT_INDEX.match(violation.field)
        if index is None:
            break
        by_event.setdefault(int(index.group(1)), ([], request_id))[0].append(
            f"datamanager:{violation.reason or reason or 'INVALID_EVENT'}")
    else:
        if status == grpc.StatusCode.INVALID_ARGUMENT and by_event:
            return _EventsRefused(by_event)
    codes = [f"datamanager:{reason}"] if reason else [f"grpc:{status.name if status else 'UNKNOWN'}"]
    message = str(error.message or "the Data Manager API refused the request")
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return RateLimited(PLATFORM, message, codes, request_id)
    # Nothing in a conversion causes a whole-request refusal: credentials, destination, quota or an outage, each
    # fixed by Google or the operator. The delayed path retries it for about a day before giving up.
    return PlatformError(PLATFORM, message, codes, request_id, retryable=True)
