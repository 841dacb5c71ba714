"""The dashboard's rendering of the report fields other branches add (issue 14), in headless Chromium.

The page, its CSP and its files are the web function's own; the API behind it answers fixed JSON in the shapes of
CONTRACTS.md sections 2 and 3 (relevant joins, cost per relevant join, rates, group_by=day, funnels, profiles and
their members), with hostile text in every name. Once those routes are merged, test_dashboard_in_browser.py checks
the same panels against the real API.
"""

import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from attract_local.openapi import template_environment
from tests.e2e.test_dashboard_in_browser import chrome  # noqa: F401 - the same headless Chromium fixture

pytestmark = pytest.mark.xdist_group("heavy")

EVIL = '<img src=x onerror="window.pwned=1">'
DAYS = {"rows": [{"key": "2026-12-02", "joins": 3, "relevant_joins": 1, "touches": 4, "spend": []},
                 {"key": "2026-12-01", "joins": 2.5, "relevant_joins": 2, "touches": 3, "spend": []}]}
CHANNELS = {"rows": [{"key": "paid_social", "joins": 4, "relevant_joins": 2, "touches": 6, "join_rate": 0.08,
                      "relevance_rate": 0.5, "clicks": 50,
                      "spend": [{"currency": "EUR", "amount": "25.00", "cost_per_join": "6.25",
                                 "cost_per_relevant_join": "12.50"},
                                {"currency": "USD", "amount": "10.00", "cost_per_join": "2.50",
                                 "cost_per_relevant_join": "5.00"}]},
                     {"key": "email", "joins": 1, "relevant_joins": 0, "touches": 1, "join_rate": None,
                      "relevance_rate": 0.0, "spend": [{"currency": "USD", "amount": "0.10", "cost_per_join": "0.10",
                                                        "cost_per_relevant_join": None}]}]}
CAMPAIGNS = {"rows": [{"key": EVIL, "joins": 1, "touches": 1, "spend": []}]}
FUNNELS = {"campaigns": [{"kind": "email", "channel": "email", "campaign": "<script>alert(1)</script>",
                          "steps": [{"name": "invited", "count": 100}, {"name": "sent", "count": 98},
                                    {"name": "clicked", "count": 20}, {"name": "joined", "count": 5},
                                    {"name": "relevant", "count": 2}]}]}
PROFILES = {"profiles": [{"id": "prf_AAAAAAAAAAAAAAAA", "name": EVIL, "min_score": 0.6, "version": 2,
                          "rescoring": {"status": "running", "scored": 40, "total": 100}}], "next_cursor": None}
MEMBERS = {"profile_id": "prf_AAAAAAAAAAAAAAAA", "version": 2, "next_cursor": None, "members": [
    {"name": "<script>alert(2)</script>", "email": "ada@example.com", "skills": ["python", "sql"], "place": "Berlin",
     "score": 0.875, "joined_at": "2026-12-01T10:00:00Z", "first_touch": {"channel": "paid_social", "campaign": EVIL},
     "last_touch": {"channel": "email", "campaign": "Alumni"}}]}


@pytest.fixture
def site():
    """The web function's page and files, and an API answering the contracts' shapes, on one origin."""
    with template_environment("WebFunction"):
        app = importlib.import_module("functions.web.app")
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/dashboard":
                answer = app.page_answer(app.DASHBOARD, app.DASHBOARD_CSP)
                return self._send(answer.status, answer.headers, answer.body.encode())
            if parts.path.startswith("/static/"):
                answer = app.asset_answer(app.ASSETS, parts.path.removeprefix("/static/"), None)
                body = answer.body if isinstance(answer.body, bytes) else answer.body.encode()
                return self._send(answer.status, answer.headers, body)
            assert self.headers["Authorization"] == "Bearer test-token", "the API is called with the token"
            seen.append(self.path)
            group_by = query.get("group_by", [""])[0]
            body = {("/reports/attribution", "day"): DAYS, ("/reports/attribution", "channel"): CHANNELS,
                    ("/reports/attribution", "campaign"): CAMPAIGNS, ("/reports/funnels", ""): FUNNELS,
                    ("/profiles", ""): PROFILES,
                    ("/profiles/prf_AAAAAAAAAAAAAAAA/members", ""): MEMBERS}.get((parts.path, group_by))
            if body is None:
                return self._send(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
            return self._send(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

        def _send(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def _texts(driver, selector: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, selector)]


def test_every_panel_renders_the_contract_fields_as_text(site, chrome):  # noqa: F811 - the fixture
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    origin, seen = site
    # Given a signed-in tab (its token in sessionStorage, as the sign-in leaves it)
    chrome.get(f"{origin}/dashboard")
    chrome.execute_script("sessionStorage.setItem('attract.token', JSON.stringify("
                          "{access_token: 'test-token', expires_at: Date.now() + 3600000}))")
    chrome.get(f"{origin}/dashboard")
    WebDriverWait(chrome, 20).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-loaded"))

    # Then over time: days in order with joins and relevant joins, and a chart
    assert _texts(chrome, "#over-time .body tbody tr") == [["2026-12-01", "2.50", "2"], ["2026-12-02", "3", "1"]]
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#over-time-chart canvas")) == 1
    # By channel: rates as percentages, each currency on its own line (never summed), null as a dash
    assert _texts(chrome, "#by-channel tbody tr") == [
        ["paid_social", "4", "2", "8.0%", "50.0%", "25.00 EUR\n10.00 USD", "6.25 EUR\n2.50 USD", "12.50 EUR\n5.00 USD"],
        ["email", "1", "0", "—", "0.0%", "0.10 USD", "0.10 USD", "—"]]
    # Funnels and campaigns: hostile names as the literal text
    assert chrome.find_element(By.CSS_SELECTOR, "#funnels h3").text == "<script>alert(1)</script>"
    assert [li.text for li in chrome.find_elements(By.CSS_SELECTOR, "#funnels li")] == [
        "invited 100", "sent 98", "clicked 20", "joined 5", "relevant 2"]
    assert _texts(chrome, "#by-campaign tbody tr")[0][0] == EVIL
    # The overlap: every profile, then its members, best first
    assert _texts(chrome, "#overlap tbody tr") == [[EVIL, "0.60", "running (40 of 100)", "Members"]]
    assert Select(chrome.find_element(By.ID, "profile")).options[1].text == EVIL
    loaded = chrome.find_element(By.TAG_NAME, "html").get_attribute("data-loaded")
    chrome.find_element(By.CSS_SELECTOR, "#overlap tbody button").click()
    WebDriverWait(chrome, 20).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-loaded") != loaded)
    assert _texts(chrome, "#overlap tbody tr") == [[
        "<script>alert(2)</script>", "ada@example.com", "0.88", "python, sql", "Berlin", "2026-12-01",
        f"paid_social / {EVIL}", "email / Alumni"]]
    # ... and the profile reached every report's query
    assert any("profile=prf_AAAAAAAAAAAAAAAA" in path and "group_by=day" in path for path in seen)
    assert any(path.startswith("/reports/funnels") and "profile=prf_AAAAAAAAAAAAAAAA" in path for path in seen)

    # Nothing ran, nothing was created from the names, no console error
    assert chrome.execute_script("return window.pwned === undefined")
    assert chrome.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    assert [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"] == []
