"""The web function's handler with events/web payloads: pages with their headers, files by hashed name, no data."""

import base64
import gzip
import importlib
import re

import pytest

from attract_local.context import FakeLambdaContext
from tests.support import load_event


@pytest.fixture
def web(function_env):
    """The app module, imported afresh: its pages are built at import from the settings (another test may have
    imported it first with the offline placeholders of the OpenAPI build)."""
    return importlib.reload(function_env("WebFunction"))


def _static(web, name: str, accept_encoding: str | None = "gzip, deflate, br") -> dict:
    event = load_event("web/static")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/static/{name}"
    event["pathParameters"] = {"name": name}
    if accept_encoding is None:
        event["headers"].pop("accept-encoding")
    else:
        event["headers"]["accept-encoding"] = accept_encoding
    return web.lambda_handler(event, FakeLambdaContext())


def test_dashboard_is_a_shell_with_the_strict_csp_and_the_stacks_sign_in(web):
    # Given the hosted UI sending the browser back with a one-time code
    answer = web.lambda_handler(load_event("web/dashboard"), FakeLambdaContext())
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    headers = answer["headers"]
    sign_in = "https://attract-sign-in.auth.us-east-1.amazoncognito.com"  # the template's UserPoolDomainPrefix default
    assert headers["Content-Security-Policy"] == (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' {sign_in}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        "require-trusted-types-for 'script'; trusted-types 'none'")
    # The code in the address is never sent on as a Referer; never framed; never sniffed
    assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-cache"
    page = answer["body"]
    assert f'data-sign-in="{sign_in}"' in page and 'data-client-id="' in page
    assert "4f1c0b1e-code" not in page  # the page never reflects its query


def test_every_file_a_page_names_is_served_gzipped_and_immutable(web):
    for event in ("web/dashboard", "web/docs"):
        page = web.lambda_handler(load_event(event), FakeLambdaContext())["body"]
        names = re.findall(r'(?:src|href)="/static/([^"]+)"', page)
        assert len(names) >= 5
        for name in names:
            answer = _static(web, name)
            assert answer["statusCode"] == 200, name
            assert answer["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
            body = base64.b64decode(answer["body"])
            if answer["headers"].get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert web.ASSETS.get(name).data == body


def test_swagger_bundle_without_gzip_is_the_vendored_file(web):
    name = web.ASSETS["vendor/swagger-ui/swagger-ui-bundle.js"].name
    answer = _static(web, name, accept_encoding=None)
    assert answer["isBase64Encoded"] is True and "Content-Encoding" not in answer["headers"]
    assert base64.b64decode(answer["body"]) == (web.STATIC / "vendor/swagger-ui/swagger-ui-bundle.js").read_bytes()


def test_unknown_file_is_a_json_404_that_is_not_cached(web):
    answer = web.lambda_handler(load_event("web/static"), FakeLambdaContext())
    assert (answer["statusCode"], answer["body"]) == (404, '{"message": "Not found"}')
    assert answer["headers"]["Cache-Control"] == "no-store" and answer["headers"]["X-Content-Type-Options"] == "nosniff"
