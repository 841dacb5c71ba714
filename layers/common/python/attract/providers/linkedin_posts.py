"""LinkedIn organisation posts through LinkedIn's official `linkedin-api-client` (RestliClient): the only module
that knows the versioned Posts API.

- publish: one `POST /rest/posts` (Rest.li CREATE) authored by the organisation, `LinkedIn-Version` from the
  secret; the post URN comes back in the `x-restli-id` header. The text goes in `commentary`, escaped for
  LinkedIn's "little" text format; the tracked link is the article's `source` (LinkedIn shows it as a card), so
  the link is never escaped. An image is uploaded first through the Images API (`initializeUpload`, then a PUT
  of the bytes) and becomes the article's thumbnail.
- find: the posts finder `q=author`, newest first (`sortBy=LAST_MODIFIED`), paged back to `since`.
- delete: `DELETE /rest/posts/{urn}`; a post already gone (404) is not an error.
- metrics: `organizationalEntityShareStatistics` (q=organizationalEntity) with `shares=List(...)` and
  `ugcPosts=List(...)`: impressionCount and clickCount.

The client builds every URL from a module constant (https://api.linkedin.com/rest) and sends without a
timeout. Its documented extension point is its `session` (a requests.Session: "Session attributes can be
modified, which will affect all requests"): a transport adapter mounted there for LinkedIn's host sends to our
endpoint (the local sandbox, or LinkedIn itself) with a timeout, and turns an error status into our error before
the client's formatter reads the body as a result. Nothing of ours is patched.

Nothing here logs. Errors carry LinkedIn's status, code and serviceErrorCode and the request id (x-li-uuid),
never the request (its Authorization header holds the token, its body the commentary).
"""

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

import requests
from linkedin_api.clients.restli.client import RestliClient
from linkedin_api.common.errors import ResponseFormattingError
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from requests.adapters import HTTPAdapter

from attract import retry
from attract.posts.little import escape_little
from attract.posts.ports import PlatformError, PostContent, PostMetrics, PublishedPost, RateLimited
from attract.providers.images import ImageRefused, fetch_image, on_loopback

T = TypeVar("T")

PLATFORM = "linkedin"
LINKEDIN_API = "https://api.linkedin.com"  # what the client hard-codes (linkedin_api.common.constants)
# A version LinkedIn lists as live in late 2026 (monthly versions, each supported at least a year:
# learn.microsoft.com/en-us/linkedin/marketing/versioning). The secret's "version" overrides it; bump it yearly.
DEFAULT_VERSION = "202607"
MAX_COMMENTARY = 3000  # characters, after escaping (the Posts API's commentary)
FINDER_PAGE = 50  # posts per finder page
FINDER_PAGES = 10  # at most this many pages back: a lost answer is minutes old, not 500 posts ago
STATS_BATCH = 20  # URNs per statistics call (the URL stays short)
RETRY_AFTER_CAP_S = 60.0  # a Retry-After longer than this is not waited for inside one call
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif"}


