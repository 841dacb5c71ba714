"""X (organic posts) through tweepy's API v2 client: the only module that knows the X API.

Imported lazily by the posts worker through the channel registry (attract.posts.channels, row "x"). The
account posts with an OAuth 2.0 user access token (scopes tweet.read, tweet.write, users.read): tweepy sends it
as the bearer token (`user_auth=False` on every call, tweepy's default for create/delete being OAuth 1.0a).

tweepy 4.17 builds every URL as "https://api.twitter.com" + route inside `BaseClient.request`, with no setting
for the host. Its `session` attribute (a requests.Session) is where tweepy lets a caller shape the HTTP: this
adapter gives it a session that sends those URLs to `endpoint` (X_API_URL: https://api.x.com, or the local
sandbox) with a timeout, so tweepy's own request building and error classes run unchanged.

`publish` is one create call (the worker claims, and after a lost answer calls `find` before posting again).
Rate limits (429) are retried here, waiting for `x-rate-limit-reset` when it is near (else giving up at once)
and with exponential backoff otherwise, then raised as RateLimited. tweepy's `wait_on_rate_limit` stays off: it
would sleep up to 15 minutes inside a Lambda.

Nothing here logs, and tweepy's debug lines (which hold the Authorization header and the post's text) are
dropped by a filter on its logger. Errors carry X's status, Problem title/type and x-transaction-id, never the
request or the token.
"""

import base64
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, TypeVar

import requests
import tweepy
from pydantic import BaseModel, ConfigDict, StringConstraints

from attract import retry
from attract.posts.ports import PlatformError, PostContent, PostMetrics, PublishedPost, RateLimited
from attract.providers.images import ImageRefused, fetch_image, on_loopback

T = TypeVar("T")
X = "x"
TWEEPY_HOST = "https://api.twitter.com"  # what tweepy 4.17 prefixes to every route (BaseClient.request)
TIMELINE_PAGE = 100  # max_results' upper bound on GET /2/users/:id/tweets
TIMELINE_PAGES = 5  # find looks through at most 500 posts since `since`: far more than an account posts in a day
LOOKUP_BATCH = 100  # GET /2/tweets takes up to 100 ids
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # of POST /2/media/upload's, the registry's
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # X's image limit (the registry row's images.max_bytes)
MAX_RESET_WAIT_S = 60.0  # a rate-limit window resetting later than this is not waited for here
DUPLICATE_DETAIL = "duplicate content"
_TRACE_HEADER = "x-transaction-id"


def post_text(content: PostContent) -> str:
    """What is posted: the marketer's text, a line break, the tracked link (X counts the link as 23)."""
    return f"{content.text.rstrip()}\n{content.link}" if content.text.strip() else content.link


class _NoWireLogs(logging.Filter):
    """tweepy logs every request and answer at DEBUG with the Authorization header and the body: never kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Making API request", "Received API response"))


_tweepy_log = logging.getLogger("tweepy.client")
if not any(isinstance(f, _NoWireLogs) for f in _tweepy_log.filters):
    _tweepy_log.addFilter(_NoWireLogs())


class _RebasedSession(requests.Session):
    """Sends tweepy's https://api.twitter.com/... requests to `base` instead, with a timeout (tweepy sets none)."""

    def __init__(self, base: str, timeout_s: float):
        super().__init__()
        self.base, self.timeout_s = base.rstrip("/"), timeout_s

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        text = url.decode() if isinstance(url, bytes) else url
        if not text.startswith(TWEEPY_HOST + "/"):
            raise ValueError("the X client only calls the X API")  # nothing else may get the bearer token
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, self.base + text[len(TWEEPY_HOST):], *args, **kwargs)


Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class XConfig(BaseModel):
    """The X secret's JSON (X_SECRET_ID, XSecret): the account's numeric user id and an OAuth 2.0 user token."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)

    user_id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,20}$")]
    access_token: Credential
    username: str | None = None  # the handle, for post URLs (x.com/<handle>/status/<id>); else x.com/i/web/status


def _problem(error: tweepy.HTTPException) -> dict:
    try:
        body = error.response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def platform_error(error: tweepy.HTTPException) -> PlatformError:
    """An X refusal as our error: codes "<status>", the Problem's title and type (and "duplicate_content")."""
    status = error.response.status_code
    body = _problem(error)
    title, kind, detail = body.get("title"), body.get("type"), str(body.get("detail") or "")
    codes = [str(status)] + [str(value) for value in (title, kind) if value]
    if DUPLICATE_DETAIL in detail.lower():
        codes.append("duplicate_content")
    request_id = error.response.headers.get(_TRACE_HEADER)
    message = f"X: {title or error.response.reason or 'request failed'}" + (f" ({detail})" if detail else "")
    if status == 429:
        return RateLimited(X, message, codes, request_id)
    return PlatformError(X, message, codes, request_id, retryable=status >= 500)


