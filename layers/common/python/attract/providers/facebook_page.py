"""Organic posts on the employer's Facebook Page through the official `facebook_business` SDK (Graph API).

The OrganicGateway of channel "facebook_page" (attract.posts.channels). The secret (FacebookPageSecret) holds the
Page's id and a Page access token (pages_manage_posts, pages_read_engagement); the endpoint is the Graph host
(META_GRAPH_URL: the local Meta sandbox, or https://graph.facebook.com), the API version the SDK's own, as for ads.

- publish: one create, `POST /{page-id}/feed` (message, link) or, with an image, `POST /{page-id}/photos` (url,
  message). The message carries the tracked link (the registry counts it in the 63,206 characters), so the post
  can be found by it: after a lost answer the core calls `find` before it posts again.
- find: `GET /{page-id}/posts?since=...`, newest first, paged, for the post whose message holds the marker.
- delete: `DELETE /{post-id}`; a post already gone (code 100, subcode 33) is not an error.
- metrics: `GET /{post-id}/insights?metric=post_media_view,post_clicks`. Meta deprecated post_impressions on
  2025-11-15 (post_media_view is its replacement, docs/platforms.md); a metric the API refuses is None.

Rate limits (codes 4, 17, 32, 613, 800xx) are retried here with full-jitter backoff, waiting at least the
X-Business-Use-Case-Usage `estimated_time_to_regain_access` when Meta gives one (capped), then RateLimited.
Nothing here logs: the SDK puts the token in the URL, and the message is the marketer's text. Errors carry
Meta's codes and fbtrace_id only, never the SDK exception as a cause.
"""

import json
import logging
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from facebook_business.adobjects.page import Page
from facebook_business.adobjects.pagepost import PagePost
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError, FacebookRequestError
from facebook_business.session import FacebookSession
from pydantic import BaseModel, ConfigDict, StringConstraints

from attract import retry
from attract.posts.ports import PlatformError, PostContent, PostMetrics, PublishedPost, RateLimited

T = TypeVar("T")

CHANNEL = "facebook_page"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80000, 80001, 80003, 80004, 80005, 80014})
TRANSIENT_CODES = frozenset({1, 2})
GONE = (100, 33)  # "Object with ID ... does not exist, cannot be loaded due to missing permissions, or ..."
IMPRESSIONS, CLICKS = "post_media_view", "post_clicks"
POST_FIELDS = ["id", "message", "permalink_url", "created_time"]
PAGE_SIZE = 100
MAX_PAGES = 20  # find reads at most 20 pages back (2,000 posts): more since `since` is not a Page we post to
_TRACE_HEADERS = ("x-fb-trace-id", "x-fb-request-id")

_SECRET_PARAMS = re.compile(r"((?:access_token|appsecret_proof)=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """The SDK sends the token in every URL's query string, and urllib3 logs request lines at DEBUG: the value
    is replaced before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "access_token=" in text or "appsecret_proof=" in text:
            record.msg, record.args = _SECRET_PARAMS.sub(r"\1[redacted]", text), None
        return True


_REDACT = RedactTokens()
for _name in ("urllib3.connectionpool", "requests"):
    if _REDACT not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACT)

Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class FacebookPageConfig(BaseModel):
    """The FacebookPageSecret's JSON."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)

    page_id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,32}$")]
    page_access_token: Credential


def regain_access_s(headers: dict[str, str]) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes, in X-Business-Use-Case-Usage) in seconds."""
    raw = next((value for name, value in headers.items() if name.lower() == "x-business-use-case-usage"), None)
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [float(entry.get("estimated_time_to_regain_access") or 0)
                   for entries in usage.values() for entry in entries]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes, default=0) * 60 or None


class _Throttled(RateLimited):
    """A RateLimited with Meta's own wait hint (seconds), for the retry loop."""

    def __init__(self, message: str, codes: Sequence[str], request_id: str | None, wait_s: float | None):
        super().__init__(CHANNEL, message, codes, request_id)
        self.wait_s = wait_s


def platform_error(error: FacebookRequestError) -> PlatformError:
    """A Graph refusal as our error: codes "<code>" and "<code>/<subcode>", Meta's message and fbtrace_id."""
    code, subcode = error.api_error_code(), error.api_error_subcode()
    codes = [str(code)] if code is not None else [f"http_{error.http_status()}"]
    if code is not None and subcode is not None:
        codes.append(f"{code}/{subcode}")
    headers = dict(error.http_headers() or {})
    body = error.body() if isinstance(error.body(), dict) else {}
    request_id = (body.get("error") or {}).get("fbtrace_id") \
        or next((headers[name] for name in _TRACE_HEADERS if headers.get(name)), None)
    message = f"Facebook: {error.api_error_message() or 'request failed'}"
    if code in RATE_LIMIT_CODES:
        return _Throttled(message, codes, request_id, regain_access_s(headers))
    transient = code in TRANSIENT_CODES or bool(error.api_transient_error()) or (error.http_status() or 0) >= 500
    return PlatformError(CHANNEL, message, codes, request_id, retryable=transient)


