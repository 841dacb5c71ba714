"""LOCAL SANDBOX of the Google Ads API: a gRPC server on 127.0.0.1 speaking the SDK's own wire format.

Not Google: an in-memory fake for tests, `make local` and `make demo`. It serves the services our
adapter (`attract.providers.google_ads`) calls, in the same API version, with request deserialisers
and response serialisers taken from `google.ads.googleads.<version>.services.types`:
GoogleAdsService (Search, SearchStream, Mutate). Conversions go through the Data Manager API, whose sandbox
is attract_local.sandboxes.datamanager (UploadClickConversions takes no new adopters: docs/decisions.md).

- TLS with a self-signed certificate for 127.0.0.1/localhost (`cert_path`). Clients trust it through
  GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, which gRPC reads once per process at its first TLS channel: the
  certificate is therefore made once per process and shared by every sandbox of that process
  (attract_local.sandboxes.google_oauth, with the Data Manager sandbox).
- OAuth: `token_uri` is a plain-HTTP token endpoint answering refresh-token grants with `access_token`;
  every RPC must carry that bearer token. A developer token is neither required nor checked: Google sunset
  them on 2026-09-09 and ignores the header since.
- Mutate is atomic, resolves temporary (negative) ids, gives real resource names
  (customers/{cid}/campaigns/{id}, campaignCriteria/{campaign}~{criterion}, adGroupAds/{ad_group}~{ad}).
  With `validate_only` it validates everything, creates nothing and answers an empty response.
- What Google documents and refuses, it refuses here (docs/platforms.md lists each rule with its source):
  a campaign without the EU political advertising declaration, a start or end in the past in the
  account's time zone (`time_zone`, `clock`), an end after the system's last date, a keyword of more
  than 10 words or 80 characters, the responsive search ad limits.
- Ad review: each created ad gets a policy summary at once (Google reviews within a day). An ad whose
  final URL lands on another site than its own (a redirect to another domain) is DISAPPROVED with a
  DESTINATION_MISMATCH topic; the sandbox follows redirects of loopback http URLs only (a local
  redirect service), and takes any other URL as landing where it says.
- Search/SearchStream understand the few GAQL shapes the adapter sends (SELECT fields FROM resource
  WHERE a = 'x' AND b != 'Y' AND segments.date BETWEEN 'd1' AND 'd2'); anything else is UNIMPLEMENTED.
- Auto-tagging (`auto_tagging_enabled`, on by default as in new Google Ads accounts): `ad_click` gives
  the landing URL with a gclid only when it is on, as Google does.
- Spend: every created campaign gets made-up daily metrics for today and the two days before (UTC);
  `set_spend` sets exact figures for a day.
- Failure injection: `fail_next` (a GoogleAdsFailure in the trailing metadata, as Google sends it),
  `rate_limit_next` (RESOURCE_EXHAUSTED with a quota_error), `lose_next_response` (applies the call, then
  answers UNAVAILABLE: a response lost on the way back).
- `received`: every (method, request) in order.
"""

import copy
import datetime as dt
import itertools
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPConnection
from importlib import import_module
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import grpc

from attract.providers.google_ads import API_VERSION, FAILURE_METADATA_KEY
from attract_local.sandboxes.grpc_server import GoogleGrpcSandbox

logger = logging.getLogger("attract_local.sandboxes.google_ads")

_PACKAGE = f"google.ads.googleads.{API_VERSION}"
_services = import_module(f"{_PACKAGE}.services.types.google_ads_service")
_errors = import_module(f"{_PACKAGE}.errors.types.errors")
_policy = import_module(f"{_PACKAGE}.common.types.policy")

# Campaign dates are "yyyy-MM-dd HH:mm:ss" in the account's time zone (Campaign.start_date_time, end_date_time).
_DATE_TIME = "%Y-%m-%d %H:%M:%S"
# The system's last date: a campaign ending then runs indefinitely (Campaign.end_date until v22).
_LAST_DATE_TIME = dt.datetime(2037, 12, 30, 23, 59, 59)
# KeywordInfo.text: "at most 80 characters and 10 words".
_KEYWORD_MAX_CHARACTERS, _KEYWORD_MAX_WORDS = 80, 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

