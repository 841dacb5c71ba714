"""The local gateway and runtime answer abuse as API Gateway's HTTP API and Lambda do.

Two stacks: the real template.yaml with low join limits (routing, throttling, framing), and a small
probe template whose function can sleep, raise, grow or answer too much on request (runtime limits).
"""

import json
import socket
import textwrap
import threading

import pytest
import requests

from attract_local.auth import mint_token
from attract_local.gateway import LocalGateway, start_local
from attract_local.stack import LocalAws

NOT_FOUND = {"message": "Not Found"}
SERVER_ERROR = {"message": "Internal Server Error"}
pytestmark = pytest.mark.local_only("the local gateway's own behaviour, on stacks of its own")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """template.yaml as shipped, POST /joins limited to a burst of 3 and one request every 5 s."""
    log_path = tmp_path_factory.mktemp("real") / "stack.log"
    with log_path.open("w") as log:
        aws, gateway = start_local(port=0, log=log, parameters={"JoinRateLimit": 0.2, "JoinBurstLimit": 3})
        yield gateway
        gateway.stop()
        aws.stop()


def _raw(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client library fixing them up) and read the answer until close or timeout."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def _body(raw: bytes) -> dict:
    return json.loads(raw.partition(b"\r\n\r\n")[2])


# ------------------------------------------------------------------ routing


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "BREW"])
def test_unknown_route_is_404_json_for_every_verb(real, method):
    response = requests.request(method, real.url + "/no/such/route")
    assert response.status_code == 404 and response.json() == NOT_FOUND


@pytest.mark.parametrize("method", ["TRACE", "DELETE", "PUT", "PROPFIND"])
def test_known_path_with_another_verb_is_404(real, method):
    response = requests.request(method, real.url + "/t.js")
    assert response.status_code == 404 and response.json() == NOT_FOUND


def test_malformed_request_line_is_a_json_400(real):
    raw = _raw(real.url, b"GET /t.js HTTP/1.1 extra\r\nHost: x\r\n\r\n")
    assert _status(raw) == 400 and "message" in _body(raw)


# ------------------------------------------------------------------ throttling


def test_join_route_throttles_from_template_parameters(real):
    # Burst 3, one per 5 s (the stack's JoinRateLimit/JoinBurstLimit parameters): of 8 at once, 5 are 429.
    results: list[requests.Response] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(requests.post(real.url + "/joins", json={}))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    throttled = [r for r in results if r.status_code == 429]
    assert 4 <= len(throttled) <= 5  # 3 from the burst, one more only if the 8 took over 5 s to arrive
    assert all(r.json() == {"message": "Too Many Requests"} for r in throttled)
    assert real.throttles["POST /joins"].rate == 0.2 and real.throttles["POST /joins"].burst == 3
    # Other routes have their own buckets, from RouteSettings or DefaultRouteSettings.
    assert requests.get(real.url + "/t.js").status_code == 200
    assert real.throttles["GET /reports/attribution"].burst == 100


# ------------------------------------------------------------------ request framing


