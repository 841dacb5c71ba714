"""Inputs a fuzzer sends, over HTTP through the local gateway: every answer is a 4xx with a JSON body, never a 5xx."""

import pytest
import requests

BODIES = {
    "invalid_utf8": b'{"campaign": "caf\xe9 \xff"}',
    "deep_nesting": b'{"touches": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "huge_integer": b'{"touches": [{"n": ' + b"9" * 5000 + b"}]}",
    "nan": b'{"touches": [{"n": NaN}]}',
    "lone_surrogate": b'{"campaign": "\\ud800"}',
}
ROUTES = ["/links", "/touches", "/joins"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_json_bodies_are_a_json_422(api, marketer, path, case):
    response = requests.post(api + path, data=BODIES[case], headers={**marketer, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "body" and error["rule"] and error["message"]


@pytest.mark.parametrize("path", ROUTES)
def test_latin1_charset_is_415(api, marketer, path):
    response = requests.post(api + path, data='{"campaign": "café"}'.encode("latin-1"),
                             headers={**marketer, "Content-Type": "application/json; charset=latin1"})
    assert response.status_code == 415 and response.json()["errors"][0]["rule"] == "unsupported_charset"


def test_hostile_redirect_requests_never_5xx(api, browser):
    for path in ["/r/" + "A" * 3000, "/r/%F0%9F%98%80", "/r/AbCd%00123", "/r/..%2f..%2fetc"]:
        response = browser.get(api + path, allow_redirects=False)
        assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html"), path


def test_hostile_requests_leave_no_input_in_the_logs(api, marketer, stack_log):
    import time
    import uuid

    marker = "hostile" + uuid.uuid4().hex[:10]
    for body in (f'{{"campaign": "{marker}", "n": {"9" * 5000}}}', f'{{"{marker}": ' + "[" * 5000 + "]" * 5000 + "}",
                 f'{{"campaign": "{marker}\\udc80"}}'):
        for path in ROUTES:
            assert requests.post(api + path, data=body.encode(), headers={**marketer, "Content-Type": "application/json"}
                                 ).status_code == 422
    requests.get(f"{api}/r/Nope12345", params={"gclid": marker * 100})  # (the gateway logs paths, as API Gateway does)
    time.sleep(0.5)  # let the workers flush their log lines
    assert marker not in stack_log.read_text()