def unescape_little(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class LinkedInConfig(BaseModel):
    """The LinkedIn secret's JSON (LINKEDIN_SECRET_ID)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    organization_urn: Credential
    access_token: Credential
    version: str = DEFAULT_VERSION

    @field_validator("organization_urn")
    @classmethod
    def _urn(cls, value: str) -> str:
        digits = value.removeprefix("urn:li:organization:")
        if not digits.isdigit():
            raise ValueError("organization_urn must be urn:li:organization:<digits> (or the digits)")
        return f"urn:li:organization:{digits}"

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> str:
        text = str(value or "").strip() or DEFAULT_VERSION
        if not (len(text) == 6 and text.isdigit()) and not (len(text) == 9 and text[:6].isdigit() and text[6] == "."):
            raise ValueError("version must be YYYYMM or YYYYMM.RR")
        return text


class _HttpError(Exception):
    """An error status, raised by the transport before the client's formatter reads the body."""

    def __init__(self, response: requests.Response):
        super().__init__(response.status_code)
        self.response = response


class _ToEndpoint(HTTPAdapter):
    """Sends what the client addresses to https://api.linkedin.com to `endpoint` instead, with a timeout."""

    def __init__(self, endpoint: str, timeout_s: float):
        super().__init__(max_retries=0)  # never a hidden retry of a create: at most once is the publisher's
        self.endpoint, self.timeout_s = endpoint.rstrip("/"), timeout_s

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and request.url.startswith(LINKEDIN_API):
            request.url = self.endpoint + request.url[len(LINKEDIN_API):]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout_s
        response = super().send(request, **kwargs)
        if response.status_code >= 400:  # before the client's formatter reads an error body as a result
            response.content  # noqa: B018 - read now: the connection goes back to the pool
            raise _HttpError(response)
        return response


def platform_error(response: requests.Response) -> PlatformError:
    """A LinkedIn refusal as our error: codes "http_<status>", "<code>" and "service_<serviceErrorCode>"."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    status = response.status_code
    codes = [f"http_{status}"]
    if body.get("code"):
        codes.append(str(body["code"]))
    if body.get("serviceErrorCode") is not None:
        codes.append(f"service_{body['serviceErrorCode']}")
    request_id = response.headers.get("x-li-uuid") or response.headers.get("x-restli-id")
    message = f"LinkedIn: {str(body.get('message') or response.reason or 'request failed')[:300]}"
    if status == 429:
        return RateLimited(PLATFORM, message, codes, request_id)
    return PlatformError(PLATFORM, message, codes, request_id, retryable=status >= 500)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), RETRY_AFTER_CAP_S) if value.isdigit() else None


class LinkedInPostsGateway:
    """OrganicGateway for channel "linkedin_org". `config` is the LinkedIn secret's JSON (LinkedInConfig);
    `endpoint` the API's base URL (LINKEDIN_API_URL: https://api.linkedin.com, or the local sandbox's)."""

    channel = "linkedin_org"

    def __init__(self, config: dict, endpoint: str, attempts: int = 4, backoff_base_s: float = 1.0, *,
                 timeout_s: float = 10, sleep: Callable[[float], None] = time.sleep,
                 max_image_bytes: int = 36_152_320):
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        self.config = LinkedInConfig.model_validate(config)
        self.version = self.config.version
        self.client = RestliClient()
        self.client.session.mount(LINKEDIN_API + "/", _ToEndpoint(endpoint, timeout_s))
        self.endpoint, self._timeout_s = endpoint.rstrip("/"), timeout_s
        self._sleep, self._attempts, self._backoff_base_s = sleep, max(1, attempts), backoff_base_s
        self._max_image_bytes = max_image_bytes

    # ---- plumbing --------------------------------------------------------------------------------------

    def _call(self, call: Callable[[], T], *, idempotent: bool = False) -> T:
        """One API call: a 429 is waited out (Retry-After when LinkedIn gives one, else exponential backoff with
        jitter) and tried again, `attempts` times in all, then RateLimited; everything else a PlatformError.
        An idempotent call (a read, a delete) is tried again after a 5xx too; a create never is (LinkedIn may
        have made the post: the publisher looks it up first)."""
        for attempt in range(self._attempts):
            try:
                return call()
            except _HttpError as error:
                failure = platform_error(error.response)
                again = isinstance(failure, RateLimited) or (idempotent and failure.retryable)
                if not again or attempt == self._attempts - 1:
                    raise failure from None
                wait = _retry_after(error.response)
                self._sleep(wait if wait is not None else retry.backoff(attempt, self._backoff_base_s, 30.0))
            except requests.Timeout:
                # LinkedIn may have applied it: the publisher looks the post up (find) before posting again.
                raise PlatformError(PLATFORM, "LinkedIn: request timed out", ["timeout"], retryable=True) from None
            except requests.RequestException as error:
                raise PlatformError(PLATFORM, f"LinkedIn: connection failed ({type(error).__name__})",
                                    ["connection"], retryable=True) from None
            except (ValueError, ResponseFormattingError) as error:  # a 2xx answer the client could not read
                raise PlatformError(PLATFORM, f"LinkedIn: unreadable answer ({type(error).__name__})",
                                    ["unreadable"], retryable=True) from None
        raise AssertionError("attempts is at least 1")

    @property
    def _auth(self) -> dict[str, str]:
        return {"access_token": self.config.access_token, "version_string": self.version}

    # ---- OrganicGateway --------------------------------------------------------------------------------

    def publish(self, content: PostContent) -> PublishedPost:
        commentary = escape_little(content.text)
        if len(commentary) > MAX_COMMENTARY:
            raise PlatformError(PLATFORM, f"LinkedIn: commentary longer than {MAX_COMMENTARY} characters once "
                                          "escaped", ["linkedin.too_long"])
        article: dict[str, Any] = {"source": content.link, "title": _title(content.text)}
        if content.image_url:
            article["thumbnail"] = self._upload_image(content.image_url)
        entity = {
            "author": self.config.organization_urn,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "content": {"article": article},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        created = self._call(lambda: self.client.create(resource_path="/posts", entity=entity, **self._auth))
        urn = created.decoded_entity_id or created.entity_id
        if not urn:
            raise PlatformError(PLATFORM, "LinkedIn: the create answered no x-restli-id", ["no_id"],
                                created.headers.get("x-li-uuid"))
        return PublishedPost(post_id=str(urn), url=post_url(str(urn)))

    def find(self, marker: str, since: datetime) -> PublishedPost | None:
        since_ms = int(since.timestamp() * 1000)
        for page in range(FINDER_PAGES):
            found = self._call(lambda page=page: self.client.finder(  # type: ignore[misc]
                resource_path="/posts", finder_name="author", query_params={
                    "author": self.config.organization_urn, "count": FINDER_PAGE, "start": page * FINDER_PAGE,
                    "sortBy": "LAST_MODIFIED"}, **self._auth), idempotent=True)
            elements = found.elements or []
            for post in elements:
                if _holds(post, marker) and int(post.get("createdAt") or since_ms) >= since_ms:
                    return PublishedPost(post_id=str(post["id"]), url=post_url(str(post["id"])))
            if len(elements) < FINDER_PAGE or all(int(p.get("lastModifiedAt") or 0) < since_ms for p in elements):
                return None
        return None

    def delete(self, post_id: str) -> None:
        try:
            self._call(lambda: self.client.delete(resource_path="/posts/{id}", path_keys={"id": post_id},
                                                  **self._auth), idempotent=True)
        except PlatformError as error:
            if "http_404" not in error.codes:  # already gone: what delete wanted
                raise

    def metrics(self, post_ids: Sequence[str]) -> dict[str, PostMetrics]:
        result: dict[str, PostMetrics] = {}
        ids = list(dict.fromkeys(post_ids))
        for start in range(0, len(ids), STATS_BATCH):
            batch = ids[start:start + STATS_BATCH]
            params: dict[str, Any] = {"organizationalEntity": self.config.organization_urn}
            shares = [urn for urn in batch if urn.startswith("urn:li:share:")]
            ugc = [urn for urn in batch if urn.startswith("urn:li:ugcPost:")]
            if shares:
                params["shares"] = shares
            if ugc:
                params["ugcPosts"] = ugc
            if not (shares or ugc):
                continue
            found = self._call(lambda params=params: self.client.finder(  # type: ignore[misc]
                resource_path="/organizationalEntityShareStatistics", finder_name="organizationalEntity",
                query_params=params, **self._auth), idempotent=True)
            for element in found.elements or []:
                urn = element.get("share") or element.get("ugcPost")
                stats = element.get("totalShareStatistics") or {}
                if urn in batch:
                    result[urn] = PostMetrics(impressions=_int(stats.get("impressionCount")),
                                              clicks=_int(stats.get("clickCount")))
        return result

    # ---- images ----------------------------------------------------------------------------------------

    def _upload_image(self, image_url: str) -> str:
        """The Images API: initializeUpload (owner = the organisation) hands back an upload URL and the image URN;
        the bytes are PUT there. Returns the urn:li:image:… the post's article names as thumbnail."""
        data, content_type = self._fetch_image(image_url)
        initialized = self._call(lambda: self.client.action(
            resource_path="/images", action_name="initializeUpload",
            action_params={"initializeUploadRequest": {"owner": self.config.organization_urn}}, **self._auth))
        value = initialized.value or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image:
            raise PlatformError(PLATFORM, "LinkedIn: initializeUpload answered no uploadUrl or image", ["no_upload"])

        def put() -> None:
            response = self.client.session.put(
                upload_url, data=data, timeout=self._timeout_s,
                headers={"Authorization": f"Bearer {self.config.access_token}", "Content-Type": content_type})
            if response.status_code >= 400:
                raise _HttpError(response)
        self._call(put)
        return str(image)

    def _fetch_image(self, image_url: str) -> tuple[bytes, str]:
        try:
            return fetch_image(image_url, types=IMAGE_TYPES, max_bytes=self._max_image_bytes, timeout_s=self._timeout_s,
                               allow_loopback=on_loopback(self.endpoint))
        except ImageRefused as refused:
            raise PlatformError(PLATFORM, f"LinkedIn: {refused}", [refused.code], retryable=refused.retryable) from None


def _title(text: str) -> str:
    """The article card's title: the text's first line, shortened (a title is plain text, never escaped)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= 200 else first[:199] + "…"


def _holds(post: dict, marker: str) -> bool:
    article = ((post.get("content") or {}).get("article") or {})
    return article.get("source") == marker or marker in unescape_little(str(post.get("commentary") or ""))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