class _WaitTooLong(Exception):
    def __init__(self, error: RateLimited):
        self.error = error


class XPostsGateway:
    """OrganicGateway for channel "x". `config`: the X secret (XConfig); `endpoint`: the API base (X_API_URL)."""

    channel = X

    def __init__(self, config: dict, endpoint: str, attempts: int = 4, backoff_base_s: float = 1.0, *,
                 timeout_s: float = 10, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, max_reset_wait_s: float = MAX_RESET_WAIT_S):
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        self.config = XConfig.model_validate(config)
        self.client = tweepy.Client(bearer_token=self.config.access_token, return_type=dict, wait_on_rate_limit=False)
        self.client.session = _RebasedSession(endpoint, timeout_s)
        self.endpoint = endpoint
        self._attempts, self._backoff_base_s, self._timeout_s = attempts, backoff_base_s, timeout_s
        self._sleep, self._clock, self._max_reset_wait_s = sleep, clock, max_reset_wait_s

    # ---- plumbing --------------------------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        """One tweepy call: 429s retried (honouring x-rate-limit-reset, bounded), everything else a PlatformError."""
        reset_wait: list[float] = []  # the last 429's wait until its window resets

        def once() -> T:
            try:
                return self._once(call)
            except _Throttled as throttled:
                wait = throttled.wait_s
                if wait is not None and wait > self._max_reset_wait_s:
                    raise _WaitTooLong(throttled.error) from None
                reset_wait[:] = [wait or 0.0]
                raise throttled.error from None

        def sleep(backoff_s: float) -> None:
            self._sleep(max([backoff_s, *reset_wait]))

        try:
            return retry.with_backoff(once, retry_on=RateLimited, attempts=self._attempts,
                                      base_s=self._backoff_base_s, cap_s=self._max_reset_wait_s, sleep=sleep)
        except _WaitTooLong as too_long:
            raise too_long.error from None

    def _once(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except tweepy.TooManyRequests as error:
            reset = error.response.headers.get("x-rate-limit-reset")
            wait = max(0.0, float(reset) - self._clock()) + 1.0 if reset and reset.isdigit() else None
            throttled = platform_error(error)
            assert isinstance(throttled, RateLimited)  # a 429 is always one
            raise _Throttled(throttled, wait) from None
        except tweepy.HTTPException as error:
            raise platform_error(error) from None  # the exception holds the request: never chained
        except requests.Timeout:
            # X may have applied the call: the worker looks the post up (find) before posting again.
            raise PlatformError(X, "X: request timed out", ["timeout"], retryable=True) from None
        except requests.RequestException as error:
            raise PlatformError(X, f"X: connection failed ({type(error).__name__})", ["connection"],
                                retryable=True) from None

    def _url(self, post_id: str) -> str:
        if self.config.username:
            return f"https://x.com/{self.config.username}/status/{post_id}"
        return f"https://x.com/i/web/status/{post_id}"

    # ---- OrganicGateway -------------------------------------------------------------------------------

    def publish(self, content: PostContent) -> PublishedPost:
        """POST /2/tweets, once; with an image, the image is uploaded first (POST /2/media/upload) and named by
        media.media_ids. An upload repeated after a failure only leaves an unused media id, which X expires."""
        media_ids = [self._upload(content.image_url)] if content.image_url else None
        answer: dict = self._call(lambda: self.client.create_tweet(text=post_text(content), media_ids=media_ids,
                                                                    user_auth=False))
        post_id = str((answer.get("data") or {}).get("id") or "")
        if not post_id:
            raise PlatformError(X, "X answered a create without a post id", ["no_id"])
        return PublishedPost(post_id=post_id, url=self._url(post_id))

    def _upload(self, image_url: str) -> str:
        """The image fetched (an image type X takes, at most 5 MB) and uploaded in one request: tweepy 4.17 has
        no v2 media upload, so this goes through tweepy's own `request` (same session, token and errors)."""
        data, media_type = self._fetch(image_url)
        body = {"media": base64.b64encode(data).decode(), "media_category": "tweet_image", "media_type": media_type}
        answer = self._call(lambda: self.client.request("POST", "/2/media/upload", json=body, user_auth=False))
        media_id = str((answer.json().get("data") or {}).get("id") or "")
        if not media_id:
            raise PlatformError(X, "X answered an upload without a media id", ["no_media_id"])
        return media_id

    def _fetch(self, image_url: str) -> tuple[bytes, str]:
        """GET image_url (a plain request, never the X session and its token)."""
        try:
            return fetch_image(image_url, types=IMAGE_TYPES, max_bytes=MAX_IMAGE_BYTES, timeout_s=self._timeout_s,
                               allow_loopback=on_loopback(self.endpoint))
        except ImageRefused as refused:
            raise PlatformError(X, f"X: {refused}", [refused.code], retryable=refused.retryable) from None

    def find(self, marker: str, since: datetime) -> PublishedPost | None:
        """The account's post since `since` carrying `marker`: X wraps links (t.co) in `text`, so the tracked
        link is looked for in entities.urls[].expanded_url, and in the text in case X left it as written."""
        wanted = marker.rstrip("/")
        for tweet in self._timeline(since):
            expanded = [str(u.get("expanded_url") or "").rstrip("/") for u in (tweet.get("entities") or {}).get("urls") or []]
            if wanted in expanded or marker in str(tweet.get("text") or ""):
                return PublishedPost(post_id=str(tweet["id"]), url=self._url(str(tweet["id"])))
        return None

    def _timeline(self, since: datetime) -> Iterator[dict]:
        start = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        token: str | None = None
        for _ in range(TIMELINE_PAGES):
            params: dict[str, Any] = {"start_time": start, "max_results": TIMELINE_PAGE,
                                      "tweet_fields": ["created_at", "entities"]}
            if token:
                params["pagination_token"] = token
            page: dict = self._call(lambda p=params: self.client.get_users_tweets(  # type: ignore[misc]
                self.config.user_id, user_auth=False, **p))
            yield from page.get("data") or []
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                return

    def delete(self, post_id: str) -> None:
        """DELETE /2/tweets/:id; a post X no longer has (404, or deleted: false) is already what we want."""
        try:
            self._call(lambda: self.client.delete_tweet(post_id, user_auth=False))
        except PlatformError as error:
            if "404" not in error.codes:
                raise

    def metrics(self, post_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Impressions and link clicks (non_public_metrics: the author's token, posts of the last 30 days);
        past 30 days, impressions from public_metrics and clicks unknown. Posts X no longer has are left out."""
        result: dict[str, PostMetrics] = {}
        ids = list(dict.fromkeys(str(i) for i in post_ids))
        for offset in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[offset:offset + LOOKUP_BATCH]
            answer: dict = self._call(lambda b=batch: self.client.get_tweets(  # type: ignore[misc]
                b, tweet_fields=["public_metrics", "non_public_metrics"], user_auth=False))
            for tweet in answer.get("data") or []:
                private = tweet.get("non_public_metrics") or {}
                public = tweet.get("public_metrics") or {}
                impressions = private.get("impression_count", public.get("impression_count"))
                clicks = private.get("url_link_clicks")
                result[str(tweet["id"])] = PostMetrics(
                    impressions=int(impressions) if impressions is not None else None,
                    clicks=int(clicks) if clicks is not None else None)
        return result


class _Throttled(Exception):
    def __init__(self, error: RateLimited, wait_s: float | None):
        self.error, self.wait_s = error, wait_s
