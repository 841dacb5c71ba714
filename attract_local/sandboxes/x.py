"""A local X sandbox (not X): an HTTP server speaking the X API v2 JSON that tweepy sends and reads.

Development and tests only. The adapter (attract.providers.x_posts) points tweepy at it through X_API_URL, so
tweepy's own request building, parameter encoding and error classes run end to end. What it serves (each rule
cited in docs/platforms.md, "X (organic posts)"):

- `POST /2/tweets` `{"text", "media": {"media_ids"}}` -> 201 `{"data": {"id", "text"}}`. The text is checked as X
  counts it (twitter-text's weighted length: NFC, code points weighted 1 in X's four ranges and 2 elsewhere, every
  URL 23) against 280; a post over it is a 403, a post whose text equals one of the account's posts is the 403
  "duplicate content". Links in the stored text are wrapped as `https://t.co/…`, the original in
  `entities.urls[].expanded_url`;
- `GET /2/users/{id}/tweets` the user's posts, newest first (`start_time`, `max_results` 5..100,
  `pagination_token`, `tweet.fields`: created_at, entities, public_metrics, non_public_metrics);
- `GET /2/tweets?ids=` lookup (metrics); ids it does not hold are partial errors beside `data`, as X answers;
- `DELETE /2/tweets/{id}` -> `{"data": {"deleted": true}}`; an id it does not hold is a 404;
- `POST /2/media/upload` one image (JSON: base64 `media`, `media_category` tweet_image, `media_type`, at most
  5 MB) -> `{"data": {"id", "media_key", ...}}`, the id a create's `media.media_ids` may then name;
- `POST /2/oauth2/token` (form-encoded `grant_type=refresh_token`, `refresh_token`, `client_id`, or HTTP Basic
  client authentication) -> `{"token_type": "bearer", "expires_in": 7200, "access_token", "scope", "refresh_token"}`:
  a new user access token good for two hours, and a new refresh token; the one used is spent (a second use is the
  400 `invalid_request`). Earlier access tokens stay good until their own two hours are up;
- every answer carries `x-rate-limit-limit` / `-remaining` / `-reset`; errors are Problem JSON
  (`{"title", "detail", "type", "status"}`), the 401 for a bearer token it never issued or whose two hours are up.

Non-public metrics (`url_link_clicks`, the author's impressions) are served for posts of the last 30 days only.
`fail_next(kind, fault)` makes the next requests of a kind (create, timeline, lookup, delete, upload) answer a 429 with a
reset time, a 503, or (create) be applied and then lose the answer (the connection is closed). `set_metrics` sets
a post's numbers. The same controls are served over HTTP under `/_sandbox/` for the local stack's e2e tests:
`POST /_sandbox/faults` `{"kind", "fault", "times", "reset_in_s"}`, `DELETE /_sandbox/faults`,
`POST /_sandbox/metrics` `{"id", "impressions", "clicks"}`, `POST /_sandbox/expire-tokens` (two hours pass for
every access token), `GET /_sandbox/tweets`, and a 1x1 PNG at
`GET /_sandbox/images/<name>.png` (an image_url to post).
"""

import base64
import itertools
import json
import logging
import re
import secrets
import string
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from attract_local.sandboxes.http import SandboxHandler, SandboxServer

log = logging.getLogger(__name__)

