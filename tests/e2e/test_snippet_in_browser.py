"""t.js in a real headless Chromium: a visitor lands from a tracked link, browses, then joins cross-origin."""

import functools
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.e2e.invitations import send_invitation
from tests.support import confirm_link, require_binary, stored_attribution

# One at a time on one worker (make test's --dist loadgroup): a headless Chromium each, and timings a busy CPU would stretch.
pytestmark = [pytest.mark.xdist_group("heavy"),
              pytest.mark.local_only("serves the careers site from 127.0.0.1, an origin the deployed CORS refuses")]

# A real desktop Chrome user agent: headless Chrome announces itself as HeadlessChrome, which the
# redirect rightly treats as automated.
DESKTOP_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<script src="{api}/t.js"></script></head><body><h1>{title}</h1>{body}
<script>document.addEventListener("attract:result", function (e) {{ window.joinResult = e.detail; }});</script>
</body></html>"""
JOIN_FORM = """<form data-attract-join>
<input name="name"><input name="email" type="email"><input name="skills">
<label><input name="consent" type="checkbox"> I agree</label><button type="submit">Join</button></form>"""


@pytest.fixture
def careers_site(tmp_path, api):
    """A careers site on another origin than the API, serving three pages that embed the snippet."""
    pages = {"landing.html": ("Engineering at Example", '<a href="/jobs.html">Jobs</a>'),
             "jobs.html": ("Open roles", '<a href="/join.html">Join our talent community</a>'),
             "join.html": ("Join us", JOIN_FORM)}
    for name, (title, body) in pages.items():
        (tmp_path / name).write_text(PAGE.format(title=title, api=api, body=body))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def chrome(tmp_path):
    chromium, chromedriver = require_binary("chromium"), require_binary("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-agent={DESKTOP_CHROME}", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_attribution_survives_browsing_and_reaches_the_join(api, aws_endpoint, stack, marketer, careers_site, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Given a paid-social link to the careers site's landing page
    campaign = f"Browser {uuid.uuid4().hex[:6]}"
    link = requests.post(f"{api}/links", headers=marketer, json={
        "destination": f"{careers_site}/landing.html?team=data", "campaign": campaign, "channel": "paid_social",
        "source": "linkedin", "medium": "cpc"}).json()
    # When a person follows it (with an ad click id), browses two more pages and joins
    chrome.get(link["url"] + "?li_fat_id=LI-123&utm_source=linkedin&utm_medium=cpc")
    landed = urlsplit(chrome.current_url)
    assert landed.path == "/landing.html" and parse_qs(landed.query)["team"] == ["data"]
    visitor = parse_qs(landed.query)["tc_vid"][0]
    chrome.find_element(By.LINK_TEXT, "Jobs").click()
    chrome.find_element(By.LINK_TEXT, "Join our talent community").click()
    assert urlsplit(chrome.current_url).query == ""  # nothing left in the URL: the snippet must remember
    kept = chrome.execute_script("return Attract.fields()")
    assert kept["visitor_id"] == visitor and kept["click_ids"]["li_fat_id"] == ["LI-123"]
    assert kept["utm_source"] == "linkedin" and len(kept["click_ids"]["tc_click"]) == 1
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    chrome.find_element(By.NAME, "name").send_keys("Margaret")
    chrome.find_element(By.NAME, "email").send_keys(email)
    chrome.find_element(By.NAME, "skills").send_keys("go, kubernetes")
    chrome.find_element(By.NAME, "consent").click()
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    form = chrome.find_element(By.CSS_SELECTOR, "form[data-attract-join]")
    WebDriverWait(chrome, 20).until(lambda _: form.get_attribute("data-attract-state") in ("pending", "rejected", "error"))
    # Then the cross-origin join is pending ("check your email") and tells the page nothing more
    result = chrome.execute_script("return window.joinResult")
    assert form.get_attribute("data-attract-state") == "pending", result
    assert (result["status"], result["body"]) == (202, {"status": "pending"})
    # When the person opens the emailed link and presses the button
    chrome.get(confirm_link(aws_endpoint, email))
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(chrome, 20).until(lambda _: "You're in" in chrome.page_source)
    # Then the join credits the tracked click (the signed tc_click and tc_vid the redirect issued)
    touches = stored_attribution(stack[0], email)
    assert [(t["channel"], t["campaign"]) for t in touches] == [("paid_social", campaign)]
    assert touches[0]["touch_id"] == kept["click_ids"]["tc_click"][0]


def _join_in_the_form(chrome, email: str, name: str = "Hedy") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.find_element(By.NAME, "name").send_keys(name)
    chrome.find_element(By.NAME, "email").send_keys(email)
    chrome.find_element(By.NAME, "consent").click()
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    form = chrome.find_element(By.CSS_SELECTOR, "form[data-attract-join]")
    WebDriverWait(chrome, 20).until(lambda _: form.get_attribute("data-attract-state") in ("pending", "rejected", "error"))
    assert form.get_attribute("data-attract-state") == "pending", chrome.execute_script("return window.joinResult")


def test_an_ad_landing_on_the_careers_page_is_credited_to_the_campaign(api, aws_endpoint, stack, marketer, recruiter,
                                                                        careers_site, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Given a campaign's Google link whose ad's final URL is the careers page itself (no /r/ hop)
    campaign = f"Landing {uuid.uuid4().hex[:6]}"
    link = requests.post(f"{api}/links", headers=marketer, json={
        "destination": f"{careers_site}/landing.html", "campaign": campaign, "channel": "paid_search",
        "source": "google", "medium": "cpc"}).json()
    ad_url = (f"{careers_site}/landing.html?tc_link={link['code']}&utm_source=google&utm_medium=cpc"
              f"&utm_campaign={campaign.replace(' ', '%20')}&gclid=TEST")
    # When a person clicks the ad and lands there
    chrome.get(ad_url)
    chrome.execute_async_script("Attract.ready.then(arguments[arguments.length - 1])")
    # Then the snippet recorded the click and keeps the signed ids as if the person had come through /r/
    kept = chrome.execute_script("return Attract.fields()")
    assert len(kept["visitor_id"]) >= 16 and len(kept["click_ids"]["tc_click"]) == 1
    assert kept["click_ids"]["gclid"] == ["TEST"] and kept["utm_campaign"] == campaign
    # And tc_link is gone from the address bar (the rest is kept), so a reload records nothing more
    landed = parse_qs(urlsplit(chrome.current_url).query)
    assert "tc_link" not in landed and landed["gclid"] == ["TEST"] and landed["utm_source"] == ["google"]
    chrome.refresh()
    # Even the ad URL opened again (a second tab, a shared URL) is the same ad click: not counted again
    chrome.get(ad_url)
    chrome.execute_async_script("Attract.ready.then(arguments[arguments.length - 1])")
    assert chrome.execute_script("return Attract.fields()")["click_ids"]["tc_click"] == kept["click_ids"]["tc_click"]
    assert requests.get(f"{api}/links/{link['code']}", headers=marketer).json()["clicks"] == 1
    # When the person browses to the form, joins and confirms from the emailed link
    chrome.find_element(By.LINK_TEXT, "Jobs").click()
    chrome.find_element(By.LINK_TEXT, "Join our talent community").click()
    email = f"landed-{uuid.uuid4().hex[:8]}@example.com"
    _join_in_the_form(chrome, email)
    chrome.get(confirm_link(aws_endpoint, email))
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(chrome, 20).until(lambda _: "You're in" in chrome.page_source)
    # Then the join is credited to paid_search / google / the campaign, through the landing's click
    touches = stored_attribution(stack[0], email)
    assert [(t["channel"], t["source"], t["campaign"]) for t in touches] == [("paid_search", "google", campaign)]
    assert touches[0]["touch_id"] == kept["click_ids"]["tc_click"][0]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    report = requests.get(f"{api}/reports/attribution", headers=recruiter, params={
        "from": today, "to": today, "model": "last_touch", "group_by": "campaign"}).json()
    assert {row["key"]: row["joins"] for row in report["rows"]}[campaign] == 1
    # And the link's click count is 1
    assert requests.get(f"{api}/links/{link['code']}", headers=marketer).json()["clicks"] == 1


def test_a_visitor_id_written_into_the_careers_page_url_is_not_adopted(api, marketer, careers_site, chrome):
    # Issue 13 (visitor fixation): a URL is anyone's to write. Someone's genuine tc_vid in it, alone or on an ad
    # landing, must not become this browser's id (the join would be credited with that person's path).
    link = requests.post(f"{api}/links", headers=marketer, json={
        "destination": f"{careers_site}/landing.html", "campaign": f"Fixation {uuid.uuid4().hex[:6]}",
        "channel": "paid_search", "source": "google", "medium": "cpc"}).json()
    handed = requests.get(link["url"], headers={"User-Agent": DESKTOP_CHROME}, allow_redirects=False)
    someone = parse_qs(urlsplit(handed.headers["Location"]).query)["tc_vid"][0]
    # When the page is opened with that id alone
    chrome.get(f"{careers_site}/landing.html?tc_vid={someone}")
    assert "visitor_id" not in chrome.execute_script("return Attract.fields()")
    # And as an ad landing carrying it: /l/ answers a new id, which the snippet keeps
    chrome.get(f"{careers_site}/landing.html?tc_link={link['code']}&gclid=FIXATION-{uuid.uuid4().hex[:6]}&tc_vid={someone}")
    chrome.execute_async_script("Attract.ready.then(arguments[arguments.length - 1])")
    kept = chrome.execute_script("return Attract.fields()")
    assert kept["visitor_id"] != someone and len(kept["visitor_id"]) >= 16 and len(kept["click_ids"]["tc_click"]) == 1
    # While the redirect's own hand-over (tc_vid with its tc_click) is still adopted
    chrome.get(link["url"])
    assert chrome.execute_script("return Attract.fields()")["visitor_id"] == parse_qs(
        urlsplit(chrome.current_url).query)["tc_vid"][0]


def test_an_invitation_followed_in_the_browser_credits_the_join(api, aws_endpoint, stack, marketer, careers_site,
                                                                 chrome, stack_log):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Given an invitation in the person's inbox
    email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    link = send_invitation(stack[0], api, marketer, f"{careers_site}/landing.html", email)
    token = parse_qs(urlsplit(link).query)["tc_inv"][0]
    # When they follow it, browse to the join page (the URL forgets tc_inv) and join
    chrome.get(link)
    assert parse_qs(urlsplit(chrome.current_url).query)["tc_inv"] == [token]
    chrome.find_element(By.LINK_TEXT, "Jobs").click()
    chrome.find_element(By.LINK_TEXT, "Join our talent community").click()
    assert urlsplit(chrome.current_url).query == ""
    kept = chrome.execute_script("return Attract.fields()")
    assert kept["invite_token"] == token
    _join_in_the_form(chrome, email, name="Katherine")
    chrome.get(confirm_link(aws_endpoint, email))
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(chrome, 20).until(lambda _: "You're in" in chrome.page_source)
    # Then the join credits the invitation through the click on its link (one email touch, not two)
    touches = stored_attribution(stack[0], email)
    assert [(t["origin"], t["channel"]) for t in touches] == [("click", "email")]
    # And the token, a bearer secret, is in no function's log (the sender, the redirect, the join)
    time.sleep(0.5)  # let the workers flush their log lines
    functions_log = "\n".join(line for line in stack_log.read_text().splitlines() if not line.startswith("[gateway]"))
    assert "click" in functions_log and token not in functions_log and token.rsplit(".", 1)[1] not in functions_log


def test_a_malformed_tc_inv_is_neither_kept_nor_sent(careers_site, chrome):
    # A hand-edited URL (a token the join would refuse with a 422) must not break the person's join
    chrome.get(f"{careers_site}/landing.html?tc_inv=short")
    assert "invite_token" not in chrome.execute_script("return Attract.fields()")
    token = "c." + "a" * 32 + ".1800000000." + "m" * 43
    chrome.get(f"{careers_site}/landing.html?tc_inv={token}")
    chrome.get(f"{careers_site}/jobs.html?tc_inv=" + "<script>" * 3)
    assert chrome.execute_script("return Attract.fields()")["invite_token"] == token  # the well-formed one stays


def test_a_malformed_tc_link_is_removed_from_the_address_without_a_request(careers_site, chrome, stack_log):
    def landings() -> int:  # the gateway's access lines name the route, never the path
        return stack_log.read_text().count("[gateway] GET /l/{code} ")

    before = landings()
    # A hand-edited URL: nothing to record, and nothing left for a reload to try again
    chrome.get(f"{careers_site}/landing.html?team=data&tc_link=%3Cscript%3E&gclid=G-1#apply")
    chrome.execute_async_script("Attract.ready.then(arguments[arguments.length - 1])")
    parts = urlsplit(chrome.current_url)
    assert (parts.query, parts.fragment) == ("team=data&gclid=G-1", "apply")
    assert "tc_click" not in chrome.execute_script("return Attract.fields()")["click_ids"]
    time.sleep(0.3)  # a request, had there been one, would be logged by now
    assert landings() == before


def test_form_without_consent_is_rejected_in_the_browser(api, careers_site, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.get(f"{careers_site}/join.html")
    chrome.find_element(By.NAME, "name").send_keys("No Consent")
    chrome.find_element(By.NAME, "email").send_keys("noconsent@example.com")
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    form = chrome.find_element(By.CSS_SELECTOR, "form[data-attract-join]")
    WebDriverWait(chrome, 20).until(lambda _: form.get_attribute("data-attract-state") in ("pending", "rejected", "error"))
    result = chrome.execute_script("return window.joinResult")
    assert result["status"] == 422 and result["body"]["errors"][0]["field"] == "consent"


def test_the_ads_consent_checkbox_reaches_the_member_and_only_when_ticked(api, aws_endpoint, stack, marketer, tmp_path, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from attract.aws import from_item
    from attract.identity import email_hash

    # Given a careers page whose join form has the optional ads-consent checkbox, reached from a Google ad
    page = JOIN_FORM.replace("<button", '<label><input name="ads_consent" type="checkbox"> Tell the ad</label><button')
    (tmp_path / "join.html").write_text(PAGE.format(title="Join us", api=api, body=page))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_address[1]}"
    aws = stack[0]
    pepper = aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["EmailPepperSecret"])["SecretString"]
    try:
        link = requests.post(f"{api}/links", headers=marketer, json={
            "destination": f"{site}/join.html", "campaign": f"Search {uuid.uuid4().hex[:6]}", "channel": "paid_search",
            "source": "google", "medium": "cpc"}).json()
        for ticked in (True, False):
            chrome.delete_all_cookies()
            chrome.get(link["url"] + f"?gclid=Cj0-browser-{uuid.uuid4().hex[:6]}")
            email = f"ads-{uuid.uuid4().hex[:8]}@example.com"
            chrome.find_element(By.NAME, "name").send_keys("Grace")
            chrome.find_element(By.NAME, "email").send_keys(email)
            chrome.find_element(By.NAME, "consent").click()
            if ticked:
                chrome.find_element(By.NAME, "ads_consent").click()
            chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            form = chrome.find_element(By.CSS_SELECTOR, "form[data-attract-join]")
            WebDriverWait(chrome, 20).until(
                lambda _, form=form: form.get_attribute("data-attract-state") in ("pending", "rejected", "error"))
            assert form.get_attribute("data-attract-state") == "pending", chrome.execute_script("return window.joinResult")
            chrome.get(confirm_link(aws_endpoint, email))
            chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            WebDriverWait(chrome, 20).until(lambda _: "You're in" in chrome.page_source)
            # Then the member's consent records the ads consent exactly as ticked
            member = aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
                "PK": {"S": f"MEMBER#{email_hash(email, pepper)}"}, "SK": {"S": "MEMBER"}})["Item"]
            assert from_item(member)["consent"]["ads"] is ticked
    finally:
        server.shutdown()
