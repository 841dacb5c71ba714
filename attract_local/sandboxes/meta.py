"""A local Meta sandbox (not Meta): an HTTP server speaking the Graph API JSON the facebook-business SDK sends and reads.

Development and tests only. The SDK is pointed at it through `FacebookSession.GRAPH` (META_GRAPH_URL), so
the real SDK code runs end to end: its form encoding (JSON-encoded values in form fields), its cursors,
its error parsing. What it serves:

- `GET /vNN.N/act_<id>` the ad account (its `currency`, `min_daily_budget`),
- `POST|GET /vNN.N/act_<id>/campaigns|adsets|adcreatives|ads` create / list (with `filtering`, `fields`,
  cursor paging; a create with `execution_options=["validate_only"]` is checked and answered
  `{"success": true}`, creating nothing), `GET /vNN.N/act_<id>/insights` (campaign level, daily),
- `GET|POST|DELETE /vNN.N/<id>` read / update / delete,
- `POST /vNN.N/<pixel id>/events` the Conversions API,
- the Page (organic posts, docs/platforms.md "Facebook Page (organic posts)"), with the Page access token only:
  `POST /vNN.N/<page id>/feed` (message and/or link), `POST /vNN.N/<page id>/photos` (url, message/caption),
  `GET /vNN.N/<page id>/posts|feed` (fields, `since`, cursor paging, newest first), `GET|DELETE /vNN.N/<post id>`,
  `GET /vNN.N/<post id>/insights` (post_media_view, post_clicks; the metrics Meta deprecated are refused).
  Posts are `<page id>_<n>` with a permalink URL; `set_post_insights` sets their figures.

It checks the access token (and appsecret_proof), keeps objects in memory, enforces the rules Meta applies
to special ad category EMPLOYMENT (age 18-65, no genders or postcodes, radius >= 15 miles), to every ad set
(radius <= 50 miles, a daily budget of at least the account's minimum in its currency's unit, an end time
after the start and not past, beneficiary and payor when the campaign runs in the EU) and the
Conversions API's (hashed emails, fbc format, recent event times, a website event's user agent and page), and records every request in
`.received` as (method, path, params) with the JSON-encoded values decoded and the credentials removed.
`fail_next` makes the next matching request fail with a Graph error, before or after applying it, or drop
the connection without an answer (a timeout after Meta did the work); `clear_faults` drops the unused
ones. `error_trace_ids` are the trace ids of the errors it answered (what the adapter reports as request id).
Throttling errors (codes 4, 17, 32, 613) carry Meta's usage headers (X-App-Usage, X-Page-Usage,
X-Business-Use-Case-Usage with estimated_time_to_regain_access). For the local stack's e2e tests the same
controls are HTTP, without a token (loopback only): `POST /_sandbox/faults` (JSON: path_suffix, code, subcode,
method, times, after_apply, drop), `DELETE /_sandbox/faults`, `POST /_sandbox/insights` (post_id, impressions,
clicks), `GET /_sandbox/posts`.
"""

import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from attract.campaigns.currencies import meta_offset
from attract_local.sandboxes.http import SandboxHandler, SandboxServer

log = logging.getLogger(__name__)

