"""Helpers shared by every test layer (imported as tests.support)."""

import copy
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from attract_local.context import FakeLambdaContext

# What the local stack "sent" and what a confirmation stored (re-exported for tests)
from attract_local.mailbox import confirm_link, sent_mail, stored_attribution  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> dict:
    """A copy of events/<name>.json (the same files `sam local invoke -e` takes)."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


def with_body(event: dict, body: dict) -> dict:
    event["body"] = json.dumps(body)
    return event


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a server is unreachable on a laptop; fail in CI (ATTRACT_REQUIRE_SERVICES=1)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as error:
        message = f"{name} not reachable on {host}:{port} ({error})"
        if os.environ.get("ATTRACT_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and ATTRACT_REQUIRE_SERVICES=1")
        pytest.skip(message)


def require_binary(name: str) -> str:
    """Path of a program the test needs; skip on a laptop without it, fail in CI."""
    import shutil

    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (make test installs it with apt-get when run as root)"
        if os.environ.get("ATTRACT_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and ATTRACT_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return path


def require_python(version: str) -> str:
    """Path of a python<version> interpreter (pyenv's, or one on PATH); skip on a laptop without it, fail in CI."""
    import glob
    import shutil

    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python")) or [
        path for path in [shutil.which(f"python{version}")] if path]
    if not found:
        message = f"no python{version} interpreter (pyenv's /root/.pyenv/versions/{version}.* or on PATH)"
        if os.environ.get("ATTRACT_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and ATTRACT_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return found[-1]


def join_and_confirm(api: str, aws_endpoint: str, body: dict, session=None) -> "requests.Response":
    """POST /joins as the careers site does, read the emailed link, press the page's button (a form POST)."""
    http = session or requests
    submitted = http.post(f"{api}/joins", json=body, timeout=60)
    assert submitted.status_code == 202, submitted.text
    return http.post(confirm_link(aws_endpoint, body["email"]), timeout=60,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


def confirm_event(link: str, method: str = "POST", body: str | None = None) -> dict:
    """The API Gateway event of a press on an emailed confirmation link (POST) or of its page (GET)."""
    token = link.rsplit("/", 1)[1]
    event = load_event("joins/confirm" if method == "POST" else "joins/confirm_page")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/joins/confirm/{token}"
    event["pathParameters"] = {"token": token}
    if body is not None:
        event["body"] = body
    return event


def join_and_confirm_in_process(joins_module, aws_endpoint: str, body: dict) -> dict:
    """The joins handler invoked in-process: submit, read the emailed link, confirm. The confirmation's answer."""
    submitted = joins_module.lambda_handler(with_body(load_event("joins/join"), body), FakeLambdaContext())
    assert submitted["statusCode"] == 202, submitted["body"]
    return joins_module.lambda_handler(confirm_event(confirm_link(aws_endpoint, body["email"])), FakeLambdaContext())


def launched(gateway, plan, done):
    """An adapter's whole launch as the campaigns logic runs it for one channel: created paused, then activated."""
    return gateway.activate(gateway.create_paused(plan, done))


@contextmanager
def serving_google_sandbox(box) -> Iterator:
    """`box` (a local Google gRPC sandbox) started and trusted, then stopped.

    gRPC reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH once per process, at its first TLS channel; the sandbox's
    certificate is per process too.
    """
    box.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", box.cert_path)
        yield box
    box.stop()


def dynamodb_item_size(item: dict) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit: names and values in UTF-8 bytes.

    `item` is in the low-level attribute-value form (`{"name": {"S": "..."}}`). Numbers count as their
    digits (DynamoDB stores them in at most 21 bytes), maps and lists 3 bytes plus 1 per element.
    """

    def value_size(value: dict) -> int:
        (kind, content), = value.items()
        if kind == "S":
            return len(content.encode("utf-8"))
        if kind == "N":
            return len(content)
        if kind == "B":
            return len(content)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(name.encode("utf-8")) + value_size(inner) + 1 for name, inner in content.items())
        if kind == "L":
            return 3 + sum(value_size(inner) + 1 for inner in content)
        if kind in ("SS", "NS"):
            return sum(len(str(member).encode("utf-8")) for member in content)
        raise ValueError(kind)

    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def sam_translate(template: dict) -> dict:
    """The template as SAM deploys it (generated rules, schedules, permissions, functions), offline."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):  # `sam package` would upload these; any S3 URI translates
                props[key] = f"s3://attract-artifacts/{props[key].strip('/')}.zip"
    # No managed policy names in the template, so IAM is never asked; a region for ARNs, no credentials needed.
    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=dict)