# operation field of MutateOperation -> (collection in resource names, result field, parent reference field)
_KINDS = {
    "campaign_budget_operation": ("campaignBudgets", "campaign_budget_result", None),
    "campaign_operation": ("campaigns", "campaign_result", "campaign_budget"),
    "campaign_criterion_operation": ("campaignCriteria", "campaign_criterion_result", "campaign"),
    "ad_group_operation": ("adGroups", "ad_group_result", "campaign"),
    "ad_group_criterion_operation": ("adGroupCriteria", "ad_group_criterion_result", "ad_group"),
    "ad_group_ad_operation": ("adGroupAds", "ad_group_ad_result", "ad_group"),
}
_PARENT_COLLECTION = {"campaign_budget": "campaignBudgets", "campaign": "campaigns", "ad_group": "adGroups"}
_CONDITION = re.compile(r"([\w.]+)\s+(=|!=|BETWEEN)\s+'((?:\\.|[^'\\])*)'(?:\s+AND\s+'((?:\\.|[^'\\])*)')?",
                        re.IGNORECASE)
_QUERY = re.compile(r"^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?\s*$", re.IGNORECASE | re.DOTALL)


class _Refused(Exception):
    """A request the sandbox refuses like Google would: a GoogleAdsFailure with these errors."""

    def __init__(self, *errors: tuple[str, str, str, list[tuple[str, int | None]]]):
        super().__init__(errors[0][2] if errors else "refused")
        self.errors = errors  # (error_code field, enum name, message, field path)


@dataclass
class _Fault:
    kind: str  # "failure" | "rate_limit" | "lose_response" | "pass"
    code_field: str = ""
    code_name: str = ""
    message: str = ""
    status: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT


# Google never reuses an id. The stack's DynamoDB (moto) lives as long as the process, and the spend
# registry refuses a platform id already registered to another campaign: a restarted sandbox must not
# hand out its predecessor's ids again.
_IDS = itertools.count(700_000_001)


