"""Hypothesis over every route of the template, as any role: hostile Content-Types, charsets, bodies and header values.

Schemathesis (tests/e2e/test_schemathesis.py) sends bodies shaped by the document; these are raw: empty,
any bytes (invalid UTF-8 included), JSON of any shape, declared as anything, with any value in the
headers a client controls. Whatever arrives: never a 5xx, and the answer says nosniff (issue 13, item 3).
"""

import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attract_local.cfn import http_routes, load_template

ROUTES = sorted(route.key for route in http_routes(load_template()))
PARAMETERS = {"{code}": "AbCd1234", "{token}": "x.y", "{campaign_id}": "nosuchcampaign", "{run_id}": "r-1"}
ROLES = ("anonymous", "marketer", "recruiter")
MAX_EXAMPLES = int(os.environ.get("ATTRACT_FUZZ_EXAMPLES", "12"))

latin1 = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120).map(str.strip)
media_types = st.one_of(
    st.sampled_from(["application/json", "APPLICATION/JSON", "application/vnd.api+json", "application/problem+json",
                     "application/json; charset=utf-16", "application/json; charset=\"utf-8\"; q=1", "text/plain",
                     "text/html", "application/x-www-form-urlencoded", "multipart/form-data", "*/*", "json", ";", ""]),
    latin1)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=12)
bodies = st.one_of(st.just(b""), st.binary(max_size=300),
                   json_values.map(lambda value: json.dumps(value).encode()))
headers = st.dictionaries(st.sampled_from(["Accept", "Accept-Charset", "Accept-Encoding", "Origin", "Referer",
                                           "User-Agent", "Cookie", "Idempotency-Key", "X-Forwarded-For",
                                           "Content-Encoding"]), latin1, max_size=4)


@pytest.fixture(scope="module")
def tokens(marketer, recruiter) -> dict:
    """Each role's headers (the conftest's: a deployed stack's test users under make smoke)."""
    return {"anonymous": {}, "marketer": marketer, "recruiter": recruiter}


@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(role=st.sampled_from(sorted(ROLES)), content_type=media_types, body=bodies, extra=headers)
def test_no_header_or_body_makes_a_route_fail_or_forget_nosniff(api, tokens, route, role, content_type, body, extra):
    # Given a request to this route as this role, with whatever headers and body a client could send
    method, path = route.split(" ", 1)
    for name, value in PARAMETERS.items():
        path = path.replace(name, value)
    sent = {**extra, **tokens[role], **({"Content-Type": content_type} if content_type else {})}
    # When it is sent through the gateway
    response = requests.request(method, api + path, data=body, headers=sent, allow_redirects=False, timeout=30)
    # Then the answer is never a 5xx and always tells browsers not to sniff
    assert response.status_code < 500, f"{route} as {role}, {content_type!r}: {response.status_code} {response.text[:200]}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff", f"{route} {response.status_code}"