MAX_WEIGHTED_LENGTH = 280
TRANSFORMED_URL_LENGTH = 23  # every URL, whatever its length (t.co)
# twitter-text v3 configuration: code points in these ranges weigh 1, every other 2 (scale 100, default 200).
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
NON_PUBLIC_DAYS = 30  # non-public metrics: posts created within the last 30 days only
RATE_LIMIT = 200  # POST /2/tweets: per user per 15 minutes (the headers' x-rate-limit-limit)
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_USER_TWEETS = re.compile(r"^/2/users/(?P<user>[^/]+)/tweets$")
_ONE_TWEET = re.compile(r"^/2/tweets/(?P<id>[^/]+)$")
_IDS = itertools.count(1866000000000000001)  # X ids are never reused: shared by every sandbox of the process
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = "Tweet needs to be a bit shorter."
FAULTS = ("429", "503", "drop")
KINDS = ("create", "timeline", "lookup", "delete", "upload", "token")
TOKEN_PATH = "/2/oauth2/token"
ACCESS_TOKEN_SECONDS = 7200  # "only stay valid for two hours" (docs.x.com, OAuth 2.0 Authorization Code Flow with PKCE)
SCOPES = "tweet.read tweet.write users.read offline.access"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp", "image/pjpeg", "image/tiff"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # images: 5 MB
# A 1x1 PNG, served at /_sandbox/images/<name>.png: an image_url the adapter can fetch in tests and the demo.
PIXEL_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def urls(text: str) -> list[tuple[int, int, str]]:
    """The URLs of a text as (start, end, url) in code points, trailing punctuation left out as twitter-text does."""
    found = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        found.append((match.start(), match.start() + len(url), url))
    return found


def weighted_length(text: str) -> int:
    """X's count of a post's text: NFC, 1 per code point in the light ranges, 2 for any other, 23 per URL."""
    text = unicodedata.normalize("NFC", text)
    length, position = 0, 0
    for start, end, _ in urls(text):
        length += sum(_weight(c) for c in text[position:start]) + TRANSFORMED_URL_LENGTH
        position = end
    return length + sum(_weight(c) for c in text[position:])


def _weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in LIGHT_RANGES) else 2


