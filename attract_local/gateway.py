"""A thin local HTTP API: routes, JWT authorizer, throttling and payload format 2.0, all read from template.yaml.

It answers abuse the way API Gateway's HTTP API does: unknown method or route 404, over the route's
throttle 429, bodies over 10 MB 413, malformed framing 400, a failed or timed-out function 500
(503 past the 30 s integration timeout), always with API Gateway's JSON `{"message": ...}` bodies.
"""

import base64
import ipaddress
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, TextIO
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from attract_local.auth import AuthorizerError, as_gateway_claims, verify
from attract_local.cfn import http_routes
from attract_local.hosted_ui import PATHS as HOSTED_UI_PATHS
from attract_local.hosted_ui import LocalHostedUi
from attract_local.runtime import FunctionPool, InvocationError, PayloadTooLargeError, stop_workers
from attract_local.stack import ACCOUNT, LocalAws
from attract_local.triggers import LocalTriggers

BODY_LIMIT = 10 * 1024 * 1024  # HTTP API payload quota
INTEGRATION_TIMEOUT_S = 30.0  # HTTP API's maximum integration timeout
LISTEN_BACKLOG = 128  # socketserver's default of 5 resets most of 50 simultaneous clients
ADMIN_PREFIX = "/_local/"  # the local stack's own endpoints (make fire); no template route starts with it
SOCKET_TIMEOUT_S = 30.0  # a client that stops sending mid-request does not hold a thread forever
# The gateway's own answers (errors, preflights, the admin route). A function's answer keeps its own headers,
# so a function that forgets nosniff is seen forgetting it (HTTP API adds none to what a function returns).
OWN_HEADERS = {"content-type": "application/json", "x-content-type-options": "nosniff"}


@dataclass
class Route:
    method: str
    path: str  # as in the template: /links/{code}
    function: str
    authorizer: dict | None  # resolved JwtConfiguration, None for public routes
    pattern: re.Pattern

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _path_pattern(path: str) -> re.Pattern:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def routes_from_template(aws: LocalAws) -> list[Route]:
    routes = []
    for route in http_routes(aws.template):
        authorizer = None
        if route.authorizer is not None:
            auth = aws.template["Resources"][route.api]["Properties"]["Auth"]
            authorizer = aws.resolve(auth["Authorizers"][route.authorizer]["JwtConfiguration"],
                                     f"{route.api}.Auth.Authorizers.{route.authorizer}.JwtConfiguration")
        routes.append(Route(route.method, route.path, route.function, authorizer, _path_pattern(route.path)))
    # Static segments win over parameters, as in API Gateway.
    return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))


class TokenBucket:
    """API Gateway's throttle: `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def throttles_from_template(aws: LocalAws) -> dict[str, TokenBucket]:
    """One bucket per route key from the HttpApi's DefaultRouteSettings, overridden by its RouteSettings."""
    buckets: dict[str, TokenBucket] = {}
    for route in http_routes(aws.template):
        if route.api is None:
            continue
        props = aws.template["Resources"][route.api].get("Properties") or {}
        settings = {**aws.resolve(props.get("DefaultRouteSettings") or {}, f"{route.api}.DefaultRouteSettings"),
                    **aws.resolve((props.get("RouteSettings") or {}).get(route.key) or {},
                                  f"{route.api}.RouteSettings.{route.key}")}
        rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
        if rate is not None or burst is not None:
            buckets[route.key] = TokenBucket(float(rate if rate is not None else 10_000),
                                             int(burst if burst is not None else 5_000))  # account defaults
    return buckets


def cors_from_template(aws: LocalAws) -> dict | None:
    for resource in aws.template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::HttpApi":
            config = (resource.get("Properties") or {}).get("CorsConfiguration")
            if config:
                return aws.resolve(config)
    return None


def cors_headers(cors: dict | None, origin: str | None, preflight: bool) -> dict[str, str]:
    """The headers API Gateway adds when the request's Origin is allowed by CorsConfiguration."""
    if not cors or not origin:
        return {}
    allowed = [o.strip() for o in cors.get("AllowOrigins", [])]
    if "*" not in allowed and origin not in allowed:
        return {}
    headers = {"access-control-allow-origin": "*" if "*" in allowed else origin}
    if preflight:
        headers["access-control-allow-methods"] = ",".join(cors.get("AllowMethods", []))
        headers["access-control-allow-headers"] = ",".join(cors.get("AllowHeaders", []))
        if cors.get("MaxAge"):
            headers["access-control-max-age"] = str(cors["MaxAge"])
    return headers