class GoogleAdsSandbox(GoogleGrpcSandbox):
    """A local stand-in for googleads.googleapis.com: `start()` -> "127.0.0.1:<port>"."""

    SERVICE = f"{_PACKAGE}.services.GoogleAdsService"
    MAX_WORKERS = 8

    def __init__(self, customer_id: str = "1234567890", currency: str = "EUR",
                 access_token: str = "sandbox-access-token", time_zone: str = "Europe/Berlin",
                 auto_tagging_enabled: bool = True):
        super().__init__(access_token)
        self.customer_id, self.currency, self.time_zone = customer_id, currency, time_zone
        self.auto_tagging_enabled = auto_tagging_enabled
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)  # tests may set it
        self.received: list[tuple[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # request metadata per call, without the bearer token
        self.resources: dict[str, dict[str, Any]] = {kind[0]: {} for kind in _KINDS.values()}
        self.spend_by_day: dict[tuple[str, str], tuple[int, int, int]] = {}  # (campaign id, day) -> micros, clicks, impr.
        self.failure_request_ids: list[str] = []  # request ids of the GoogleAdsFailures sent
        self._faults: dict[str, list[_Fault]] = {}
        self._ids = _IDS  # shared: ids are never reused, not even by another sandbox in this process

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def _handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        return {
            "Search": grpc.unary_unary_rpc_method_handler(
                self._search, request_deserializer=_services.SearchGoogleAdsRequest.deserialize,
                response_serializer=_services.SearchGoogleAdsResponse.serialize),
            "SearchStream": grpc.unary_stream_rpc_method_handler(
                self._search_stream, request_deserializer=_services.SearchGoogleAdsStreamRequest.deserialize,
                response_serializer=_services.SearchGoogleAdsStreamResponse.serialize),
            "Mutate": grpc.unary_unary_rpc_method_handler(
                self._mutate, request_deserializer=_services.MutateGoogleAdsRequest.deserialize,
                response_serializer=_services.MutateGoogleAdsResponse.serialize),
        }

    def start(self, port: int = 0, token_port: int = 0) -> str:
        super().start(port, token_port)
        logger.warning("LOCAL SANDBOX (not Google): Google Ads API %s fake on %s, OAuth token endpoint %s, "
                       "customer %s, trust %s", API_VERSION, self.endpoint, self.token_uri, customer_id_dashed(
                           self.customer_id), self.cert_path)
        return self.endpoint

    def config(self, **overrides) -> dict:
        """A Google Ads secret (attract.providers.google_ads.GoogleAdsConfig) that works against this sandbox."""
        return {"developer_token": "sandbox-developer-token", "client_id": "sandbox-client",
                "client_secret": "sandbox-secret", "refresh_token": "sandbox-refresh-token",
                "login_customer_id": self.customer_id, "customer_id": self.customer_id,
                "token_uri": self.token_uri, **overrides}

    # ---- test controls -----------------------------------------------------------------------------------

    def fail_next(self, method: str, error_code_field: str, error_enum_name: str, *, message: str = "",
                  status: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT, after: int = 0) -> None:
        """The next `method` call (after `after` good ones) fails with a GoogleAdsFailure.

        E.g. ("Mutate", "campaign_budget_error", "DUPLICATE_NAME"): Google's error_code oneof field and enum name.
        """
        for _ in range(after):
            self._add(method, _Fault("pass"))
        self._add(method, _Fault("failure", error_code_field, error_enum_name,
                                 message or f"sandbox: injected {error_code_field}.{error_enum_name}", status))

    def rate_limit_next(self, method: str, times: int = 1) -> None:
        for _ in range(times):
            self._add(method, _Fault("rate_limit", "quota_error", "RESOURCE_EXHAUSTED",
                                     "sandbox: too many requests", grpc.StatusCode.RESOURCE_EXHAUSTED))

    def lose_next_response(self, method: str) -> None:
        """The next `method` call is applied, then answered UNAVAILABLE (the response lost on the way)."""
        self._add(method, _Fault("lose_response", status=grpc.StatusCode.UNAVAILABLE))

    def set_spend(self, campaign_id: str, day: dt.date, cost_micros: int, clicks: int, impressions: int) -> None:
        with self._lock:
            self.spend_by_day[(str(campaign_id), day.isoformat())] = (cost_micros, clicks, impressions)

    def clear_faults(self) -> None:
        """Drops injected faults not consumed yet (between tests sharing one sandbox)."""
        with self._lock:
            self._faults.clear()

    def ad_click(self, campaign_id: str) -> tuple[str, str | None]:
        """(landing URL, gclid) of a click on the campaign's ad, as Google serves it: the final URL, the
        campaign's final URL suffix and, with auto-tagging on, a gclid (else None). For the demo's "clicks"."""
        with self._lock:
            campaign = self.resources["campaigns"][f"customers/{self.customer_id}/campaigns/{campaign_id}"]
            ad = next(ad for ad in self.resources["adGroupAds"].values()
                      if self.resources["adGroups"][ad.ad_group].campaign == campaign.resource_name)
        gclid = "Sbx" + uuid.uuid4().hex if self.auto_tagging_enabled else None  # local: never a real click id
        url = ad.ad.final_urls[0]
        for part in (campaign.final_url_suffix.replace("{gclid}", gclid or ""), f"gclid={gclid}" if gclid else ""):
            if part:
                url += ("&" if "?" in url else "?") + part
        return url, gclid

    def calls(self, method: str) -> list[Any]:
        return [request for name, request in self.received if name == method]

    def _add(self, method: str, fault: _Fault) -> None:
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    # ---- the RPCs ----------------------------------------------------------------------------------------

    def _begin(self, method: str, request, context) -> _Fault | None:
        """Records the call, checks credentials, applies an injected fault. Returns a fault to apply later."""
        metadata = dict(context.invocation_metadata())
        with self._lock:
            self.received.append((method, copy.deepcopy(request)))
            self.headers.append({key: value for key, value in metadata.items() if key != "authorization"})
            queue = self._faults.get(method)
            fault = queue.pop(0) if queue else None
        if metadata.get("authorization") != f"Bearer {self.access_token}":
            self._abort(context, grpc.StatusCode.UNAUTHENTICATED, _Refused(
                ("authentication_error", "AUTHENTICATION_ERROR", "sandbox: missing or unknown credentials", [])))
        if getattr(request, "customer_id", self.customer_id) != self.customer_id:
            self._abort(context, grpc.StatusCode.PERMISSION_DENIED, _Refused(
                ("authorization_error", "USER_PERMISSION_DENIED", "sandbox: not this sandbox's customer", [])))
        if fault is not None and fault.kind in ("failure", "rate_limit"):
            self._abort(context, fault.status, _Refused((fault.code_field, fault.code_name, fault.message, [])))
        return fault

    def _finish(self, context, fault: _Fault | None) -> None:
        if fault is not None and fault.kind == "lose_response":
            context.abort(grpc.StatusCode.UNAVAILABLE, "sandbox: connection reset after the call was applied")
        context.set_trailing_metadata((("request-id", _request_id()),))

    def _abort(self, context, status: grpc.StatusCode, refused: _Refused):
        failure = _errors.GoogleAdsFailure(request_id=_request_id(), errors=[
            {"error_code": {field: name}, "message": message,
             "location": {"field_path_elements": [{"field_name": f, "index": i} if i is not None else {"field_name": f}
                                                  for f, i in path]}}
            for field, name, message, path in refused.errors])
        with self._lock:
            self.failure_request_ids.append(failure.request_id)
        context.set_trailing_metadata(((FAILURE_METADATA_KEY, _errors.GoogleAdsFailure.serialize(failure)),
                                       ("request-id", failure.request_id)))
        context.abort(status, "; ".join(error[2] for error in refused.errors))

    def _mutate(self, request, context):
        fault = self._begin("Mutate", request, context)
        # Reviewed before the lock: reading a final URL may call a local service that calls the sandbox.
        reviews = {} if request.validate_only else {url: _review(url) for url in _created_final_urls(request)}
        try:
            with self._lock:
                responses = self._apply(request, reviews, commit=not request.validate_only)
        except _Refused as refused:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, refused)
        self._finish(context, fault)
        if request.validate_only:  # "Mutates only return errors, not results"
            return _services.MutateGoogleAdsResponse()
        return _services.MutateGoogleAdsResponse(mutate_operation_responses=responses)

    def _search(self, request, context):
        fault = self._begin("Search", request, context)
        rows = self._query(request.query, context)
        self._finish(context, fault)
        return _services.SearchGoogleAdsResponse(results=rows)

    def _search_stream(self, request, context):
        fault = self._begin("SearchStream", request, context)
        rows = self._query(request.query, context)
        for start in range(0, max(len(rows), 1), 10_000):
            yield _services.SearchGoogleAdsStreamResponse(results=rows[start:start + 10_000],
                                                          request_id=_request_id())
        self._finish(context, fault)

    # ---- mutate: atomic, temporary ids resolved ----------------------------------------------------------

    def _apply(self, request, reviews: dict[str, Any], *, commit: bool) -> list:
        staged = {collection: dict(items) for collection, items in self.resources.items()}
        temporary: dict[str, str] = {}
        responses = []
        for index, operation in enumerate(request.mutate_operations):
            field = type(operation).pb(operation).WhichOneof("operation")
            if field not in _KINDS:
                raise _Refused(("mutate_error", "MUTATE_NOT_ALLOWED", f"sandbox: {field} is not served",
                                [("mutate_operations", index)]))
            collection, result_field, parent_field = _KINDS[field]
            inner = getattr(operation, field)
            path = [("mutate_operations", index), (field, None)]
            action = type(inner).pb(inner).WhichOneof("operation")
            if action == "create":
                name = self._create(collection, parent_field, copy.deepcopy(inner.create), staged, temporary, path)
                if collection == "adGroupAds":
                    ad = staged[collection][name]
                    ad.policy_summary = reviews.get(ad.ad.final_urls[0], _approved())
            elif action == "update":
                name = self._update(collection, inner.update, list(inner.update_mask.paths), staged, path)
            elif action == "remove":
                name = inner.remove
                stored = self._existing(staged, collection, name, path)
                stored.status = type(stored.status).REMOVED
            else:
                raise _Refused(("mutate_error", "MUTATE_NOT_ALLOWED", "sandbox: empty operation", path))
            responses.append(_services.MutateOperationResponse(**{result_field: {"resource_name": name}}))
        if not commit:
            return responses
        self.resources = staged
        for name, campaign in staged["campaigns"].items():
            if name in temporary.values():
                self._seed_spend(str(campaign.id))
        return responses

    def _create(self, collection, parent_field, resource, staged, temporary, path) -> str:
        if parent_field is not None:
            reference = temporary.get(getattr(resource, parent_field), getattr(resource, parent_field))
            self._existing(staged, _PARENT_COLLECTION[parent_field], reference, [*path, (parent_field, None)])
            setattr(resource, parent_field, reference)
        new_id = next(self._ids)
        if collection == "campaigns":
            self._check_campaign(resource, staged, path)
        if collection == "adGroups" and any(
                other.campaign == resource.campaign and other.name == resource.name and other.status.name != "REMOVED"
                for other in staged["adGroups"].values()):
            raise _Refused(("ad_group_error", "DUPLICATE_ADGROUP_NAME", "sandbox: ad group name taken", path))
        if collection == "adGroupAds":
            self._check_ad(resource.ad, [*path, ("ad", None)])
        if collection == "adGroupCriteria" and "keyword" in resource:
            _check_keyword(resource.keyword, [*path, ("keyword", None), ("text", None)])
        key = {"campaignCriteria": f"{_last(getattr(resource, 'campaign', ''))}~{new_id}",
               "adGroupCriteria": f"{_last(getattr(resource, 'ad_group', ''))}~{new_id}",
               "adGroupAds": f"{_last(getattr(resource, 'ad_group', ''))}~{new_id}"}.get(collection, str(new_id))
        name = f"customers/{self.customer_id}/{collection}/{key}"
        if resource.resource_name:
            temporary[resource.resource_name] = name
        resource.resource_name = name
        if collection == "adGroupAds":
            resource.ad.id = new_id
            resource.ad.resource_name = f"customers/{self.customer_id}/ads/{new_id}"
        elif collection in ("campaignCriteria", "adGroupCriteria"):
            resource.criterion_id = new_id
        else:
            resource.id = new_id
        staged[collection][name] = resource
        return name

    def _check_campaign(self, campaign, staged, path) -> None:
        pb = type(campaign).pb(campaign)
        if not campaign.name:
            raise _Refused(("field_error", "REQUIRED", "sandbox: name required", [*path, ("name", None)]))
        if pb.WhichOneof("campaign_bidding_strategy") is None:
            raise _Refused(("field_error", "REQUIRED", "sandbox: a bidding strategy is required", path))
        if campaign.contains_eu_political_advertising.name in ("UNSPECIFIED", "UNKNOWN"):
            # https://developers.google.com/google-ads/api/docs/api-policy/eu-par: a create without it fails
            raise _Refused(("field_error", "REQUIRED", "sandbox: declare contains_eu_political_advertising",
                            [*path, ("contains_eu_political_advertising", None)]))
        self._check_dates(campaign, path)
        if any(other.name == campaign.name and other.status.name != "REMOVED" for other in staged["campaigns"].values()):
            raise _Refused(("campaign_error", "DUPLICATE_CAMPAIGN_NAME", "sandbox: campaign name taken",
                            [*path, ("name", None)]))

    def _check_dates(self, campaign, path) -> None:
        """Start and end in the account's time zone: neither in the past, the end not after the last date."""
        now = self.clock().astimezone(ZoneInfo(self.time_zone)).replace(tzinfo=None)
        start, end = (_date_time(campaign, field, path) for field in ("start_date_time", "end_date_time"))
        for field, value in (("start_date_time", start), ("end_date_time", end)):
            if value is not None and value < now:
                raise _Refused(("campaign_error", "CANNOT_SET_DATE_TO_PAST",
                                f"sandbox: {field} is in the past in {self.time_zone}", [*path, (field, None)]))
        if end is not None and end > _LAST_DATE_TIME:
            raise _Refused(("date_range_error", "AFTER_MAXIMUM_ALLOWABLE_DATE", "sandbox: ends after 2037-12-30",
                            [*path, ("end_date_time", None)]))
        if start is not None and end is not None and start > end:
            raise _Refused(("date_range_error", "START_DATE_AFTER_END_DATE", "sandbox: starts after its end",
                            [*path, ("start_date_time", None)]))

    def _check_ad(self, ad, path) -> None:
        """Google's responsive search ad limits: 3-15 headlines of <= 30 characters, 2-4 descriptions of <= 90."""
        if not ad.final_urls:
            raise _Refused(("field_error", "REQUIRED", "sandbox: final_urls required", [*path, ("final_urls", None)]))
        rsa = ad.responsive_search_ad
        for field, low, high, longest in (("headlines", 3, 15, 30), ("descriptions", 2, 4, 90)):
            assets = list(getattr(rsa, field))
            where = [*path, ("responsive_search_ad", None), (field, None)]
            if not low <= len(assets) <= high:
                raise _Refused(("collection_size_error", "TOO_FEW" if len(assets) < low else "TOO_MANY",
                                f"sandbox: {low}-{high} {field}", where))
            for index, asset in enumerate(assets):
                if len(asset.text) > longest:
                    raise _Refused(("string_length_error", "TOO_LONG", f"sandbox: {field} of <= {longest} characters",
                                    [*where[:-1], (field, index)]))

    def _update(self, collection, update, mask: list[str], staged, path) -> str:
        stored = copy.deepcopy(self._existing(staged, collection, update.resource_name, path))
        if not mask:
            raise _Refused(("field_mask_error", "FIELD_MASK_MISSING", "sandbox: update_mask required", path))
        for field_path in mask:
            *parents, leaf = field_path.split(".")
            source, target = update, stored
            for part in parents:
                source, target = getattr(source, part), getattr(target, part)
            setattr(target, leaf, getattr(source, leaf))
        staged[collection][update.resource_name] = stored
        return update.resource_name

    def _existing(self, staged, collection: str, name: str, path):
        found = staged[collection].get(name)
        if found is None:
            raise _Refused(("mutate_error", "RESOURCE_NOT_FOUND", f"sandbox: {name or 'nothing'} not found", path))
        return found

    def _seed_spend(self, campaign_id: str) -> None:
        today = dt.datetime.now(dt.timezone.utc).date()
        for back in range(3):
            day = today - dt.timedelta(days=back)
            clicks = 5 + (int(campaign_id) + day.toordinal()) % 20
            self.spend_by_day.setdefault((campaign_id, day.isoformat()), (clicks * 1_230_000, clicks, clicks * 25))

    # ---- GAQL, minimally ---------------------------------------------------------------------------------

    def _query(self, query: str, context) -> list:
        parsed = _QUERY.match(query)
        if parsed is None or parsed.group(2) not in ("campaign", "ad_group", "ad_group_ad", "customer"):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "sandbox: this GAQL is beyond the local sandbox")
            raise AssertionError("unreachable")
        where = (parsed.group(3) or "").strip()
        conditions = list(_CONDITION.finditer(where))
        # Every condition must be one we understand, joined by AND: a fake that ignored a filter would lie.
        if where and not re.fullmatch(r"\s+AND\s+".join(re.escape(match.group(0)) for match in conditions), where,
                                      re.IGNORECASE):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "sandbox: this WHERE is beyond the local sandbox")
        fields = [field.strip() for field in parsed.group(1).split(",")]
        with self._lock:
            rows = [row for row in self._rows(parsed.group(2), conditions)
                    if all(_matches(row, match) for match in conditions)]
        return [_project(row, fields) for row in rows]

    def _rows(self, resource: str, conditions) -> list:
        customer = {"id": int(self.customer_id), "currency_code": self.currency, "time_zone": self.time_zone,
                    "auto_tagging_enabled": self.auto_tagging_enabled, "resource_name": f"customers/{self.customer_id}"}
        if resource == "customer":
            return [_services.GoogleAdsRow(customer=customer)]
        campaigns = self.resources["campaigns"]
        rows = []
        if resource == "campaign":
            dated = any(match.group(1) == "segments.date" for match in conditions)
            for campaign in campaigns.values():
                if not dated:
                    rows.append(_services.GoogleAdsRow(campaign=campaign, customer=customer))
                    continue
                for (campaign_id, day), (micros, clicks, impressions) in sorted(self.spend_by_day.items()):
                    if campaign_id == str(campaign.id):
                        rows.append(_services.GoogleAdsRow(campaign=campaign, customer=customer, segments={"date": day},
                                                           metrics={"cost_micros": micros, "clicks": clicks,
                                                                    "impressions": impressions}))
        elif resource == "ad_group":
            for ad_group in self.resources["adGroups"].values():
                rows.append(_services.GoogleAdsRow(ad_group=ad_group, campaign=campaigns[ad_group.campaign],
                                                   customer=customer))
        elif resource == "ad_group_ad":
            for ad in self.resources["adGroupAds"].values():
                ad_group = self.resources["adGroups"][ad.ad_group]
                rows.append(_services.GoogleAdsRow(ad_group_ad=ad, ad_group=ad_group,
                                                   campaign=campaigns[ad_group.campaign], customer=customer))
        return rows