EDGES = {"campaigns": "campaign", "adsets": "adset", "adcreatives": "adcreative", "ads": "ad"}
STATUSES = {"ACTIVE", "PAUSED", "DELETED", "ARCHIVED"}
# Per distance_unit, as Meta states them: EMPLOYMENT at least 15 miles / 24 km; any radius at most 50 miles / 80 km
MIN_EMPLOYMENT_RADIUS = {"mile": Decimal(15), "kilometer": Decimal(24)}
MAX_RADIUS = {"mile": Decimal(50), "kilometer": Decimal(80)}
# Where Meta requires dsa_beneficiary and dsa_payor: the EU and its associated territories, as Meta lists them
# (developers.facebook.com/blog/post/2023/05/16/...-ads-targeting-eu/). Kept apart from the adapter's list
# (attract.campaigns.policy.META_DSA_COUNTRIES, which adds the EEA) so that the sandbox judges the adapter.
DSA_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "AX", "GF", "GP", "MQ", "YT", "RE", "MF",
})
_VERSIONED = re.compile(r"^/v\d+\.\d+/(?P<rest>.+)$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_FBC = re.compile(r"^fb\.\d\.\d{13}\.[A-Za-z0-9_-]+$")
MAX_MESSAGE_CHARS = 63206  # a Page post's message, as Facebook counts it (docs/platforms.md)
POST_METRICS = frozenset({"post_media_view", "post_clicks", "post_total_media_view_unique",
                          "post_reactions_by_type_total", "post_clicks_by_type"})
# Refused with "(#100) ... valid insights metric" since 2025-06-15 / 2025-11-15 (Pages API changelog)
DEPRECATED_POST_METRICS = frozenset({
    "post_impressions", "post_impressions_unique", "post_impressions_paid", "post_impressions_paid_unique",
    "post_impressions_fan", "post_impressions_fan_unique", "post_impressions_organic",
    "post_impressions_organic_unique", "post_impressions_viral", "post_impressions_viral_unique",
    "post_impressions_nonviral", "post_impressions_nonviral_unique",
})
THROTTLING_CODES = frozenset({4, 17, 32, 613})
_MESSAGES = {
    1: "An unknown error occurred", 2: "An unexpected error has occurred. Please retry your request later.",
    4: "Application request limit reached", 17: "User request limit reached",
    32: "Page request limit reached", 100: "Invalid parameter", 190: "Invalid OAuth access token.",
    368: "The action attempted has been deemed abusive or is otherwise disallowed",
    613: "Calls to this api have exceeded the rate limit.",
    80004: "There have been too many calls to this ad-account. Wait a bit and try again.",
}


# Meta never reuses an id; see attract_local.sandboxes.google_ads._IDS (the registry refuses a reused one).
_IDS = itertools.count(120210000000000001)


class GraphError(Exception):
    def __init__(self, code: int, message: str | None = None, subcode: int | None = None, status: int | None = None):
        super().__init__(message or _MESSAGES.get(code, "Invalid parameter"))
        self.code, self.subcode = code, subcode
        self.status = status or (500 if code in (1, 2) else 400)
        self.kind = "OAuthException" if code in (4, 17, 32, 100, 190, 200, 368, 613) else "FacebookApiException"


@dataclass
class _Failure:
    suffix: str
    code: int | None
    subcode: int | None
    after_apply: bool
    drop: bool
    method: str | None
    times: int
    stall_s: float
    release: threading.Event | None = None


@dataclass
class _Spend:
    spend: Decimal
    clicks: int
    impressions: int


@dataclass
class MetaSandbox:
    """`start()` -> the Graph base URL (META_GRAPH_URL); `config()` -> a Meta secret JSON that fits it."""

    access_token: str = "local-meta-sandbox-token"
    app_id: str = "100000000000001"
    app_secret: str = "local-meta-sandbox-secret"
    ad_account_id: str = "act_1000000000001"
    pixel_id: str = "2000000000001"
    page_id: str = "3000000000001"
    page_access_token: str = "local-meta-sandbox-page-token"  # the Page's own token (FacebookPageSecret)
    regain_access_minutes: int = 1  # estimated_time_to_regain_access in throttling answers' usage headers
    currency: str = "EUR"  # the ad account's: budgets are in its unit (Meta's offset), spend is reported in it
    min_daily_budget: int = 100  # in that unit: EUR 1.00, Meta's minimum for impression-billed ad sets in EUR
    dsa_beneficiary: str = "Attract local employer"  # the secret's DSA names (config()), sent for EU ad sets
    dsa_payor: str = "Attract local employer"
    simulate_delivery: bool = True  # ACTIVE campaigns spend 90% of their ad sets' daily budgets each day
    today: Callable[[], date] = field(default=lambda: datetime.now(timezone.utc).date())
    received: list[tuple[str, str, dict]] = field(default_factory=list)
    objects: dict[str, dict] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # Conversions API events, decoded
    error_trace_ids: list[str] = field(default_factory=list)  # fbtrace_id of every Graph error answered, in order
    posts: dict[str, dict] = field(default_factory=dict)  # the Page's posts by id (deleted ones removed)
    post_insights: dict[str, dict[str, int]] = field(default_factory=dict)  # post id -> metric -> value

    def __post_init__(self) -> None:
        self._ids = _IDS  # shared: ids are never reused, not even by another sandbox in this process
        self._failures: list[_Failure] = []
        self._spend: dict[tuple[str, date], _Spend] = {}
        self._lock = threading.RLock()
        self._server: SandboxServer | None = None
        self.url = ""

    # ---- lifecycle and test controls -----------------------------------------------------------------

    def start(self) -> str:
        sandbox = self

        class Handler(_Handler):
            pass

        Handler.sandbox = sandbox
        self._server = SandboxServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="meta-sandbox", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        log.warning("local Meta sandbox (not Meta) at %s", self.url)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def config(self) -> dict:
        """The Meta secret's JSON (app, token, account, pixel, page, DSA beneficiary and payor) for this sandbox."""
        return {"app_id": self.app_id, "app_secret": self.app_secret, "access_token": self.access_token,
                "ad_account_id": self.ad_account_id, "pixel_id": self.pixel_id, "page_id": self.page_id,
                "dsa_beneficiary": self.dsa_beneficiary, "dsa_payor": self.dsa_payor}

    def page_config(self) -> dict:
        """The Facebook Page secret's JSON (FacebookPageSecret) for this sandbox."""
        return {"page_id": self.page_id, "page_access_token": self.page_access_token}

    def extra_secrets(self) -> dict[str, dict]:
        """Other secrets of the local stack this sandbox serves (attract_local.ad_sandboxes.fill_secrets)."""
        return {"FacebookPageSecret": self.page_config()}

    def set_post_insights(self, post_id: str, impressions: int | None = None, clicks: int | None = None) -> None:
        """What `/{post-id}/insights` answers for post_media_view (impressions) and post_clicks."""
        with self._lock:
            figures = self.post_insights.setdefault(post_id, {})
            if impressions is not None:
                figures["post_media_view"] = int(impressions)
            if clicks is not None:
                figures["post_clicks"] = int(clicks)

    def page_posts(self) -> list[dict]:
        """The Page's posts, oldest first (internal fields included: `_kind` feed|photo, `_photo_url`)."""
        with self._lock:
            return [dict(post) for post in self.posts.values()]

    def fail_next(self, path_suffix: str, code: int | None = None, subcode: int | None = None, *,
                  after_apply: bool = False, drop: bool = False, method: str | None = None, times: int = 1,
                  stall_s: float = 0, release: threading.Event | None = None) -> None:
        """The next `times` requests whose path ends with `path_suffix` fail with Graph error `code`.

        after_apply: the request takes effect first (an object is created, a status set), then fails.
        drop: no answer at all, the connection is closed (a lost answer, as the client sees it).
        stall_s: the request is applied, and answered only after that many seconds (a client timeout);
        with `release`, as soon as the test sets that event (at most stall_s): no race with the clock.
        """
        if code is None and not drop and not stall_s:
            raise ValueError("give an error code, drop=True or stall_s")
        with self._lock:
            self._failures.append(_Failure(path_suffix, code, subcode, after_apply, drop, method, times, stall_s,
                                           release))

    def clear_faults(self) -> None:
        """Drops injected failures not consumed yet (between tests sharing one sandbox)."""
        with self._lock:
            self._failures.clear()

    def record_spend(self, campaign_id: str, day: date, spend: Decimal | str, clicks: int, impressions: int) -> None:
        """What insights report for that campaign and day (instead of simulated delivery)."""
        with self._lock:
            self._spend[(campaign_id, day)] = _Spend(Decimal(str(spend)), clicks, impressions)

    def of_kind(self, kind: str) -> list[dict]:
        """Objects of one kind ("campaign", "adset", "adcreative", "ad"), oldest first."""
        with self._lock:
            return [dict(o) for o in self.objects.values() if o["_kind"] == kind]

    def requests_to(self, method: str, suffix: str) -> list[dict]:
        """The params of every request `method` whose path ends with `suffix`."""
        return [params for m, path, params in list(self.received) if m == method and path.endswith(suffix)]

    # ---- request handling ---------------------------------------------------------------------------

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if path.endswith(failure.suffix) and failure.method in (None, method):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _is_page_route(self, path: str) -> bool:
        match = _VERSIONED.match(path)
        parts = match.group("rest").strip("/").split("/") if match else []
        if len(parts) == 2 and parts[0] == self.page_id and parts[1] in ("feed", "posts", "photos"):
            return True
        return 1 <= len(parts) <= 2 and parts[0].startswith(self.page_id + "_") and parts[1:] in ([], ["insights"])

    def _check_token(self, params: dict, path: str = "") -> None:
        token = params.pop("access_token", None)
        proof = params.pop("appsecret_proof", None)
        if self._is_page_route(path):
            # The Page's own token publishes as the Page; the ads system user's token lacks pages_manage_posts.
            if token and hmac.compare_digest(str(token), self.page_access_token):
                return
            if token and hmac.compare_digest(str(token), self.access_token):
                raise GraphError(200, "(#200) If posting to a page, requires both pages_read_engagement and "
                                      "pages_manage_posts as an admin with sufficient administrative permission",
                                 status=403)
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=400)
        if not token or not hmac.compare_digest(str(token), self.access_token):
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if self.app_secret:
            expected = hmac.new(self.app_secret.encode(), self.access_token.encode(), hashlib.sha256).hexdigest()
            if not proof or not hmac.compare_digest(str(proof), expected):
                raise GraphError(100, "Invalid appsecret_proof provided in the API argument")

    def handle(self, method: str, path: str, params: dict) -> dict:
        match = _VERSIONED.match(path)
        if not match:
            raise GraphError(2500, "Unknown path components: " + path)
        parts = match.group("rest").strip("/").split("/")
        with self._lock:
            page = self._page(method, parts, params)
            if page is not None:
                return page
            if len(parts) == 2 and parts[0] == self._account and parts[1] in EDGES:
                if method == "POST":
                    return self._create(EDGES[parts[1]], params)
                if method == "GET":
                    return self._list(EDGES[parts[1]], params)
            if parts == [self._account, "insights"] and method == "GET":
                return self._insights(params)
            if parts == [self._account] and method == "GET":
                return self._account_node(params)
            if len(parts) == 2 and parts[1] == "events" and method == "POST":
                return self._conversions(parts[0], params)
            if len(parts) == 1 and parts[0] in self.objects:
                return self._node(method, parts[0], params)
        raise GraphError(100, f"Unsupported {method.lower()} request. Object with ID '{parts[0]}' does not exist, "
                              "cannot be loaded due to missing permissions, or does not support this operation",
                         subcode=33)

    # ---- the Page: organic posts --------------------------------------------------------------------

    def _page(self, method: str, parts: list[str], params: dict) -> dict | None:
        """A Page route's answer, or None when `parts` is not one (then the ads routes apply)."""
        if len(parts) == 2 and parts[0] == self.page_id:
            if parts[1] == "feed" and method == "POST":
                return self._publish("feed", params)
            if parts[1] == "photos" and method == "POST":
                return self._publish("photo", params)
            if parts[1] in ("posts", "feed") and method == "GET":
                return self._page_posts(params)
        post = self.posts.get(parts[0]) if parts else None
        if post is None:
            return None  # an unknown or deleted post: the ads fall-through answers code 100 subcode 33
        if len(parts) == 1 and method == "GET":
            return self._public_post(post, _fields(params) or ["created_time", "message", "id"])
        if len(parts) == 1 and method == "DELETE":
            del self.posts[post["id"]]
            return {"success": True}
        if parts[1:] == ["insights"] and method == "GET":
            return self._post_insights(post, params)
        return None

    def _publish(self, kind: str, params: dict) -> dict:
        message = str(params.get("message") or params.get("caption") or "")
        if len(message) > MAX_MESSAGE_CHARS:
            raise GraphError(100, f"(#100) The message is too long: at most {MAX_MESSAGE_CHARS} characters")
        link = str(params.get("link") or "")
        if kind == "feed" and not message and not link:
            raise GraphError(100, "(#100) Missing message or attachment")
        if kind == "photo" and not params.get("url"):
            raise GraphError(324, "(#324) Requires upload file")
        if link and not link.startswith(("http://", "https://")):
            raise GraphError(100, "(#100) link URL is not properly formatted")
        number = next(self._ids)
        post_id = f"{self.page_id}_{number}"
        self.posts[post_id] = {
            "_kind": kind, "_photo_url": params.get("url"), "id": post_id, "message": message or None,
            "link": link or None, "created_time": _graph_time(datetime.now(timezone.utc)),
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{number}",
        }
        if kind == "photo":  # the photo node's id, and the feed story made of it
            return {"id": str(next(self._ids)), "post_id": post_id}
        return {"id": post_id}

    @staticmethod
    def _public_post(post: dict, fields: list[str]) -> dict:
        return {"id": post["id"], **{name: post[name] for name in fields
                                     if name in post and not name.startswith("_") and post[name] is not None}}

    def _page_posts(self, params: dict) -> dict:
        since = _time(params["since"]).timestamp() if params.get("since") not in (None, "") else None
        found = [post for post in reversed(list(self.posts.values()))  # newest first, as the Page feed is
                 if since is None or _parse_graph_time(post["created_time"]) >= since]
        fields = _fields(params) or ["created_time", "message", "id"]
        limit = min(int(params.get("limit", 25)), 100)
        start = int(base64.b64decode(params["after"]).decode()) if params.get("after") else 0
        page = found[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(),
                                              "after": base64.b64encode(str(start + len(page)).encode()).decode()}}
        if start + limit < len(found):
            paging["next"] = "next-page"  # the SDK only checks that it is there, then sends `after`
        return {"data": [self._public_post(post, fields) for post in page], "paging": paging}

    def _post_insights(self, post: dict, params: dict) -> dict:
        metrics = params.get("metric") or []
        metrics = metrics if isinstance(metrics, list) else str(metrics).split(",")
        metrics = [str(name).strip() for name in metrics if str(name).strip()]
        if not metrics:
            raise GraphError(100, "(#100) The parameter metric is required")
        for name in metrics:
            if name in DEPRECATED_POST_METRICS or name not in POST_METRICS:
                raise GraphError(100, "(#100) The value must be a valid insights metric")
        figures = self.post_insights.get(post["id"], {})
        data = [{"name": name, "period": "lifetime", "values": [{"value": figures.get(name, 0)}],
                 "title": name, "description": name, "id": f"{post['id']}/insights/{name}/lifetime"}
                for name in metrics]
        return {"data": data, "paging": {"previous": "", "next": ""}}

    def control(self, method: str, path: str, body: dict) -> dict:
        """The HTTP test controls (`/_sandbox/...`) for the local stack's e2e tests."""
        if path == "/_sandbox/faults" and method == "POST":
            self.fail_next(str(body["path_suffix"]), body.get("code"), body.get("subcode"),
                           after_apply=bool(body.get("after_apply")), drop=bool(body.get("drop")),
                           method=body.get("method"), times=int(body.get("times", 1)))
            return {"ok": True}
        if path == "/_sandbox/faults" and method == "DELETE":
            self.clear_faults()
            return {"ok": True}
        if path == "/_sandbox/insights" and method == "POST":
            self.set_post_insights(str(body["post_id"]), body.get("impressions"), body.get("clicks"))
            return {"ok": True}
        if path == "/_sandbox/posts" and method == "GET":
            return {"posts": [{k: v for k, v in post.items() if not k.startswith("_") or k == "_kind"}
                              for post in self.page_posts()]}
        raise KeyError(path)

    def usage_headers(self, code: int) -> dict[str, str]:
        """Meta's usage headers on a throttling answer: the app's, the Page's and the business use case's."""
        full = {"call_count": 100, "total_cputime": 100, "total_time": 100}
        buc = [{"type": "pages", **full, "estimated_time_to_regain_access": self.regain_access_minutes}]
        headers = {"X-Business-Use-Case-Usage": json.dumps({self.page_id: buc})}
        headers["X-Page-Usage" if code == 32 else "X-App-Usage"] = json.dumps(full)
        return headers

    @property
    def _account(self) -> str:
        return "act_" + self.ad_account_id.removeprefix("act_")

    def _new(self, kind: str, params: dict) -> dict:
        object_id = str(next(self._ids))
        fields = {key: value for key, value in params.items() if key not in ("fields", "summary")}
        item = {"_kind": kind, "_created": self.today().isoformat(), "id": object_id, **fields}
        self.objects[object_id] = item
        return {"id": object_id}

    def _account_node(self, params: dict) -> dict:
        account = {"id": self._account, "account_id": self._account.removeprefix("act_"), "currency": self.currency,
                   "min_daily_budget": self.min_daily_budget}
        return {name: value for name, value in account.items() if name == "id" or name in (_fields(params) or account)}

    def _create(self, kind: str, params: dict) -> dict:
        """Checks a create as Meta does; with execution_options=["validate_only"] that is all (Meta answers
        {"success": true} and creates nothing)."""
        options = params.pop("execution_options", None) or []
        if not isinstance(options, list) or not set(options) <= {"validate_only", "include_recommendations"}:
            raise GraphError(100, "Invalid parameter: execution_options")
        self._check_create(kind, params)
        if "validate_only" in options:
            return {"success": True}
        return self._new(kind, params)

    def _check_create(self, kind: str, params: dict) -> None:
        if not params.get("name"):
            raise GraphError(100, "The parameter name is required")
        status = params.get("status", "ACTIVE")
        if status not in ("ACTIVE", "PAUSED"):
            raise GraphError(100, "Invalid parameter: status")
        if kind == "campaign":
            categories = params.get("special_ad_categories")
            if not isinstance(categories, list) or not params.get("objective"):
                raise GraphError(100, "special_ad_categories and objective are required", subcode=1885827)
            if "EMPLOYMENT" in categories and not params.get("special_ad_category_country"):
                raise GraphError(100, "special_ad_category_country is required with a special ad category")
        elif kind == "adset":
            campaign = self.objects.get(str(params.get("campaign_id")))
            if campaign is None or campaign["_kind"] != "campaign":
                raise GraphError(100, "Invalid parameter: campaign_id", subcode=1487076)
            self._budget(params)
            if not isinstance(params.get("targeting"), dict) or not params["targeting"].get("geo_locations"):
                raise GraphError(100, "targeting with geo_locations is required", subcode=1487079)
            self._radius_max(params["targeting"])
            if "EMPLOYMENT" in (campaign.get("special_ad_categories") or []):
                self._employment_targeting(params["targeting"])
            self._schedule(params)
            self._dsa(campaign, params)
        elif kind == "adcreative":
            spec = params.get("object_story_spec")
            if not isinstance(spec, dict) or not spec.get("page_id") or not (spec.get("link_data") or {}).get("link"):
                raise GraphError(100, "object_story_spec needs page_id and link_data.link", subcode=1443048)
        elif kind == "ad":
            adset = self.objects.get(str(params.get("adset_id")))
            creative = params["creative"] if isinstance(params.get("creative"), dict) else {}
            if adset is None or adset["_kind"] != "adset" or str(creative.get("creative_id")) not in self.objects:
                raise GraphError(100, "adset_id and creative.creative_id must name existing objects", subcode=1487390)

    def _budget(self, params: dict) -> None:
        """daily_budget: an integer in the account currency's unit (offset 100: cents; 1: whole yen, won, ...),
        at least the account's minimum ("Budget Is Too Low", code 100 subcode 1885272, as Meta answers)."""
        budget = str(params.get("daily_budget", ""))
        if not budget.isdigit() or int(budget) <= 0:
            raise GraphError(100, "daily_budget must be a positive integer in the currency's minor unit")
        if int(budget) < self.min_daily_budget:
            minimum = Decimal(self.min_daily_budget) / meta_offset(self.currency)
            raise GraphError(100, f"Budget Is Too Low: the budget for this ad set must be at least {minimum} "
                                  f"{self.currency}", subcode=1885272)

    @staticmethod
    def _radius_max(targeting: dict) -> None:
        for location in (targeting.get("geo_locations") or {}).get("custom_locations") or []:
            if _radius(location) > MAX_RADIUS[location.get("distance_unit", "mile")]:
                raise GraphError(100, "custom_locations radius must be at most 50 miles (80 km)", subcode=1487756)

    def _schedule(self, params: dict) -> None:
        """end_time after start_time (or now) and not past: Meta's "Incorrect End Date" (code 100, 1885407)."""
        if not params.get("end_time"):
            return
        today = self.today()
        now = datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
        start = _time(params["start_time"]) if params.get("start_time") else now
        end = _time(params["end_time"])
        if end <= max(start, now):
            raise GraphError(100, "Incorrect End Date: please choose an end date that occurs after your start date "
                                  "and in the future", subcode=1885407)

    @staticmethod
    def _dsa(campaign: dict, params: dict) -> None:
        """An ad set of a campaign running in the EU names its beneficiary and payor (Digital Services Act)."""
        countries = set(campaign.get("special_ad_category_country") or [])
        countries |= set(((params["targeting"].get("geo_locations") or {}).get("countries")) or [])
        if countries & DSA_COUNTRIES and not (params.get("dsa_beneficiary") and params.get("dsa_payor")):
            raise GraphError(100, "Ads targeting the EU or its associated territories require dsa_beneficiary and "
                                  "dsa_payor", subcode=3858082)

    @staticmethod
    def _employment_targeting(targeting: dict) -> None:
        """Meta's rules for the EMPLOYMENT special ad category, as Graph errors."""
        if int(targeting.get("age_min", 18)) != 18 or int(targeting.get("age_max", 65)) != 65:
            raise GraphError(100, "Special ad category EMPLOYMENT: age must be 18-65+", subcode=1870194)
        if targeting.get("genders"):
            raise GraphError(100, "Special ad category EMPLOYMENT: gender targeting is not allowed", subcode=1870194)
        geo = targeting["geo_locations"]
        if geo.get("zips"):
            raise GraphError(100, "Special ad category EMPLOYMENT: postcode targeting is not allowed", subcode=1870194)
        for location in geo.get("custom_locations") or []:
            if _radius(location) < MIN_EMPLOYMENT_RADIUS[location.get("distance_unit", "mile")]:
                raise GraphError(100, "Special ad category EMPLOYMENT: radius must be at least 15 miles",
                                 subcode=1870194)

    @staticmethod
    def _public(item: dict, fields: list[str] | None) -> dict:
        visible = {key: value for key, value in item.items() if not key.startswith("_")}
        if fields:
            return {"id": item["id"], **{name: visible[name] for name in fields if name in visible}}
        return {"id": item["id"], "name": item.get("name")} if "name" in item else {"id": item["id"]}

    def _list(self, kind: str, params: dict) -> dict:
        rules = params.get("filtering") or []
        if not isinstance(rules, list):
            raise GraphError(100, "filtering must be a list")
        found = [o for o in self.objects.values()
                 if o["_kind"] == kind and o.get("status") != "DELETED" and all(_matches(o, rule) for rule in rules)]
        fields = _fields(params)
        limit = int(params.get("limit", 25))
        start = int(base64.b64decode(params["after"]).decode()) if params.get("after") else 0
        page = found[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(),
                                              "after": base64.b64encode(str(start + len(page)).encode()).decode()}}
        if start + limit < len(found):
            paging["next"] = "next-page"  # the SDK only checks that it is there, then sends `after`
        return {"data": [self._public(o, fields) for o in page], "paging": paging}

    def _node(self, method: str, object_id: str, params: dict) -> dict:
        item = self.objects[object_id]
        if method == "GET":
            return self._public(item, _fields(params) or [k for k in item if not k.startswith("_")])
        if method == "DELETE":
            item["status"] = "DELETED"
            return {"success": True}
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise GraphError(100, "Invalid parameter: status")
        if status == "ACTIVE" and item["_kind"] == "campaign" and "_activated" not in item:
            item["_activated"] = self.today().isoformat()
        item.update({k: v for k, v in params.items() if k not in ("fields", "summary", "id")})
        return {"success": True}

    def _insights(self, params: dict) -> dict:
        if params.get("level") != "campaign" or str(params.get("time_increment")) != "1":
            raise GraphError(100, "this sandbox serves level=campaign, time_increment=1 only")
        time_range = params.get("time_range") or {}
        since, until = date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
        wanted = _fields(params) or ["spend"]
        rows = []
        for campaign in (o for o in self.objects.values() if o["_kind"] == "campaign"):
            day = since
            while day <= until:
                figures = self._spend.get((campaign["id"], day)) or self._simulated(campaign, day)
                if figures is not None:
                    row = {"campaign_id": campaign["id"], "campaign_name": campaign["name"],
                           "spend": str(figures.spend), "clicks": str(figures.clicks),
                           "impressions": str(figures.impressions), "account_currency": self.currency}
                    rows.append({**{k: v for k, v in row.items() if k in wanted},
                                 "date_start": day.isoformat(), "date_stop": day.isoformat()})
                day += timedelta(days=1)
        return {"data": rows, "paging": {"cursors": {"before": "MA==", "after": "MA=="}}}

    def _simulated(self, campaign: dict, day: date) -> _Spend | None:
        if not self.simulate_delivery or campaign.get("status") != "ACTIVE" or "_activated" not in campaign:
            return None
        if not date.fromisoformat(campaign["_activated"]) <= day <= self.today():
            return None
        budget = sum(int(o["daily_budget"]) for o in self.objects.values()
                     if o["_kind"] == "adset" and o.get("campaign_id") == campaign["id"] and o.get("status") == "ACTIVE")
        if not budget:
            return None
        offset = meta_offset(self.currency)
        spend = (Decimal(budget) * Decimal("0.9") / offset).quantize(Decimal(1) / offset)
        impressions = int(budget * Decimal("0.9"))
        return _Spend(spend, max(1, impressions // 50), impressions)

    def _conversions(self, pixel: str, params: dict) -> dict:
        if pixel != self.pixel_id:
            raise GraphError(100, f"Unsupported post request. Object with ID '{pixel}' does not exist", subcode=33)
        data = params.get("data")
        if not isinstance(data, list) or not data:
            raise GraphError(100, "The parameter data is required")
        events = [json.loads(item) if isinstance(item, str) else item for item in data]
        now = datetime.now(timezone.utc).timestamp()
        for event in events:  # all or nothing, like Meta: one bad event refuses the request
            if not event.get("event_name") or not event.get("action_source"):
                raise GraphError(100, "event_name and action_source are required", subcode=2804008)
            if not isinstance(event.get("event_time"), int) or not now - 7 * 86400 <= event["event_time"] <= now + 60:
                raise GraphError(100, "event_time must be within the last 7 days", subcode=2804003)
            user = event.get("user_data") or {}
            if event["action_source"] == "website" and not (user.get("client_user_agent") and event.get("event_source_url")):
                # Meta: "Website events ... require the client_user_agent, action_source, and event_source_url"
                raise GraphError(100, "website events require user_data.client_user_agent and event_source_url")
            if any(not _SHA256_HEX.fullmatch(str(value)) for value in user.get("em") or []):
                raise GraphError(100, "user_data.em must be SHA-256 hashed", subcode=2804019)
            if user.get("fbc") is not None and not _FBC.fullmatch(str(user["fbc"])):
                raise GraphError(100, "user_data.fbc is not in the format fb.1.<ms>.<fbclid>", subcode=2804050)
            if not any(user.get(key) for key in ("em", "ph", "fbc", "fbp", "external_id", "client_ip_address")):
                raise GraphError(100, "user_data has no customer information parameter", subcode=2804050)
        self.events.extend(events)
        return {"events_received": len(events), "messages": [], "fbtrace_id": _trace_id()}


def _radius(location: dict) -> Decimal:
    if location.get("distance_unit", "mile") not in ("mile", "kilometer"):
        raise GraphError(100, "distance_unit must be mile or kilometer")
    return Decimal(str(location.get("radius", 0)))


def _time(value: Any) -> datetime:
    """A Graph datetime parameter: ISO 8601 (a UTC offset or none, read as UTC) or a UNIX timestamp."""
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text), tz=timezone.utc)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _graph_time(moment: datetime) -> str:
    """Graph's datetime format in answers: 2026-12-04T14:10:00+0000."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_graph_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def _trace_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes[:8]).decode().rstrip("=")


def _fields(params: dict) -> list[str]:
    value = params.get("fields") or ""
    return [name.strip() for name in (value if isinstance(value, list) else str(value).split(",")) if name.strip()]


def _matches(item: dict, rule: dict) -> bool:
    value, wanted, operator = item.get(rule.get("field", "")), rule.get("value"), rule.get("operator", "EQUAL")
    if operator == "EQUAL":
        return value == wanted
    if operator == "NOT_EQUAL":
        return value != wanted
    if operator == "IN":
        return value in (wanted or [])
    if operator == "NOT_IN":
        return value not in (wanted or [])
    if operator == "CONTAIN":
        return str(wanted) in str(value or "")
    raise GraphError(100, f"filtering operator {operator} is not supported by this sandbox")


def _decoded(value: str) -> Any:
    """The SDK JSON-encodes lists, dicts and booleans inside form fields; everything else stays a string."""
    if value[:1] in ("{", "[") or value in ("true", "false"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Handler(SandboxHandler):
    sandbox: MetaSandbox
    server_version = "LocalMetaSandbox/1"

    def _params(self) -> tuple[str, dict]:
        parts = urlsplit(self.path)
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if body and content_type == "application/json":
            params.update(json.loads(body))
        elif body:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return parts.path, {key: _decoded(value) if isinstance(value, str) else value for key, value in params.items()}

    def _serve(self, method: str) -> None:
        sandbox = self.sandbox
        try:
            path, params = self._params()
            path = path.rstrip("/")
        except (ValueError, UnicodeDecodeError):
            self._answer(400, {"error": {"message": "malformed request", "type": "OAuthException", "code": 100}})
            return
        if path.startswith("/_sandbox/"):
            try:
                self._answer(200, sandbox.control(method, path, params))
            except (KeyError, TypeError, ValueError) as error:
                self._answer(404 if isinstance(error, KeyError) else 400, {"error": type(error).__name__})
            return
        try:
            sandbox._check_token(params, path)
        except GraphError as error:
            self._error(error)
            return
        sandbox.received.append((method, path, params))
        failure = sandbox._take_failure(method, path)
        try:
            if failure is not None and not failure.after_apply and not failure.stall_s:
                if failure.drop:
                    self.close_connection = True
                    return
                raise GraphError(failure.code or 2, subcode=failure.subcode)
            body = sandbox.handle(method, path, json.loads(json.dumps(params)))
            if failure is not None:  # applied: now the answer is late, lost or an error
                if failure.release is not None:
                    failure.release.wait(failure.stall_s)
                else:
                    time.sleep(failure.stall_s)
                if failure.drop:
                    self.close_connection = True
                    return
                if failure.code is not None:
                    raise GraphError(failure.code, subcode=failure.subcode)
        except GraphError as error:
            self._error(error)
            return
        except (KeyError, TypeError, ValueError) as error:
            self._error(GraphError(100, f"Invalid parameter ({type(error).__name__})"))
            return
        self._answer(200, body)

    def _error(self, error: GraphError) -> None:
        body: dict[str, Any] = {"message": str(error), "type": error.kind, "code": error.code,
                                "is_transient": error.code in (1, 2, 4, 17, 613), "fbtrace_id": _trace_id()}
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        self.sandbox.error_trace_ids.append(body["fbtrace_id"])
        extra = self.sandbox.usage_headers(error.code) if error.code in THROTTLING_CODES else {}
        self._answer(error.status, {"error": body}, trace=body["fbtrace_id"], headers=extra)

    def _answer(self, status: int, body: dict, trace: str | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("x-fb-trace-id", trace or _trace_id())
        self.send_header("x-fb-request-id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    """`python -m attract_local.sandboxes.meta`: the sandbox on its own, its URL and a matching secret printed."""
    import time as time_module

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sandbox = MetaSandbox()
    url = sandbox.start()
    print(f"META_GRAPH_URL={url}")
    print(f"Meta secret (sandbox credentials, not Meta's): {json.dumps(sandbox.config())}")
    print(f"Facebook Page secret (sandbox credentials, not Meta's): {json.dumps(sandbox.page_config())}", flush=True)
    try:
        while True:
            time_module.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
