"""A thin local HTTP API: routes, JWT authorizer and payload format 2.0, all read from template.yaml."""

import base64
import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import parse_qsl, urlsplit

from attract_local.auth import AuthorizerError, as_gateway_claims, verify
from attract_local.runtime import FunctionPool, InvocationError
from attract_local.stack import ACCOUNT, LocalAws


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
    apis = {k: v for k, v in aws.template["Resources"].items() if v["Type"] == "AWS::Serverless::HttpApi"}
    routes = []
    for name, spec in aws.functions().items():
        for event in spec.events:
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            api_id = (props.get("ApiId") or {}).get("Ref")
            auth = (apis.get(api_id, {}).get("Properties") or {}).get("Auth") or {}
            authorizer_name = (props.get("Auth") or {}).get("Authorizer", auth.get("DefaultAuthorizer"))
            authorizer = None
            if authorizer_name and authorizer_name != "NONE":
                authorizer = aws.resolve(auth["Authorizers"][authorizer_name]["JwtConfiguration"])
            method = props["Method"].upper()
            routes.append(Route(method, props["Path"], name, authorizer, _path_pattern(props["Path"])))
    # Static segments win over parameters, as in API Gateway.
    return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))


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


class LocalGateway:
    def __init__(self, aws: LocalAws, host: str = "127.0.0.1", port: int = 3000, max_concurrency: int = 4,
                 log: TextIO | None = None):
        self.aws = aws
        self.log = log or sys.stderr
        self.routes = routes_from_template(aws)
        self.cors = cors_from_template(aws)
        specs = aws.functions()
        self.pools = {name: FunctionPool(spec, aws.function_environment(spec), max_concurrency, log=log)
                      for name, spec in specs.items()}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                gateway.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalGateway":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for pool in self.pools.values():
            pool.stop()

    def match(self, method: str, path: str) -> Route | None:
        for route in self.routes:
            if route.method in (method, "ANY") and route.pattern.match(path):
                return route
        if method == "HEAD":  # API Gateway routes HEAD to GET handlers only via ANY; keep it simple
            return next((r for r in self.routes if r.method == "GET" and r.pattern.match(path)), None)
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.perf_counter()
        parts = urlsplit(request.path)
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        origin = request.headers.get("origin")
        if request.command == "OPTIONS" and self.cors and request.headers.get("access-control-request-method"):
            # With CorsConfiguration, API Gateway answers preflights itself; no function runs.
            return self._reply(request, 204, cors_headers(self.cors, origin, preflight=True), [], b"")
        route = self.match(request.command, parts.path)
        cors = cors_headers(self.cors, origin, preflight=False)
        if route is None:
            return self._reply(request, 404, {"content-type": "application/json"}, [], b'{"message":"Not Found"}')
        claims = None
        if route.authorizer is not None:
            try:
                claims = verify(request.headers.get("authorization"), route.authorizer["issuer"],
                                list(route.authorizer["audience"]))
            except AuthorizerError:
                return self._reply(request, 401, {"content-type": "application/json", "www-authenticate": "Bearer"},
                                   [], b'{"message":"Unauthorized"}')
        headers = {key: value for key, value in request.headers.items()}
        event = build_event(route, request.command, parts.path, parts.query, headers, body, claims,
                            request.client_address[0], request.headers.get("host", "127.0.0.1"))
        try:
            result = self.pools[route.function].invoke(event)
        except InvocationError as error:
            print(f"[gateway] {route.key} -> 500: {error}", file=self.log, flush=True)
            return self._reply(request, 500, {"content-type": "application/json"}, [],
                               b'{"message":"Internal Server Error"}')
        status, out_headers, cookies, out_body = self._translate(result)
        self._reply(request, status, {**out_headers, **cors}, cookies, out_body)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"[gateway] {request.command} {parts.path} -> {status} ({elapsed:.0f} ms)", file=self.log, flush=True)

    @staticmethod
    def _translate(result: dict) -> tuple[int, dict[str, str], list[str], bytes]:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Format 2.0 without statusCode: API Gateway answers 200 with the JSON of the result.
            return 200, {"content-type": "application/json"}, [], json.dumps(result).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ",".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        return int(result["statusCode"]), headers, list(result.get("cookies") or []), raw

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], cookies: list[str],
               body: bytes) -> None:
        request.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection"):
                request.send_header(key, value)
        for cookie in cookies:
            request.send_header("set-cookie", cookie)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


def start_local(port: int = 3000, aws_port: int = 0, log: TextIO | None = None) -> tuple[LocalAws, LocalGateway]:
    """Moto + stack + gateway. The public base URL is the gateway's own, so tracked links work locally.

    `log` receives the functions' log lines and the gateway's access lines (default: stderr).
    """
    from attract_local.stack import free_port

    port = port or free_port()
    aws = LocalAws(port=aws_port, parameters={"PublicBaseUrl": f"http://127.0.0.1:{port}"}).start()
    gateway = LocalGateway(aws, port=port, log=log).start()
    return aws, gateway