def _date_time(campaign, field: str, path) -> dt.datetime | None:
    if field not in campaign:
        return None
    try:
        return dt.datetime.strptime(getattr(campaign, field), _DATE_TIME)
    except ValueError:
        raise _Refused(("date_error", "INVALID_STRING_DATE_TIME_SECONDS", f"sandbox: {field} is not yyyy-mm-dd hh:mm:ss",
                        [*path, (field, None)])) from None


def _check_keyword(keyword, path) -> None:
    if len(keyword.text) > _KEYWORD_MAX_CHARACTERS:
        raise _Refused(("criterion_error", "KEYWORD_TEXT_TOO_LONG", "sandbox: a keyword has at most 80 characters", path))
    if len(keyword.text.split()) > _KEYWORD_MAX_WORDS:
        raise _Refused(("criterion_error", "KEYWORD_HAS_TOO_MANY_WORDS", "sandbox: a keyword has at most 10 words",
                        path))


# ---- ad review: destination mismatch ---------------------------------------------------------------------

def _created_final_urls(request) -> set[str]:
    return {operation.ad_group_ad_operation.create.ad.final_urls[0] for operation in request.mutate_operations
            if operation.ad_group_ad_operation.create.ad.final_urls}


def _review(final_url: str):
    """The policy summary Google's review gives an ad with this final URL: disapproved when it lands on another
    site (https://support.google.com/adspolicy/answer/6368661, "Destination mismatch")."""
    if _site(_landing_host(final_url)) == _site(urlsplit(final_url).hostname or ""):
        return _approved()
    entry = _policy.PolicyTopicEntry(topic="DESTINATION_MISMATCH", type_="PROHIBITED", evidences=[
        {"destination_mismatch": {"url_types": ["FINAL_URL"]}}])
    return {"approval_status": "DISAPPROVED", "review_status": "REVIEWED", "policy_topic_entries": [entry]}


