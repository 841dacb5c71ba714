"""Schemathesis over docs/openapi.json against the local stack: every route, as marketer, recruiter and anonymous.

Positive and negative (schema-violating) examples, a bounded number per operation and role. The checks:
no answer is a 5xx, and every 4xx carries a JSON body (HTML pages are only for the browser-facing
routes: the redirect's unknown-link page and the join confirmation pages).
"""

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from attract_local.auth import mint_token
from tests.support import ROOT

SCHEMA = schemathesis.openapi.from_path(ROOT / "docs/openapi.json")
MAX_EXAMPLES = int(os.environ.get("ATTRACT_FUZZ_EXAMPLES", "12"))
# Pages meant for a person's browser answer HTML, including their 4xx.
HTML_ROUTES = ("/r/{code}", "/joins/confirm/{token}", "/u/{token}")
ROLES = {"anonymous": None, "marketer": ["marketers"], "recruiter": ["recruiters"]}


def _no_server_error(response, operation: str) -> None:
    assert response.status_code < 500, f"{operation} answered {response.status_code}: {response.text[:300]}"


def _json_client_error(response, operation: str, path: str) -> None:
    if not 400 <= response.status_code < 500 or path in HTML_ROUTES:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), f"{operation} {response.status_code} as {content_type!r}"
    body = json.loads(response.text)
    assert isinstance(body, dict) and body, f"{operation} {response.status_code}: {response.text[:300]}"


@pytest.mark.parametrize("role", list(ROLES))
@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_json_client_errors(case, role, api):
    # Given a caller in one role (tokens are access tokens of the local Cognito stand-in)
    groups = ROLES[role]
    headers = {"Authorization": "Bearer " + mint_token(groups)} if groups else {}
    # When schemathesis sends a generated request, valid or not
    response = case.call(base_url=api, headers=headers, allow_redirects=False, timeout=30)
    # Then the API never fails on its side, and refusals are explained in JSON
    operation = f"{case.method} {case.path}"
    _no_server_error(response, operation)
    _json_client_error(response, operation, case.path)
