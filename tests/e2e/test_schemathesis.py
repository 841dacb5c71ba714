"""Schemathesis over docs/openapi.json against the local stack: every route, as each role that matters for it.

Positive and negative (schema-violating) examples, a bounded number per operation and role. The checks:
no answer is a 5xx, every answer says `X-Content-Type-Options: nosniff`, and every 4xx carries a JSON
body (HTML pages are only for the browser-facing routes: the redirect's unknown-link page and the join
confirmation pages). A second pass sends the same generated requests under hostile Content-Types
(`+json` types, parameters, odd charsets, any text) and header values.

Roles are derived from the document, not listed by hand: a public route (no authorizer) never sees a
token, so it runs once, anonymously; a secured route runs as every role in its `x-groups` (the
function's GROUPS), and briefly as ONE role that is refused (the 401/403 path): a refused caller gets
the same answer whatever it sends, so the full run (coverage phase included) would find nothing more.
"""

import json
import os
from functools import cache

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from attract_local.auth import mint_token
from tests.support import ROOT

# Tokens signed with the local key, and fuzz data written to every table: not for a deployed stack
pytestmark = pytest.mark.local_only("fuzzes every route with tokens of the local key")

DOCUMENT = json.loads((ROOT / "docs/openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs/openapi.json")
# A refused caller gets the same 401/403 whatever it sends (the group check runs before the body is read):
# a few generated requests prove it, without the hundreds of boundary cases of the coverage phase.
REFUSALS = schemathesis.openapi.from_path(ROOT / "docs/openapi.json")
REFUSALS.config.phases.update(phases=["fuzzing"])
REFUSED_EXAMPLES = 2
MAX_EXAMPLES = int(os.environ.get("ATTRACT_FUZZ_EXAMPLES", "12"))
# Pages meant for a person's browser answer HTML, including their 4xx.
HTML_ROUTES = ("/r/{code}", "/joins/confirm/{token}", "/u/{token}", "/consent/{token}", "/d/{token}")
# In the order a refused role is picked: one with a token first (the function's 403), else anonymous (401).
# `admin` last: the admins' routes are refused to a marketer, every other route's refused role stays as it was.
ROLES = {"marketer": ["marketers"], "recruiter": ["recruiters"], "anonymous": None, "admin": ["admins"]}
# What clients send in Content-Type, right or wrong (reject_non_json's cases and the ones that were 500s).
CONTENT_TYPES = st.one_of(
    st.sampled_from(["application/json", "Application/JSON", "application/json; charset=utf-8",
                     "application/json; charset=latin1", "application/json;", "application/vnd.api+json",
                     "application/problem+json", "application/merge-patch+json", "text/plain", "text/json",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*", ""]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200).map(str.strip)
FUZZED_HEADERS = ("Accept", "Accept-Charset", "Origin", "Referer", "User-Agent", "Cookie", "Idempotency-Key",
                  "X-Forwarded-For")


@cache
def roles_for(method: str, path: str) -> tuple[tuple[str, ...], str | None]:
    """(the roles that pass an operation's group check, the one refused role it also runs as, or None)."""
    operation = DOCUMENT["paths"][path][method.lower()]
    if not operation.get("security"):
        return ("anonymous",), None  # no authorizer: the function never sees a token
    groups = set(operation.get("x-groups") or ())
    assert groups, f"{method} {path} is secured but names no x-groups (make openapi)"
    allowed = tuple(role for role, member_of in ROLES.items() if member_of and groups & set(member_of))
    return allowed, next(role for role in ROLES if role not in allowed)


def _reaching(role: str):
    return SCHEMA.include(lambda ctx: role in roles_for(ctx.operation.method.upper(), ctx.operation.path)[0])


def _refused(role: str):
    return REFUSALS.include(lambda ctx: role == roles_for(ctx.operation.method.upper(), ctx.operation.path)[1])


def _call(case, role: str, api: str, headers: dict | None = None):
    groups = ROLES[role]
    auth = {"Authorization": "Bearer " + mint_token(groups)} if groups else {}
    return case.call(base_url=api, headers={**(headers or {}), **auth}, allow_redirects=False, timeout=30)


def _header(response, name: str) -> str:
    return ((response.headers.get(name) or [""])[0])  # schemathesis keeps each header's values in a list


def _check(response, case) -> None:
    operation = f"{case.method} {case.path}"
    assert response.status_code < 500, f"{operation} answered {response.status_code}: {response.text[:300]}"
    assert _header(response, "x-content-type-options") == "nosniff", f"{operation} {response.status_code}: no nosniff"
    if not 400 <= response.status_code < 500 or case.path in HTML_ROUTES:
        return
    content_type = _header(response, "content-type")
    assert content_type.startswith("application/json"), f"{operation} {response.status_code} as {content_type!r}"
    body = json.loads(response.text)
    assert isinstance(body, dict) and body, f"{operation} {response.status_code}: {response.text[:300]}"


def _generated(role: str):
    """Schemathesis' own requests, valid and not, as `role`, to the operations it may call."""

    @_reaching(role).parametrize()
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def test(case, api):
        # Given a caller in this role, when schemathesis sends a generated request, valid or not
        response = _call(case, role, api)
        # Then the API never fails on its side, refusals are explained in JSON, and nothing is sniffed
        _check(response, case)

    return test


def _refusals(role: str):
    """A few generated requests as the one refused role of each secured operation: a JSON 401 or 403."""

    @_refused(role).parametrize()
    @settings(max_examples=REFUSED_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def test(case, api):
        response = _call(case, role, api)
        _check(response, case)
        assert response.status_code in (401, 403), f"{case.method} {case.path} as {role}: {response.status_code}"

    return test


def _hostile_headers(role: str):
    """The generated requests with a hostile Content-Type and hostile values in the headers clients control."""

    @_reaching(role).parametrize()
    @_reaching(role).given(content_type=CONTENT_TYPES,
                           values=st.dictionaries(st.sampled_from(FUZZED_HEADERS), HEADER_VALUES))
    # Generated cases only: the document's examples cannot supply the drawn headers (and ran in the first pass).
    @settings(max_examples=max(2, MAX_EXAMPLES // 2), deadline=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def test(case, content_type, values, api):
        # Given a generated request whose Content-Type and other headers are anything a client could send
        headers = {**values, "Content-Type": content_type} if content_type else values
        # When it is sent (the body is the generated one, whatever the declared type)
        response = _call(case, role, api, headers)
        # Then: never a 5xx, always nosniff, a JSON 4xx (415 or 422 for a type that is not JSON)
        _check(response, case)

    return test


test_generated_requests_as_marketer = _generated("marketer")
test_generated_requests_as_recruiter = _generated("recruiter")
test_generated_requests_as_anonymous = _generated("anonymous")
test_generated_requests_as_admin = _generated("admin")
test_refusals_as_marketer = _refusals("marketer")
test_refusals_as_recruiter = _refusals("recruiter")
test_refusals_as_anonymous = _refusals("anonymous")
test_hostile_headers_as_marketer = _hostile_headers("marketer")
test_hostile_headers_as_recruiter = _hostile_headers("recruiter")
test_hostile_headers_as_anonymous = _hostile_headers("anonymous")
test_hostile_headers_as_admin = _hostile_headers("admin")


def test_each_operation_runs_as_its_groups_and_one_refused_role():
    # Given the document's operations, when the roles are derived from their security and x-groups
    runs = {f"{method.upper()} {path}": roles_for(method.upper(), path)
            for path, operations in DOCUMENT["paths"].items() for method in operations}
    # Then public routes run once, marketer routes as marketer plus the refused recruiter, reports as all three
    assert runs["POST /joins"] == (("anonymous",), None) and runs["GET /t.js"] == (("anonymous",), None)
    assert runs["POST /links"] == (("marketer",), "recruiter")
    assert runs["GET /reports/attribution"] == (("marketer", "recruiter"), "anonymous")
    assert runs["GET /audit"] == (("admin",), "marketer")
    # And a full run (every phase) happens for fewer than half of the route x role pairs it used to
    assert sum(len(allowed) for allowed, _ in runs.values()) < 3 * len(runs) / 2
