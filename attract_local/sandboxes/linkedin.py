"""A local LinkedIn sandbox (not LinkedIn): an HTTP server speaking the versioned Marketing API's Rest.li JSON that
`linkedin-api-client` sends and reads, for organisation posts.

Development and tests only. The adapter (attract.providers.linkedin_posts) is pointed at it through
LINKEDIN_API_URL, so the real client runs end to end: its Rest.li 2.0 query encoding (`List(...)`, encoded URNs),
its headers, its reading of `x-restli-id`. What it serves, under /rest:

- `POST /rest/posts` create (201, the URN in `x-restli-id`), `GET /rest/posts?q=author` the author finder
  (newest first), `GET|DELETE /rest/posts/{encoded urn}`,
- `POST /rest/images?action=initializeUpload` and the upload URL it hands out (`PUT /_upload/<id>`),
- `GET /rest/organizationalEntityShareStatistics?q=organizationalEntity` with `shares=List(...)` /
  `ugcPosts=List(...)` (numbers the test sets with `set_statistics`).

Every /rest call must carry `Authorization: Bearer <the sandbox's token>` (401 otherwise), a `LinkedIn-Version`
(400 VERSION_MISSING without, 426 NONEXISTENT_VERSION when it is not live at the sandbox's date) and
`X-Restli-Protocol-Version: 2.0.0`. A post's author must be the sandbox's organisation (403), its commentary at
most 3000 characters (422), and the commentary is read as LinkedIn's little text format: LinkedIn cuts it at the
first reserved character that is not escaped, so the post keeps what LinkedIn would show.

Faults (`fail_next`, or `POST /_sandbox/faults` for the local stack): the next N requests of a kind answer 429
(optionally with Retry-After) or a 5xx before doing anything, or are applied and then lose their answer (the
connection is closed). Requests are recorded in `.received` without the Authorization header.
"""

import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from attract_local.sandboxes.http import SandboxHandler, SandboxServer

log = logging.getLogger(__name__)

MAX_COMMENTARY = 3000
LITTLE_RESERVED = frozenset("\\|{}@[]()<>#*_~")
# Months LinkedIn published no Marketing version in (its migrations table goes from 202511 to 202601).
UNRELEASED = frozenset({"202512"})
REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution", "lifecycleState")
# A tiny valid PNG (1x1) served at /_sandbox/image.png: an image_url the tests and the demo can use.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000100"
    "05fe02fea75c8a0000000049454e44ae426082")
_IDS = itertools.count(7400000000000000001)