@pytest.mark.parametrize(
    "length_headers",
    [b"Content-Length: -1\r\n", b"Content-Length: abc\r\n", b"Content-Length: 1e3\r\n", b"Content-Length: +5\r\n",
     b"Content-Length: 5\r\nContent-Length: 6\r\n", b"Content-Length: 5, 6\r\n",
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip\r\n"],
    ids=["negative", "letters", "exponent", "plus", "two-headers", "list", "with-chunked", "unknown-coding"],
)
def test_bad_framing_is_400_not_a_hang(real, length_headers):
    raw = _raw(real.url, b"POST /joins HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + length_headers
               + b"\r\nhello", timeout=5)
    assert raw, "no answer: the gateway hung on the framing"
    assert _status(raw) == 400 and _body(raw) == {"message": "Bad Request"}


def test_chunked_body_is_read_and_served(real):
    link = {"destination": "https://careers.example.com/", "campaign": "Chunked", "channel": "email",
            "source": "crm", "medium": "email"}
    body = json.dumps(link).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:30], body[30:])) + b"0\r\n\r\n"
    token = mint_token(["marketers"]).encode()
    raw = _raw(real.url, b"POST /links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Authorization: Bearer " + token + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert _status(raw) == 201, raw[:300]
    assert _body(raw)["campaign"] == "Chunked"


def test_body_over_10_mb_is_413_before_it_is_read(real):
    # Only the headers are sent: the answer must come without waiting for 11 MB.
    raw = _raw(real.url, b"POST /joins HTTP/1.1\r\nHost: x\r\nContent-Length: 11534336\r\n\r\n", timeout=5)
    assert _status(raw) == 413 and _body(raw) == {"message": "Request Entity Too Large"}
    # A client that does send it all still reads the 413, not a connection reset.
    response = requests.post(real.url + "/joins", data=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_chunked_body_over_10_mb_is_413(real):
    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    assert requests.post(real.url + "/joins", data=chunks()).status_code == 413


def test_fifty_simultaneous_connections_are_all_answered(real):
    # socketserver's default listen backlog (5) reset 14-24 of 50 clients.
    barrier, results = threading.Barrier(50), []

    def call() -> None:
        barrier.wait()
        try:
            results.append(requests.get(real.url + "/no/such/route", timeout=30).status_code)
        except requests.ConnectionError as error:
            results.append(type(error).__name__)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [404] * 50


def test_accepted_sockets_have_nagle_off(real):
    # With Nagle on, each keep-alive request waited ~40 ms for the client's delayed ACK.
    seen = []
    original = real.server.RequestHandlerClass.setup

    def spy(handler):
        original(handler)
        seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    real.server.RequestHandlerClass.setup = spy
    try:
        requests.get(real.url + "/no/such/route")
    finally:
        real.server.RequestHandlerClass.setup = original
    assert seen and seen[0] != 0


# ------------------------------------------------------------------ the runtime, with a probe function

PROBE = '''
import os, sys, time

import probe_layer  # from the layer: proves PYTHONPATH comes from the template's Layers


def handler(event, context):
    path = event["rawPath"]
    if path == "/raise":
        raise ValueError("the caller sent " + (event.get("body") or ""))
    if path == "/sleep":
        time.sleep(30)
    if path == "/exit":
        os._exit(3)
    if path == "/big":
        return {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 512)}
    if path == "/hog":
        hog = b"x" * (200 * 1024 * 1024)
        return {"statusCode": 200, "body": str(len(hog))}
    body = {"pid": os.getpid(), "memory_env": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            "memory_context": context.memory_limit_in_mb, "layer": probe_layer.NAME,
            "remaining_ms": context.get_remaining_time_in_millis(), "length": len(event.get("body") or "")}
    import json
    return {"statusCode": 200, "body": json.dumps(body)}
'''

PROBE_TEMPLATE = '''
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 2
    MemorySize: 512
    Layers: [!Ref ProbeLayer]
Resources:
  ProbeApi:
    Type: AWS::Serverless::HttpApi
  ProbeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: {root}/layer/
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/probe/
      Handler: app.handler
      MemorySize: 160
      Events:
{events}
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    (root / "probe").mkdir()
    (root / "probe" / "app.py").write_text(textwrap.dedent(PROBE))
    (root / "layer" / "python").mkdir(parents=True)
    (root / "layer" / "python" / "probe_layer.py").write_text('NAME = "from-the-layer"\n')
    paths = ["/info", "/raise", "/sleep", "/exit", "/big", "/hog"]
    events = "".join(f"        E{i}:\n          Type: HttpApi\n          Properties: {{ApiId: !Ref ProbeApi, "
                     f"Path: {path}, Method: {'POST' if path == '/raise' else 'GET'}}}\n"
                     for i, path in enumerate(paths))
    template = root / "template.yaml"
    template.write_text(PROBE_TEMPLATE.format(root=root, events=events))
    log_path = root / "stack.log"
    with log_path.open("w") as log:
        aws = LocalAws(template_path=template).start()
        gateway = LocalGateway(aws, port=0, log=log, max_concurrency=2).start()
        yield gateway, log_path
        gateway.stop()
        aws.stop()


def _info(url: str) -> dict:
    response = requests.get(url + "/info")
    assert response.status_code == 200, response.text
    return response.json()


def test_memory_size_and_layers_come_from_the_template(probe):
    gateway, _ = probe
    info = _info(gateway.url)
    assert info["memory_env"] == "160" and info["memory_context"] == 160
    assert info["layer"] == "from-the-layer"
    assert 0 < info["remaining_ms"] <= 2000  # Globals Timeout: 2


def test_unhandled_exception_is_500_and_the_worker_stays_warm(probe):
    gateway, log_path = probe
    before = _info(gateway.url)["pid"]
    response = requests.post(gateway.url + "/raise", data="secret-input-4711")
    assert response.status_code == 500 and response.json() == SERVER_ERROR
    assert _info(gateway.url)["pid"] == before
    gateway_lines = [line for line in log_path.read_text().splitlines() if line.startswith("[gateway]")]
    assert any("ValueError" in line for line in gateway_lines)
    assert not any("secret-input-4711" in line for line in gateway_lines)


def test_timeout_kills_the_worker_and_answers_500(probe):
    gateway, _ = probe
    before = _info(gateway.url)["pid"]
    response = requests.get(gateway.url + "/sleep", timeout=20)
    assert response.status_code == 500 and response.json() == SERVER_ERROR
    after = _info(gateway.url)["pid"]
    assert after != before
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(before, 0)


def test_dead_process_is_replaced(probe):
    gateway, _ = probe
    before = _info(gateway.url)["pid"]
    assert requests.get(gateway.url + "/exit").status_code == 500
    assert _info(gateway.url)["pid"] != before


def test_response_over_6_mb_fails_as_lambda_does(probe):
    gateway, log_path = probe
    response = requests.get(gateway.url + "/big")
    assert response.status_code == 500 and response.json() == SERVER_ERROR
    assert "Function.ResponseSizeTooLarge" in log_path.read_text()


def test_memory_over_memory_size_replaces_the_worker(probe):
    gateway, log_path = probe
    before = _info(gateway.url)["pid"]
    response = requests.get(gateway.url + "/hog")
    assert response.status_code == 500 and response.json() == SERVER_ERROR
    assert "Runtime.OutOfMemory" in log_path.read_text()
    assert _info(gateway.url)["pid"] != before


def test_event_over_lambda_payload_limit_is_413(probe):
    gateway, _ = probe
    # Under API Gateway's 10 MB, over Lambda's 6 MB request payload.
    response = requests.post(gateway.url + "/raise", data=b"y" * (7 * 1024 * 1024))
    assert response.status_code == 413


def test_head_reaches_the_get_function_and_the_body_is_dropped(probe):
    # The function sees method HEAD (the probe ignores it); whether it serves HEAD is the function's choice.
    gateway, _ = probe
    head = requests.head(gateway.url + "/info")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


def test_oversized_request_line_and_headers_are_json_4xx(real):
    raw = _raw(real.url, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(raw) == 414 and "message" in _body(raw)
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw = _raw(real.url, b"GET /t.js HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert _status(raw) == 431 and "message" in _body(raw)