def _approved() -> dict:
    return {"approval_status": "APPROVED", "review_status": "REVIEWED"}


def _landing_host(url: str, hops: int = 5) -> str:
    """The host a URL finally lands on. Loopback http URLs are requested and their redirects followed (never
    beyond loopback: the sandbox reaches no one else); any other URL is taken as landing on its own host."""
    for _ in range(hops):
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK:
            break
        connection = HTTPConnection(parts.hostname, parts.port or 80, timeout=2)
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
            response = connection.getresponse()
            location = response.getheader("Location")
        except OSError:
            break  # not answering: Google would say "destination not working"; not modelled
        finally:
            connection.close()
        if response.status not in _REDIRECTS or not location:
            break
        url = urljoin(url, location)
    return urlsplit(url).hostname or ""


def _site(host: str) -> str:
    """careers.example.com and www.careers.example.com are one site; another domain is another site."""
    return host.lower().removeprefix("www.")


def _matches(row, match: re.Match) -> bool:
    field, operator, value, upper = match.group(1), match.group(2).upper(), _unescape(match.group(3)), match.group(4)
    actual = _value(row, field)
    actual_text = actual.name if hasattr(actual, "name") and not isinstance(actual, str) else str(actual)
    if operator == "BETWEEN":
        return value <= actual_text <= _unescape(upper or "")
    return (actual_text == value) == (operator == "=")