class FacebookPageGateway:
    """OrganicGateway for channel "facebook_page"."""

    channel = CHANNEL

    def __init__(self, config: dict, endpoint: str, attempts: int = 4, backoff_base_s: float = 1.0, *,
                 timeout_s: float = 10, max_wait_s: float = 30.0, sleep: Callable[[float], None] | None = None,
                 jitter: Callable[[], float] = random.random, page_size: int = PAGE_SIZE):
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        self.config = FacebookPageConfig.model_validate(config)
        self.page_id = self.config.page_id
        # As the Meta ads adapter: the class attribute too, so that nothing the SDK builds reaches another host.
        FacebookSession.GRAPH = endpoint.rstrip("/")
        # No app secret: a Page token is used as Meta issues it (appsecret_proof needs the app's secret).
        self.api = FacebookAdsApi(FacebookSession(access_token=self.config.page_access_token, timeout=timeout_s))
        self.api._session.GRAPH = endpoint.rstrip("/")  # type: ignore[attr-defined]
        self._attempts, self._base_s, self._max_wait_s = max(1, attempts), backoff_base_s, max_wait_s
        self._sleep = sleep or time.sleep
        self._jitter = jitter
        self._page_size = page_size

    # ---- plumbing --------------------------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        """One SDK call: rate limits retried with backoff (at least Meta's hint, at most max_wait_s), then
        RateLimited; everything else a PlatformError at once."""
        hint = [0.0]  # Meta's estimate after the last throttled attempt, in seconds

        def attempt() -> T:
            try:
                return self._once(call)
            except _Throttled as throttled:
                hint[0] = throttled.wait_s or 0.0
                raise

        def pause(delay: float) -> None:
            self._sleep(min(self._max_wait_s, max(delay, hint[0])))

        try:
            return retry.with_backoff(attempt, retry_on=_Throttled, attempts=self._attempts, base_s=self._base_s,
                                      cap_s=self._max_wait_s, sleep=pause, jitter=self._jitter)
        except _Throttled as throttled:
            raise RateLimited(CHANNEL, throttled.message, throttled.codes, throttled.request_id) from None

    @staticmethod
    def _once(call: Callable[[], T]) -> T:
        import requests

        try:
            return call()
        except FacebookRequestError as error:
            raise platform_error(error) from None  # the SDK error holds the request (token, message): never chain it
        except requests.Timeout:
            raise PlatformError(CHANNEL, "Facebook: request timed out", ["timeout"], retryable=True) from None
        except requests.RequestException as error:
            # Its text holds the URL, and with it the token: only the type is kept. Facebook may have posted.
            raise PlatformError(CHANNEL, f"Facebook: connection failed ({type(error).__name__})", ["connection"],
                                retryable=True) from None
        except FacebookError as error:
            raise PlatformError(CHANNEL, f"Facebook SDK refused the call ({type(error).__name__})", ["sdk"]) from None

    def _page(self) -> Page:
        return Page(self.page_id, api=self.api)

    @staticmethod
    def message(content: PostContent) -> str:
        """The post's message: the marketer's text, then the tracked link (the marker `find` looks for)."""
        return f"{content.text.rstrip()}\n\n{content.link}" if content.text.strip() else content.link

    # ---- OrganicGateway -------------------------------------------------------------------------------

    def publish(self, content: PostContent) -> PublishedPost:
        page, message = self._page(), self.message(content)
        if content.image_url:
            created = self._call(lambda: page.create_photo(params={"url": content.image_url, "message": message,
                                                                   "published": True}))
            post_id = str(created.get("post_id") or "")  # `id` is the photo's; `post_id` the Page post's
        else:
            created = self._call(lambda: page.create_feed(params={"message": message, "link": content.link}))
            post_id = str(created.get("id") or "")
        if not post_id:
            raise PlatformError(CHANNEL, "Facebook: the answer named no post", ["no_post_id"])
        # The URL from the id (one call: no read-back); `find` and GET /{post-id} give Meta's permalink_url
        return PublishedPost(post_id=post_id, url=_permalink(post_id))

    def find(self, marker: str, since: datetime) -> PublishedPost | None:
        def look() -> PublishedPost | None:
            cursor = self._page().get_posts(fields=POST_FIELDS,
                                            params={"since": int(since.timestamp()), "limit": self._page_size})
            for index, post in enumerate(cursor):
                if marker in str(post.get("message") or ""):
                    post_id = str(post["id"])
                    return PublishedPost(post_id=post_id, url=str(post.get("permalink_url") or _permalink(post_id)))
                if index >= self._page_size * MAX_PAGES:
                    break
            return None
        return self._call(look)

    def delete(self, post_id: str) -> None:
        try:
            self._call(lambda: PagePost(post_id, api=self.api).api_delete())
        except PlatformError as error:
            if f"{GONE[0]}/{GONE[1]}" not in error.codes:
                raise

    def metrics(self, post_ids: Sequence[str]) -> dict[str, PostMetrics]:
        return {post_id: self._metrics(post_id) for post_id in post_ids}

    def _metrics(self, post_id: str) -> PostMetrics:
        def read() -> dict[str, int]:
            with warnings.catch_warnings():
                # The SDK types `metric` as list<Object>; Graph takes metric names (strings), as sent here
                warnings.filterwarnings("ignore", message="value of metric might not be compatible",
                                        category=UserWarning)
                rows = PagePost(post_id, api=self.api).get_insights(params={"metric": [IMPRESSIONS, CLICKS]})
            return {str(row["name"]): _lifetime(row) for row in rows}
        try:
            figures = self._call(read)
        except PlatformError as error:
            if error.codes[:1] == ["100"]:  # a metric Meta no longer serves, or a post gone: nothing to count
                return PostMetrics(impressions=None, clicks=None)
            raise
        return PostMetrics(impressions=figures.get(IMPRESSIONS), clicks=figures.get(CLICKS))


def _permalink(post_id: str) -> str:
    """A Page post's URL from its id `<page>_<post>`, when Meta's permalink_url is not in the answer."""
    page, _, number = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{number}"


def _lifetime(row: Any) -> int:
    values = row.get("values") or []
    value = values[-1].get("value") if values else 0
    return int(value) if isinstance(value, (int, float, str)) and str(value).isdigit() else 0