def build_event(route: Route, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
                body: bytes, claims: dict | None, source_ip: str, domain: str) -> dict:
    """An API Gateway HTTP API payload format 2.0 event, as the deployed API would send it."""
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in headers.items():
        if key.lower() == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        lowered[key.lower()] = f"{lowered[key.lower()]},{value}" if key.lower() in lowered else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    match = route.pattern.match(raw_path)
    now = datetime.now(timezone.utc)
    event: dict = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")},
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route.key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if match and match.groupdict():
        event["pathParameters"] = match.groupdict()
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": as_gateway_claims(claims), "scopes": None}}
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class GatewayError(Exception):
    """An answer API Gateway gives itself, without invoking a function."""

    MESSAGES: ClassVar[dict[int, str]] = {
        400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Request Entity Too Large",
        414: "Request-URI Too Long", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
        500: "Internal Server Error", 503: "Service Unavailable"}

    def __init__(self, status: int, close: bool = False):
        super().__init__(status)
        self.status, self.close = status, close

    @property
    def body(self) -> bytes:
        return json.dumps({"message": self.MESSAGES.get(self.status, "Error")}, separators=(",", ":")).encode()


_DIGITS = re.compile(r"^[0-9]+$")


def read_body(request: BaseHTTPRequestHandler, limit: int = BODY_LIMIT) -> bytes:
    """The request body by Content-Length or chunked framing; never reads more than `limit` into memory.

    Framing that a proxy could read two ways (Content-Length with Transfer-Encoding, two different
    Content-Lengths, a negative or non-numeric one) is refused with 400, as request smuggling defence.
    """
    lengths = [v.strip() for raw in request.headers.get_all("content-length") or [] for v in raw.split(",")]
    codings = [v.strip().lower() for raw in request.headers.get_all("transfer-encoding") or []
               for v in raw.split(",") if v.strip()]
    if codings:
        if lengths or codings != ["chunked"]:
            raise GatewayError(400, close=True)
        return _read_chunked(request, limit)
    if not lengths:
        return b""
    if len(set(lengths)) != 1 or not _DIGITS.match(lengths[0]):
        raise GatewayError(400, close=True)
    length = int(lengths[0])
    if length > limit:
        raise GatewayError(413, close=True)  # answered before reading: the connection is dropped after
    body = request.rfile.read(length)
    if len(body) < length:
        raise ConnectionAbortedError("client closed the connection mid-body")
    return body


def _read_chunked(request: BaseHTTPRequestHandler, limit: int) -> bytes:
    chunks, total = [], 0
    while True:
        line = request.rfile.readline(1026)
        if not line.endswith(b"\n"):
            raise GatewayError(400, close=True) if line else ConnectionAbortedError("client closed mid-chunk")
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise GatewayError(400, close=True)
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise GatewayError(413, close=True)
        chunk = request.rfile.read(size)
        if len(chunk) < size:
            raise ConnectionAbortedError("client closed mid-chunk")
        chunks.append(chunk)
        if request.rfile.readline(3) not in (b"\r\n", b"\n"):
            raise GatewayError(400, close=True)
    for _ in range(100):  # trailer section, ignored, up to its blank line
        trailer = request.rfile.readline(8192)
        if trailer in (b"\r\n", b"\n", b""):
            return b"".join(chunks)
    raise GatewayError(400, close=True)


def _drain(request: BaseHTTPRequestHandler, limit: int = 8 * BODY_LIMIT, idle_s: float = 1.0) -> None:
    """Discard what the client is still sending, so it reads our 413 instead of a connection reset."""
    try:
        request.wfile.flush()
        request.connection.settimeout(idle_s)
        left = limit
        while left > 0:
            data = request.connection.recv(min(left, 1 << 16))
            if not data:
                return
            left -= len(data)
    except OSError:
        return


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    allow_reuse_address = True