def _value(message, dotted: str):
    for part in dotted.split("."):
        message = getattr(message, part if part != "type" else "type_")
    return message


def _project(row, fields: list[str]):
    """Only the selected fields, as Google returns them."""
    projected = _services.GoogleAdsRow()
    for dotted in fields:
        *parents, leaf = [part if part != "type" else "type_" for part in dotted.split(".")]
        source, target = row, projected
        for part in parents:
            source, target = getattr(source, part), getattr(target, part)
        setattr(target, leaf, getattr(source, leaf))
    return projected


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _last(resource_name: str) -> str:
    return resource_name.rsplit("/", 1)[-1]


def _request_id() -> str:
    return uuid.uuid4().hex[:22]


def customer_id_dashed(customer_id: str) -> str:
    return f"{customer_id[:3]}-{customer_id[3:6]}-{customer_id[6:]}"


def main() -> None:
    """`python -m attract_local.sandboxes.google_ads`: serve until interrupted; print how to reach it (JSON)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="LOCAL SANDBOX of the Google Ads API (not Google)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-port", type=int, default=0)
    parser.add_argument("--customer-id", default="1234567890")
    parser.add_argument("--currency", default="EUR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    sandbox = GoogleAdsSandbox(customer_id=args.customer_id, currency=args.currency)
    sandbox.start(args.port, args.token_port)
    print(json.dumps({"GOOGLE_ADS_ENDPOINT": sandbox.endpoint, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": sandbox.cert_path,
                      "secret": sandbox.config()}), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    sandbox.stop()


if __name__ == "__main__":
    main()