class XProblem(Exception):
    """An error answer: Problem JSON (RFC 7807 fields, as X sends them)."""

    def __init__(self, status: int, title: str, detail: str, kind: str = "about:blank",
                 headers: dict[str, str] | None = None, errors: list[dict] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.kind = status, title, detail, kind
        self.headers, self.errors = headers or {}, errors or []

    def body(self) -> dict:
        body: dict[str, Any] = {"title": self.title, "detail": self.detail, "type": self.kind, "status": self.status}
        return {**body, "errors": self.errors} if self.errors else body


@dataclass
class _Fault:
    kind: str
    fault: str
    times: int
    reset_in_s: float


@dataclass
class XSandbox:
    """`start()` -> the API base URL (X_API_URL); `config()` -> an X secret JSON (XSecret) that fits it."""

    user_id: str = "1500000000000000001"
    username: str = "attract_local"
    access_token: str = field(default_factory=lambda: "local-x-user-token-" + secrets.token_hex(8))
    client_id: str = field(default_factory=lambda: "local-x-client-" + secrets.token_hex(6))
    client_secret: str | None = None  # a public client (PKCE) by default; set: a confidential one (HTTP Basic)
    refresh_token: str = field(default_factory=lambda: "local-x-refresh-" + secrets.token_hex(8))
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    tweets: dict[str, dict] = field(default_factory=dict)  # id -> the stored post (with its private numbers)
    media: dict[str, dict] = field(default_factory=dict)  # media id -> {media_type, size} (uploaded images)
    received: list[tuple[str, str, dict]] = field(default_factory=list)  # (method, path, query + body), no token
    request_ids: list[str] = field(default_factory=list)  # x-transaction-id of every error answered

    def __post_init__(self) -> None:
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: SandboxServer | None = None
        self.url = ""
        self._expiry: dict[str, datetime] = {self.access_token: self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)}

    # ---- lifecycle and test controls -----------------------------------------------------------------

    def start(self) -> str:
        class Handler(_Handler):
            pass

        Handler.sandbox = self
        self._server = SandboxServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="x-sandbox", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        log.warning("local X sandbox (not X) at %s", self.url)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def config(self) -> dict:
        """The X secret's JSON for this sandbox: the account's user id (and handle), its OAuth 2.0 user token and
        what refreshes it (the app's client id, the refresh token, the token's expiry)."""
        with self._lock:
            config = {"user_id": self.user_id, "username": self.username, "access_token": self.access_token,
                      "client_id": self.client_id, "refresh_token": self.refresh_token,
                      "expires_at": self._expiry[self.access_token].isoformat()}
            return config | ({"client_secret": self.client_secret} if self.client_secret else {})

    def expire_tokens(self, *tokens: str) -> None:
        """Two hours pass for these access tokens (default: every one issued so far): refused (401) from now on."""
        with self._lock:
            for token in tokens or list(self._expiry):
                self._expiry[token] = self.now() - timedelta(seconds=1)

    def fail_next(self, kind: str, fault: str, *, times: int = 1, reset_in_s: float = 1.0) -> None:
        """The next `times` requests of `kind` fail: "429" (x-rate-limit-reset `reset_in_s` ahead), "503", or
        "drop" (create only: the post is made, then the connection closes without an answer)."""
        if kind not in KINDS or fault not in FAULTS or (fault == "drop" and kind != "create") or times < 1:
            raise ValueError(f"kind one of {KINDS}, fault one of {FAULTS} (drop: create only), times >= 1")
        with self._lock:
            self._faults.append(_Fault(kind, fault, times, reset_in_s))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_metrics(self, tweet_id: str, *, impressions: int, clicks: int) -> None:
        with self._lock:
            self.tweets[tweet_id]["_metrics"] = {"impressions": impressions, "clicks": clicks}

    def age(self, tweet_id: str, days: float) -> None:
        """Makes a post `days` older (the 30-day window of non-public metrics)."""
        with self._lock:
            tweet = self.tweets[tweet_id]
            tweet["_created"] -= timedelta(days=days)

    def live(self) -> list[dict]:
        """The posts not deleted, oldest first, as X would show them (t.co links, entities)."""
        with self._lock:
            return [self._public(t, ["created_at", "entities"]) for t in self.tweets.values() if not t["_deleted"]]

    def requests_to(self, method: str, path_pattern: str) -> list[dict]:
        return [params for m, path, params in list(self.received) if m == method and re.search(path_pattern, path)]

    # ---- the API ------------------------------------------------------------------------------------

    def _take_fault(self, kind: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _check_token(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            expiry = next((until for issued, until in self._expiry.items()
                           if secrets.compare_digest(token.encode(), issued.encode())), None)
        if scheme != "Bearer" or expiry is None or expiry <= self.now():
            raise XProblem(401, "Unauthorized", "Unauthorized")

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        """The refresh token grant: (status, body) as the token endpoint answers (RFC 6749 section 5)."""
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Only refresh_token is served here"}
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme == "Basic":
            try:
                client_id, _, client_secret = base64.b64decode(credentials.encode()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = ""
            authenticated = client_id == self.client_id and client_secret == (self.client_secret or "")
        else:
            authenticated = self.client_secret is None and form.get("client_id") == self.client_id
        if not authenticated:
            return 401, {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
        with self._lock:
            if not secrets.compare_digest(str(form.get("refresh_token", "")).encode(), self.refresh_token.encode()):
                return 400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
            self.access_token = "local-x-user-token-" + secrets.token_hex(8)
            self.refresh_token = "local-x-refresh-" + secrets.token_hex(8)
            self._expiry[self.access_token] = self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)
            return 200, {"token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS, "access_token": self.access_token,
                         "scope": SCOPES, "refresh_token": self.refresh_token}

    @staticmethod
    def kind_of(method: str, path: str) -> str | None:
        if method == "POST" and path == "/2/tweets":
            return "create"
        if method == "GET" and _USER_TWEETS.match(path):
            return "timeline"
        if method == "GET" and path == "/2/tweets":
            return "lookup"
        if method == "DELETE" and _ONE_TWEET.match(path):
            return "delete"
        if method == "POST" and path == "/2/media/upload":
            return "upload"
        if method == "POST" and path == TOKEN_PATH:
            return "token"
        return None

    def handle(self, method: str, path: str, params: dict, body: Any) -> tuple[int, dict]:
        kind = self.kind_of(method, path)
        with self._lock:
            if kind == "create":
                return 201, self._create(body)
            if kind == "timeline":
                return 200, self._timeline(_USER_TWEETS.match(path)["user"], params)  # type: ignore[index]
            if kind == "lookup":
                return 200, self._lookup(params)
            if kind == "delete":
                return 200, self._delete(_ONE_TWEET.match(path)["id"])  # type: ignore[index]
            if kind == "upload":
                return 200, self._upload(body)
        raise XProblem(404, "Not Found", f"Sorry, that page does not exist: {method} {path}")

    def _create(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.")
        text, media = body.get("text"), body.get("media")
        if media is not None:
            ids = media.get("media_ids") if isinstance(media, dict) else None
            if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
                raise _invalid("media.media_ids must hold 1 to 4 media ids.", "media.media_ids")
            if any(str(i) not in self.media for i in ids):
                raise _invalid("Your media IDs are invalid.", "media.media_ids")
        if not isinstance(text, str) or (not text.strip() and media is None):
            raise _invalid("A post needs text or media.", "text")
        text = unicodedata.normalize("NFC", text)
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            raise XProblem(403, "Forbidden", TOO_LONG)
        if any(t["_text"] == text for t in self.tweets.values() if not t["_deleted"]):
            raise XProblem(403, "Forbidden", DUPLICATE)
        tweet_id = str(next(_IDS))
        wrapped, entities = _wrap(text)
        self.tweets[tweet_id] = {"id": tweet_id, "text": wrapped, "entities": entities, "_text": text,
                                 "_created": self.now(), "_deleted": False,
                                 "_metrics": {"impressions": 0, "clicks": 0},
                                 "_media": list((media or {}).get("media_ids") or [])}
        return {"data": {"id": tweet_id, "text": wrapped}}

    def _timeline(self, user: str, params: dict) -> dict:
        if user != self.user_id:
            return {"errors": [_not_found("user", user, f"Could not find user with id: [{user}].")]}
        try:
            limit = int(params.get("max_results", 10))
        except ValueError:
            raise _invalid("The `max_results` query parameter value is not valid.", "max_results") from None
        if not 5 <= limit <= 100:
            raise _invalid(f"The `max_results` query parameter value [{limit}] is not between 5 and 100",
                           "max_results")
        start = _time(params["start_time"], "start_time") if params.get("start_time") else None
        posts = sorted((t for t in self.tweets.values() if not t["_deleted"] and (start is None or t["_created"] >= start)),
                       key=lambda t: int(t["id"]), reverse=True)
        offset = int(params.get("pagination_token") or 0)
        page = posts[offset:offset + limit]
        fields = _fields(params)
        answer: dict[str, Any] = {"meta": {"result_count": len(page)}}
        if page:
            answer["data"] = [self._public(t, fields) for t in page]
            answer["meta"].update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + limit < len(posts):
            answer["meta"]["next_token"] = str(offset + limit)
        return answer

    def _lookup(self, params: dict) -> dict:
        ids = [i for i in str(params.get("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            raise _invalid("The `ids` query parameter must hold 1 to 100 ids.", "ids")
        fields, data, errors = _fields(params), [], []
        for tweet_id in ids:
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet["_deleted"]:
                errors.append(_not_found("tweet", tweet_id, f"Could not find tweet with ids: [{tweet_id}]."))
                continue
            if "non_public_metrics" in fields and self.now() - tweet["_created"] > timedelta(days=NON_PUBLIC_DAYS):
                errors.append({"value": tweet_id, "detail": "non_public_metrics are only available for Tweets "
                               "created within the last 30 days.", "title": "Field Authorization Error",
                               "resource_type": "tweet", "field": "non_public_metrics", "resource_id": tweet_id,
                               "type": "https://api.twitter.com/2/problems/not-authorized-for-field"})
                data.append(self._public(tweet, [f for f in fields if f != "non_public_metrics"]))
                continue
            data.append(self._public(tweet, fields))
        answer: dict[str, Any] = {}
        if data:
            answer["data"] = data
        if errors:
            answer["errors"] = errors
        return answer

    def _upload(self, body: Any) -> dict:
        """POST /2/media/upload, one request: the image base64 in `media`, category tweet_image, an image type."""
        if not isinstance(body, dict) or not isinstance(body.get("media"), str):
            raise _invalid("media is required.", "media")
        if body.get("media_category") != "tweet_image":
            raise _invalid("media_category must be tweet_image for an image post.", "media_category")
        if body.get("media_type") not in IMAGE_TYPES:
            raise _invalid(f"media_type must be one of {sorted(IMAGE_TYPES)}.", "media_type")
        try:
            data = base64.b64decode(body["media"], validate=True)
        except ValueError:
            raise _invalid("media must be base64.", "media") from None
        if not data or len(data) > MAX_IMAGE_BYTES:
            raise _invalid(f"An image must be 1 byte to {MAX_IMAGE_BYTES} bytes.", "media")
        media_id = str(next(_IDS))
        self.media[media_id] = {"media_type": body["media_type"], "size": len(data)}
        return {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                         "expires_after_secs": 86400, "processing_info": {"state": "succeeded"}}}

    def _delete(self, tweet_id: str) -> dict:
        tweet = self.tweets.get(tweet_id)
        if tweet is None or tweet["_deleted"]:
            raise XProblem(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].",
                           "https://api.twitter.com/2/problems/resource-not-found")
        tweet["_deleted"] = True
        return {"data": {"deleted": True}}

    def _public(self, tweet: dict, fields: list[str]) -> dict:
        item: dict[str, Any] = {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
        metrics = tweet["_metrics"]
        if "created_at" in fields:
            item["created_at"] = tweet["_created"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "entities" in fields and tweet["entities"]:
            item["entities"] = tweet["entities"]
        if "public_metrics" in fields:
            item["public_metrics"] = {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                                      "bookmark_count": 0, "impression_count": metrics["impressions"]}
        if "non_public_metrics" in fields:
            item["non_public_metrics"] = {"impression_count": metrics["impressions"],
                                          "url_link_clicks": metrics["clicks"], "user_profile_clicks": 0}
        return item


def _wrap(text: str) -> tuple[str, dict]:
    """The text as X stores it: each URL replaced by a t.co link, the original kept in entities.urls."""
    out, entities, position = [], [], 0
    for start, end, url in urls(text):
        out.append(text[position:start])
        short = "https://t.co/" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
        begin = sum(len(part) for part in out)
        out.append(short)
        display = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE)
        entities.append({"start": begin, "end": begin + len(short), "url": short, "expanded_url": url,
                         "display_url": display if len(display) <= 26 else display[:25] + "…"})
        position = end
    out.append(text[position:])
    return "".join(out), ({"urls": entities} if entities else {})


def _invalid(message: str, parameter: str | None = None) -> XProblem:
    return XProblem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                    errors=[{"parameters": {parameter: []} if parameter else {}, "message": message}])


def _not_found(resource: str, value: str, detail: str) -> dict:
    return {"value": value, "detail": detail, "title": "Not Found Error", "resource_type": resource,
            "parameter": "id" if resource == "user" else "ids", "resource_id": value,
            "type": "https://api.twitter.com/2/problems/resource-not-found"}


def _time(value: str, name: str) -> datetime:
    """X's timestamps: YYYY-MM-DDTHH:mm:ssZ (RFC 3339)."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"Invalid '{name}':'{value}'. '{name}' must be a valid RFC 3339 timestamp.", name) from None
    if parsed.tzinfo is None:
        raise _invalid(f"Invalid '{name}':'{value}'. '{name}' must carry a time zone (Z).", name)
    return parsed


def _fields(params: dict) -> list[str]:
    return [f.strip() for f in str(params.get("tweet.fields") or "").split(",") if f.strip()]


class _Handler(SandboxHandler):
    sandbox: XSandbox
    server_version = "LocalXSandbox/1"
    protocol_version = "HTTP/1.1"

    def _read(self) -> tuple[str, dict, Any]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = parts.path.rstrip("/") or "/"
        if path == TOKEN_PATH:  # the OAuth token endpoint takes a form, not JSON
            body: Any = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        else:
            body = json.loads(raw) if raw else None
        return path, dict(parse_qsl(parts.query, keep_blank_values=True)), body

    def _serve(self, method: str) -> None:
        sandbox = self.sandbox
        try:
            path, params, body = self._read()
        except (ValueError, UnicodeDecodeError):
            self._problem(_invalid("The request body is not valid JSON."))
            return
        if path.startswith("/_sandbox/"):
            self._control(method, path, body)
            return
        if method == "POST" and path == TOKEN_PATH:
            sandbox.received.append((method, path, {"grant_type": body.get("grant_type")}))  # never the tokens
            fault = sandbox._take_fault("token")
            if fault is not None and fault.fault == "503":
                self._answer(503, {"error": "server_error", "error_description": "Service Unavailable"})
                return
            self._answer(*sandbox.token(body, self.headers.get("Authorization")))
            return
        try:
            sandbox._check_token(self.headers.get("Authorization"))
        except XProblem as problem:
            self._problem(problem)
            return
        sandbox.received.append((method, path, {**params, **(body if isinstance(body, dict) else {})}))
        kind = sandbox.kind_of(method, path)
        fault = sandbox._take_fault(kind) if kind else None
        try:
            if fault is not None and fault.fault == "429":
                reset = int(time.time() + fault.reset_in_s)
                raise XProblem(429, "Too Many Requests", "Too Many Requests", headers={
                    "x-rate-limit-limit": str(RATE_LIMIT), "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset)})
            if fault is not None and fault.fault == "503":
                raise XProblem(503, "Service Unavailable", "Service Unavailable")
            status, answer = sandbox.handle(method, path, params, body)
        except XProblem as problem:
            self._problem(problem)
            return
        if fault is not None and fault.fault == "drop":  # applied; the answer is lost on the way
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._answer(status, answer)

    def _control(self, method: str, path: str, body: Any) -> None:
        """The e2e tests' handle on the sandbox (local only): faults, metrics, what it holds."""
        sandbox, body = self.sandbox, body if isinstance(body, dict) else {}
        try:
            if path == "/_sandbox/faults" and method == "POST":
                sandbox.fail_next(str(body.get("kind")), str(body.get("fault")), times=int(body.get("times", 1)),
                                  reset_in_s=float(body.get("reset_in_s", 1.0)))
                self._answer(200, {"ok": True})
            elif path == "/_sandbox/faults" and method == "DELETE":
                sandbox.clear_faults()
                self._answer(200, {"ok": True})
            elif path == "/_sandbox/metrics" and method == "POST":
                sandbox.set_metrics(str(body["id"]), impressions=int(body["impressions"]), clicks=int(body["clicks"]))
                self._answer(200, {"ok": True})
            elif path == "/_sandbox/expire-tokens" and method == "POST":
                sandbox.expire_tokens()
                self._answer(200, {"ok": True})
            elif path == "/_sandbox/tweets" and method == "GET":
                self._answer(200, {"data": sandbox.live()})
            elif path.startswith("/_sandbox/images/") and path.endswith(".png") and method == "GET":
                self._raw(200, PIXEL_PNG, "image/png")
            else:
                self._answer(404, {"error": f"no control {method} {path}"})
        except (KeyError, TypeError, ValueError) as error:
            self._answer(400, {"error": f"{type(error).__name__}: {error}"})

    def _raw(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, problem: XProblem) -> None:
        body = problem.body()
        request_id = uuid.uuid4().hex[:16]
        self.sandbox.request_ids.append(request_id)
        self._answer(problem.status, body, content_type="application/problem+json",
                     headers={**problem.headers, "x-transaction-id": request_id})

    def _answer(self, status: int, body: dict, *, content_type: str = "application/json; charset=utf-8",
                headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        headers = headers or {}
        if "x-rate-limit-limit" not in headers:
            headers = {"x-rate-limit-limit": str(RATE_LIMIT), "x-rate-limit-remaining": str(RATE_LIMIT - 1),
                       "x-rate-limit-reset": str(int(time.time()) + 900), **headers}
        headers.setdefault("x-transaction-id", uuid.uuid4().hex[:16])
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    """`python -m attract_local.sandboxes.x`: the sandbox on its own, its URL and a matching secret printed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sandbox = XSandbox()
    url = sandbox.start()
    print(f"X_API_URL={url}")
    print(f"X secret (sandbox credentials, not X's): {json.dumps(sandbox.config())}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