class LocalGateway:
    def __init__(self, aws: LocalAws, host: str = "127.0.0.1", port: int = 3000, max_concurrency: int = 4,
                 log: TextIO | None = None, clock: Callable[[], datetime] | None = None):
        self.aws = aws
        self.log = log or sys.stderr
        self.routes = routes_from_template(aws)
        self.cors = cors_from_template(aws)
        self.throttles = throttles_from_template(aws)
        # Cognito's hosted UI (a domain of its own when deployed) on the gateway's origin: no template route uses these paths.
        self.hosted_ui = LocalHostedUi.from_template(aws)
        specs = aws.functions()
        self.pools = {name: FunctionPool(spec, aws.function_environment(spec), max_concurrency, log=log)
                      for name, spec in specs.items()}
        # SQS pollers and schedules run the same pools (an unsupported schedule expression raises here).
        self.triggers = LocalTriggers(aws, self.pools, self.log, clock=clock)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = SOCKET_TIMEOUT_S
            wbufsize = 1 << 16  # headers and body leave in one segment (flushed after each request)

            def setup(self) -> None:
                super().setup()
                # Without it, keep-alive requests wait ~40 ms on Nagle + the client's delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def __getattr__(self, name: str):
                # Every verb (TRACE, CONNECT, BREW, ...) reaches the router, which answers 404 for no route.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def _serve(self) -> None:
                gateway.handle(self)

            def handle_expect_100(self) -> bool:
                try:
                    length = int(self.headers.get("content-length") or 0)
                except ValueError:
                    length = 0
                if length > BODY_LIMIT:  # refuse before the client sends 10 MB
                    gateway._reply(self, 413, OWN_HEADERS, [], GatewayError(413).body,
                                   close=True)
                    return False
                return super().handle_expect_100()

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # Malformed request line or headers: API Gateway's JSON shape, not http.server's HTML page.
                self.close_connection = True
                self.request_version = "HTTP/1.1"  # else an unparsed line counts as HTTP/0.9: no status line
                body = json.dumps({"message": GatewayError.MESSAGES.get(code, "Bad Request")}).encode()
                gateway._reply(self, code if code < 500 else 400, OWN_HEADERS, [], body,
                               close=True)

            def log_message(self, format: str, *args) -> None:
                pass

        self.server = _Server((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalGateway":
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        self.triggers.start()
        return self

    def stop(self) -> None:
        self.triggers.signal_stop()
        self.server.shutdown()
        self.server.server_close()
        stop_workers(list(self.pools.values()))
        self.triggers.stop()

    def match(self, method: str, path: str) -> Route | None:
        for route in self.routes:
            if route.method in (method, "ANY") and route.pattern.match(path):
                return route
        if method == "HEAD":  # kept from the first local gateway: HEAD reaches a GET route, body dropped
            return next((r for r in self.routes if r.method == "GET" and r.pattern.match(path)), None)
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.perf_counter()
        seen: dict[str, str] = {"route": "(no route)"}
        try:
            try:
                body = read_body(request)
            except (ConnectionError, TimeoutError, OSError):
                request.close_connection = True  # the client went away mid-request: nothing left to answer on
                return
            status, headers, cookies, out = self._route(request, body, seen)
        except GatewayError as error:
            self._reply(request, error.status, OWN_HEADERS, [], error.body, close=error.close)
            if error.status == 413:
                _drain(request)
            self._access(seen["route"], error.status, started)
            return
        self._reply(request, status, headers, cookies, out)
        self._access(seen["route"], status, started)

    def _access(self, label: str, status: int, started: float) -> None:
        # The route key, never the raw path or query: those are the caller's input.
        elapsed = (time.perf_counter() - started) * 1000
        print(f"[gateway] {label} -> {status} ({elapsed:.0f} ms)", file=self.log, flush=True)

    def _route(self, request: BaseHTTPRequestHandler, body: bytes,
               seen: dict[str, str]) -> tuple[int, dict[str, str], list[str], bytes]:
        parts = urlsplit(request.path)
        origin = request.headers.get("origin")
        if request.command == "OPTIONS" and self.cors and request.headers.get("access-control-request-method"):
            # With CorsConfiguration, API Gateway answers preflights itself; no function runs.
            return 204, {**cors_headers(self.cors, origin, preflight=True), "x-content-type-options": "nosniff"}, [], b""
        if parts.path.startswith(ADMIN_PREFIX):
            seen["route"] = "(local admin)"
            return self._admin(request, parts.path, parts.query)
        if parts.path in HOSTED_UI_PATHS and self.hosted_ui is not None:
            seen["route"] = "(local hosted UI)"
            status, answer_headers, answer = self.hosted_ui.handle(request.command, parts.path, parts.query, body)
            return status, {**answer_headers, "x-content-type-options": "nosniff"}, [], answer
        route = self.match(request.command, parts.path)
        if route is None:
            raise GatewayError(404)
        seen["route"] = route.key
        bucket = self.throttles.get(route.key)
        if bucket is not None and not bucket.take():
            raise GatewayError(429)
        claims = None
        if route.authorizer is not None:
            try:
                claims = verify(request.headers.get("authorization"), route.authorizer["issuer"],
                                list(route.authorizer["audience"]))
            except AuthorizerError:
                raise GatewayError(401) from None
        headers = {key: value for key, value in request.headers.items()}
        event = build_event(route, request.command, parts.path, parts.query, headers, body, claims,
                            request.client_address[0], request.headers.get("host", "127.0.0.1"))
        pool = self.pools[route.function]
        started = time.monotonic()
        try:
            result = pool.invoke(event, timeout_s=INTEGRATION_TIMEOUT_S)
        except PayloadTooLargeError:
            raise GatewayError(413) from None
        except InvocationError as error:
            # The error type only: the function's message and stack trace may quote the caller's input
            # (they are in the function's own log).
            print(f"[gateway] {route.key} -> function error {error.kind}", file=self.log, flush=True)
            late = time.monotonic() - started >= INTEGRATION_TIMEOUT_S and pool.timeout_s > INTEGRATION_TIMEOUT_S
            raise GatewayError(503 if late else 500) from None
        try:
            status, out_headers, cookies, out_body = self._translate(result)
        except (TypeError, ValueError, KeyError, AttributeError, UnicodeError):
            print(f"[gateway] {route.key} -> malformed Lambda response", file=self.log, flush=True)
            raise GatewayError(500) from None
        return status, {**out_headers, **cors_headers(self.cors, origin, preflight=False)}, cookies, out_body

    def _admin(self, request: BaseHTTPRequestHandler, path: str,
               query: str = "") -> tuple[int, dict[str, str], list[str], bytes]:
        """`POST /_local/fire/<name>[?at=<ISO time>]` (make fire): not part of the API, answered to loopback
        clients only. `at` fires the schedule as of that time (the event's time), e.g. hours ahead."""
        name = unquote(path.removeprefix(ADMIN_PREFIX + "fire/"))
        if (request.command != "POST" or not path.startswith(ADMIN_PREFIX + "fire/") or not name
                or not ipaddress.ip_address(request.client_address[0]).is_loopback):
            raise GatewayError(404)
        at_text = parse_qs(query).get("at", [""])[0]
        try:
            at = datetime.fromisoformat(at_text) if at_text else None
        except ValueError:
            at = None
        if at_text and (at is None or at.tzinfo is None):
            return 400, {"content-type": "application/json"}, [], b'{"message": "at must be an ISO time with its offset"}'
        try:
            status, answer = 200, self.triggers.fire(name, at)
        except KeyError:
            status, answer = 404, {"message": f"no single schedule named {name!r}", "schedules": self.triggers.names()}
        return status, OWN_HEADERS, [], json.dumps(answer, default=str).encode()

    @staticmethod
    def _translate(result: dict) -> tuple[int, dict[str, str], list[str], bytes]:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Format 2.0 without statusCode: API Gateway answers 200 with the JSON of the result.
            return 200, {"content-type": "application/json"}, [], json.dumps(result).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ",".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
        status = int(result["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError("status code out of range")
        return status, headers, list(result.get("cookies") or []), raw

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], cookies: list[str],
               body: bytes, close: bool = False) -> None:
        if close:
            request.close_connection = True
        request.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection", "transfer-encoding"):
                request.send_header(key, value)
        for cookie in cookies:
            request.send_header("set-cookie", cookie)
        request.send_header("content-length", str(len(body)))
        if request.close_connection:
            request.send_header("connection", "close")
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


def start_local(port: int = 3000, aws_port: int = 0, log: TextIO | None = None,
                parameters: dict[str, object] | None = None, max_concurrency: int = 4) -> tuple[LocalAws, LocalGateway]:
    """Moto + stack + gateway. The public base URL is the gateway's own, so tracked links work locally.

    `log` receives the functions' log lines and the gateway's access lines (default: stderr).
    `parameters` are the stack's parameters (e.g. higher JoinRateLimit for load tests).
    """
    from attract_local.stack import reserved_port

    with reserved_port() as reserved:  # held until the gateway binds it: the stack's links name it first
        port = port or reserved
        aws = LocalAws(port=aws_port, parameters={"PublicBaseUrl": f"http://127.0.0.1:{port}",
                                                  "DashboardUrl": f"http://127.0.0.1:{port}/dashboard",
                                                  **(parameters or {})}).start()
        gateway = LocalGateway(aws, port=port, log=log, max_concurrency=max_concurrency).start()
    return aws, gateway