class LinkedInError(Exception):
    def __init__(self, status: int, code: str, message: str, service_error_code: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.service_error_code, self.headers = service_error_code, headers or {}


@dataclass
class _Fault:
    kind: str  # "create", "finder", "delete", "statistics", "images", "any"
    status: int | None  # 429 / 5xx answered before anything is done
    drop: bool  # applied, then no answer
    retry_after: int | None
    times: int


def version_live(version: str, today: date) -> bool:
    """A monthly version is supported for a year: live from its month until mid-month a year later."""
    if not re.fullmatch(r"\d{6}(\.\d{2})?", version) or version[:6] in UNRELEASED:
        return False
    year, month = int(version[:4]), int(version[4:6])
    if not 1 <= month <= 12:
        return False
    age = (today.year * 12 + today.month) - (year * 12 + month)
    return 0 <= age < 12 or (age == 12 and today.day < 15)


def little_shown(commentary: str) -> str:
    """What LinkedIn shows of a commentary: escapes resolved, and cut at the first unescaped reserved character
    (a `#` starting a hashtag is markup, kept)."""
    out, index = [], 0
    while index < len(commentary):
        char = commentary[index]
        if char == "\\" and index + 1 < len(commentary):
            out.append(commentary[index + 1])
            index += 2
            continue
        if char == "#" and index + 1 < len(commentary) and commentary[index + 1].isalnum():
            out.append(char)
        elif char in LITTLE_RESERVED:
            break
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _decode_list(value: str) -> list[str]:
    if value.startswith("List(") and value.endswith(")"):
        inner = value[5:-1]
        return [unquote(item) for item in inner.split(",") if item]
    return [unquote(value)]


@dataclass
class LinkedInSandbox:
    """`start()` -> the API base URL (LINKEDIN_API_URL); `config()` -> a LinkedIn secret JSON that fits it."""

    access_token: str = "local-linkedin-sandbox-token"
    organization_urn: str = "urn:li:organization:5000000001"
    today: Callable[[], date] = field(default=lambda: datetime.now(timezone.utc).date())
    received: list[tuple[str, str, dict, Any]] = field(default_factory=list)  # method, path, headers, body
    posts: dict[str, dict] = field(default_factory=dict)  # urn -> the post as stored (commentary as shown)
    images: dict[str, bytes] = field(default_factory=dict)  # image urn -> the uploaded bytes
    request_ids: list[str] = field(default_factory=list)  # x-li-uuid of every error answered

    def __post_init__(self) -> None:
        self._faults: list[_Fault] = []
        self._statistics: dict[str, tuple[int, int]] = {}
        self._deleted: set[str] = set()
        self._uploads: dict[str, str] = {}  # upload id -> image urn
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
        threading.Thread(target=self._server.serve_forever, name="linkedin-sandbox", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        log.warning("local LinkedIn sandbox (not LinkedIn) at %s", self.url)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def config(self) -> dict:
        """The LinkedIn secret's JSON for this sandbox (no "version": the adapter's default is used)."""
        return {"organization_urn": self.organization_urn, "access_token": self.access_token}

    def fail_next(self, kind: str = "create", status: int | None = None, *, drop: bool = False,
                  retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` requests of `kind` fail: with `status` (429, 500, 503...) before anything is done, or
        (drop=True) applied, then the connection closed without an answer (a lost answer)."""
        if kind not in ("create", "finder", "delete", "statistics", "images", "any"):
            raise ValueError(f"unknown kind {kind}")
        if status is None and not drop:
            raise ValueError("give a status or drop=True")
        with self._lock:
            self._faults.append(_Fault(kind, status, drop, retry_after, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_statistics(self, urn: str, impressions: int, clicks: int) -> None:
        with self._lock:
            self._statistics[urn] = (impressions, clicks)

    def requests_to(self, method: str, path: str) -> list[tuple[dict, Any]]:
        """(headers, body) of every request `method` to `path` (without the query)."""
        return [(headers, body) for m, p, headers, body in list(self.received) if m == method and p == path]

    # ---- request handling ---------------------------------------------------------------------------

    def _take_fault(self, kind: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in (kind, "any"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def check(self, headers: Any) -> None:
        authorization = headers.get("Authorization") or ""
        if authorization != f"Bearer {self.access_token}":
            raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = headers.get("LinkedIn-Version")
        if not version:
            raise LinkedInError(400, "VERSION_MISSING", "A version must be present. Please specify a version by "
                                                        "adding the LinkedIn-Version header.")
        if not version_live(version, self.today()):
            raise LinkedInError(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required "
                                                         "(this sandbox speaks only Rest.li 2.0)")

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict, dict]:
        """-> (status, body, extra headers)."""
        parts = path.strip("/").split("/")
        with self._lock:
            if parts == ["rest", "posts"] and method == "POST":
                return self._create(body)
            if parts == ["rest", "posts"] and method == "GET" and query.get("q") == "author":
                return 200, self._finder(query), {}
            if len(parts) == 3 and parts[:2] == ["rest", "posts"]:
                urn = unquote(parts[2])
                if method == "DELETE":
                    return self._delete(urn)
                if method == "GET" and urn in self.posts:
                    return 200, self.posts[urn], {}
                raise LinkedInError(404, "NOT_FOUND", f"Post {urn} not found", 100)
            if parts == ["rest", "images"] and method == "POST" and query.get("action") == "initializeUpload":
                return 200, self._initialize_upload(body), {}
            if parts == ["rest", "organizationalEntityShareStatistics"] and method == "GET" \
                    and query.get("q") == "organizationalEntity":
                return 200, self._statistics_of(query), {}
        raise LinkedInError(404, "NOT_FOUND", f"No resource for {method} {path}")

    def _create(self, body: Any) -> tuple[int, dict, dict]:
        if not isinstance(body, dict):
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "Request body could not be converted to data map")
        missing = [name for name in REQUIRED_POST_FIELDS if name not in body]
        if missing:
            raise LinkedInError(422, "UNPROCESSABLE_ENTITY", "".join(
                f"ERROR :: /{name} :: field is required but not found and has no default value\n" for name in missing))
        if body["author"] != self.organization_urn:
            raise LinkedInError(403, "ACCESS_DENIED", "Not enough permissions to create a post for this author", 100)
        commentary = str(body["commentary"])
        if len(commentary) > MAX_COMMENTARY:
            raise LinkedInError(422, "UNPROCESSABLE_ENTITY",
                                f"ERROR :: /commentary :: length {len(commentary)} exceeds {MAX_COMMENTARY}")
        if body["lifecycleState"] != "PUBLISHED" or body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
            raise LinkedInError(422, "UNPROCESSABLE_ENTITY", "ERROR :: /lifecycleState or /visibility :: invalid")
        article = ((body.get("content") or {}).get("article") or {})
        if body.get("content") and "article" in body["content"]:
            if not article.get("source") or not article.get("title"):
                raise LinkedInError(422, "UNPROCESSABLE_ENTITY", "ERROR :: /content/article :: source and title "
                                                                 "are required")
            if article.get("thumbnail") and article["thumbnail"] not in self.images:
                raise LinkedInError(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /content/article/thumbnail :: "
                                                                 f"{article['thumbnail']} is not an uploaded image")
        urn = f"urn:li:share:{next(_IDS)}"
        now_ms = int(time.time() * 1000)
        self.posts[urn] = {**body, "id": urn, "commentary": little_shown(commentary), "createdAt": now_ms,
                           "lastModifiedAt": now_ms, "publishedAt": now_ms}
        return 201, {}, {"x-restli-id": urn}

    def _finder(self, query: dict[str, str]) -> dict:
        author = unquote(query.get("author", ""))
        if author != self.organization_urn:
            raise LinkedInError(403, "ACCESS_DENIED", "Not enough permissions to read this author's posts", 100)
        start, count = int(query.get("start", 0)), min(int(query.get("count", 10)), 100)
        mine = sorted((post for post in self.posts.values() if post["author"] == author),
                      key=lambda post: post["lastModifiedAt"], reverse=True)
        return {"elements": mine[start:start + count],
                "paging": {"start": start, "count": count, "total": len(mine), "links": []}}

    def _delete(self, urn: str) -> tuple[int, dict, dict]:
        if urn in self.posts:
            del self.posts[urn]
            self._deleted.add(urn)
            return 204, {}, {}
        if urn in self._deleted:
            return 204, {}, {}  # deleting again answers as the first time: delete is idempotent
        raise LinkedInError(404, "NOT_FOUND", f"Post {urn} not found", 100)

    def _initialize_upload(self, body: Any) -> dict:
        owner = ((body or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner != self.organization_urn:
            raise LinkedInError(403, "ACCESS_DENIED", "Not enough permissions to upload for this owner", 100)
        upload_id = uuid.uuid4().hex
        image = f"urn:li:image:C4D{upload_id[:16]}"
        self._uploads[upload_id] = image
        return {"value": {"uploadUrlExpiresAt": int(time.time() * 1000) + 3600_000,
                          "uploadUrl": f"{self.url}/_upload/{upload_id}", "image": image}}

    def upload(self, upload_id: str, data: bytes) -> None:
        with self._lock:
            image = self._uploads.pop(upload_id, None)
            if image is None:
                raise LinkedInError(404, "NOT_FOUND", "Unknown upload")
            self.images[image] = data

    def _statistics_of(self, query: dict[str, str]) -> dict:
        if unquote(query.get("organizationalEntity", "")) != self.organization_urn:
            raise LinkedInError(403, "ACCESS_DENIED", "Not enough permissions to read this organization's "
                                                      "statistics", 100)
        elements = []
        for key, field_name in (("shares", "share"), ("ugcPosts", "ugcPost")):
            for urn in _decode_list(query[key]) if key in query else []:
                impressions, clicks = self._statistics.get(urn, (0, 0))
                elements.append({field_name: urn, "organizationalEntity": self.organization_urn,
                                 "totalShareStatistics": {"impressionCount": impressions, "clickCount": clicks,
                                                          "uniqueImpressionsCount": impressions, "likeCount": 0,
                                                          "commentCount": 0, "shareCount": 0, "engagement": 0.0}})
        return {"elements": elements, "paging": {"start": 0, "count": len(elements), "links": []}}

    def control(self, path: str, body: Any) -> dict:
        """The local stack's test controls (no credentials: this server listens on 127.0.0.1 only)."""
        if path == "/_sandbox/faults":
            self.fail_next(body.get("kind", "create"), body.get("status"), drop=bool(body.get("drop")),
                           retry_after=body.get("retry_after"), times=int(body.get("times", 1)))
            return {"ok": True}
        if path == "/_sandbox/statistics":
            self.set_statistics(body["urn"], int(body["impressions"]), int(body["clicks"]))
            return {"ok": True}
        if path == "/_sandbox/clear":
            self.clear_faults()
            return {"ok": True}
        raise LinkedInError(404, "NOT_FOUND", f"no control {path}")


def _kind(method: str, path: str, query: dict[str, str]) -> str:
    if path.startswith("/rest/posts"):
        return {"POST": "create", "DELETE": "delete"}.get(method, "finder")
    if path.startswith("/rest/images") or path.startswith("/_upload/"):
        return "images"
    return "statistics"


def _query(raw: str) -> dict[str, str]:
    """Rest.li 2.0 query: split before decoding, so encoded URNs inside List(...) keep their commas apart."""
    pairs = (item.split("=", 1) for item in raw.split("&") if item)
    return {unquote(key): value for key, value in (pair if len(pair) == 2 else (pair[0], "") for pair in pairs)}


class _Handler(SandboxHandler):
    sandbox: LinkedInSandbox
    server_version = "LocalLinkedInSandbox/1"
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        sandbox = self.sandbox
        parts = urlsplit(self.path)
        path, query = parts.path, _query(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if path == "/_sandbox/image.png" and method == "GET":
                self._answer(200, PNG_1X1, content_type="image/png")
                return
            if path.startswith("/_sandbox/") and method == "POST":
                self._json(200, sandbox.control(path, json.loads(raw or b"{}")))
                return
            body: Any = json.loads(raw) if raw and not path.startswith("/_upload/") else None
        except ValueError:
            self._error(LinkedInError(400, "ILLEGAL_ARGUMENT", "Request body could not be converted to data map"))
            return
        except (KeyError, TypeError) as error:
            self._error(LinkedInError(400, "ILLEGAL_ARGUMENT", f"bad control request ({type(error).__name__})"))
            return
        except LinkedInError as error:
            self._error(error)
            return
        headers = {name: value for name, value in self.headers.items() if name.lower() != "authorization"}
        sandbox.received.append((method, path, headers, body if body is not None else query))
        try:
            if path.startswith("/_upload/") and method == "PUT":
                if (self.headers.get("Authorization") or "") != f"Bearer {sandbox.access_token}":
                    raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
                fault = sandbox._take_fault("images")
                if fault is not None and fault.status is not None:
                    raise _fault_error(fault)
                sandbox.upload(path.rsplit("/", 1)[1], raw)
                self._answer(201, b"")
                return
            sandbox.check(self.headers)
            fault = sandbox._take_fault(_kind(method, path, query))
            if fault is not None and fault.status is not None:
                raise _fault_error(fault)
            status, answer, extra = sandbox.handle(method, path, query, body)
            if fault is not None and fault.drop:  # applied, and the answer is lost
                self.close_connection = True
                return
        except LinkedInError as error:
            self._error(error)
            return
        except (KeyError, TypeError, ValueError) as error:
            self._error(LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid parameter ({type(error).__name__})"))
            return
        if status == 204:
            self._answer(204, b"", extra)
        else:
            self._json(status, answer, extra)

    def _error(self, error: LinkedInError) -> None:
        body: dict[str, Any] = {"status": error.status, "code": error.code, "message": error.message}
        if error.service_error_code is not None:
            body["serviceErrorCode"] = error.service_error_code
        request_id = uuid.uuid4().hex
        self.sandbox.request_ids.append(request_id)
        self._json(error.status, body, {"x-li-uuid": request_id, "X-RestLi-Error-Response": "true",
                                        **error.headers})

    def _json(self, status: int, body: dict, extra: dict[str, str] | None = None) -> None:
        self._answer(status, json.dumps(body).encode(), extra, "application/json")

    def _answer(self, status: int, data: bytes, extra: dict[str, str] | None = None,
                content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-li-uuid", (extra or {}).get("x-li-uuid") or uuid.uuid4().hex)
        self.send_header("X-RestLi-Protocol-Version", "2.0.0")
        for name, value in (extra or {}).items():
            if name != "x-li-uuid":
                self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


def _fault_error(fault: _Fault) -> LinkedInError:
    if fault.status == 429:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return LinkedInError(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to "
                                                       "this resource is reached.", 101, headers)
    return LinkedInError(fault.status or 500, "INTERNAL_SERVER_ERROR", "Internal Server Error")


def main() -> None:
    """`python -m attract_local.sandboxes.linkedin`: the sandbox on its own, its URL and a matching secret printed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sandbox = LinkedInSandbox()
    url = sandbox.start()
    print(f"LINKEDIN_API_URL={url}")
    print(f"LinkedIn secret (sandbox credentials, not LinkedIn's): {json.dumps(sandbox.config())}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
