"""GET /l/{code} over HTTP through the local gateway, as t.js on a careers site (another origin) calls it."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

CAREERS = "https://careers.example.com"


def _link(api, marketer) -> dict:
    response = requests.post(api + "/links", headers=marketer, json={
        "destination": f"{CAREERS}/jobs", "campaign": f"Landing {uuid.uuid4().hex[:6]}", "channel": "paid_social",
        "source": "meta", "medium": "paid_social"})
    assert response.status_code == 201, response.text
    return response.json()


def _clicks(api, marketer, code) -> int:
    return requests.get(f"{api}/links/{code}", headers=marketer).json()["clicks"]


def test_the_careers_site_may_read_the_answer_without_a_preflight(api, marketer, browser):
    link = _link(api, marketer)
    # A simple cross-origin GET (no custom header): the browser sends no OPTIONS first
    response = browser.get(f"{api}/l/{link['code']}", params={"fbclid": "IwAR-cors"}, headers={"Origin": CAREERS})
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] in ("*", CAREERS)
    assert response.headers["Content-Type"] == "application/json" and response.headers["Cache-Control"] == "no-store"
    assert set(response.json()) == {"tc_vid", "tc_click"} and "Set-Cookie" not in response.headers


def test_fifty_racing_landings_of_one_ad_click_record_one_click(api, marketer, browser):
    # Given one Meta ad click whose page is opened 50 times at once (tabs, a shared URL, a retrying client)
    link = _link(api, marketer)
    url = f"{api}/l/{link['code']}?fbclid=IwAR-race-{uuid.uuid4().hex[:8]}&utm_source=meta"
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: browser.get(url, timeout=60), range(50)))
    # Then every answer is a 200, exactly one holds a click id, and the link counts one click
    assert {answer.status_code for answer in answers} == {200}
    assert sum(1 for answer in answers if answer.json()["tc_click"]) == 1
    assert _clicks(api, marketer, link["code"]) == 1


def test_hostile_landings_never_5xx(api, marketer, browser):
    link = _link(api, marketer)
    for query in ("gclid=%FF%FE%00&utm_source=%C3%28", "gclid=" + "%F0%9F%98%80" * 600, "utm_campaign=" + "x" * 6000,
                  "tc_vid=" + "A" * 64 + "&ref=http://%5B::1", "gclid=a&gclid=b&gclid=c"):
        response = browser.get(f"{api}/l/{link['code']}?{query}")
        assert response.status_code == 200 and response.json()["tc_click"], query
    for path in ("/l/" + "A" * 3000, "/l/%F0%9F%98%80", "/l/AbCd%00123", "/l/..%2f..%2fetc", "/l/Nope12345"):
        response = browser.get(api + path)
        assert response.status_code == 404 and response.json() == {"message": "Not found"}, path
