"""A person who received an invitation, as the demo and the tests play them over HTTP.

They open the personal link from the mail (the click redirect), land on the careers site with
`tc_vid`, `tc_click` and `tc_inv` in the URL, and join there: the body is what t.js sends (its
`Attract.fields()` plus the form), then they press the button in the confirmation email.
"""

from urllib.parse import parse_qs, urlsplit

import requests

from attract_local.mailbox import confirm_link, invite_link

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def landing_fields(location: str) -> dict:
    """What t.js keeps from the landing URL and sends with the join."""
    query = parse_qs(urlsplit(location).query)
    fields: dict = {}
    if "tc_vid" in query:
        fields["visitor_id"] = query["tc_vid"][0]
    if "tc_click" in query:
        fields["click_ids"] = {"tc_click": query["tc_click"]}
    if "tc_inv" in query:
        fields["invite_token"] = query["tc_inv"][0]
    fields.update({name: values[0][:100] for name, values in query.items() if name.startswith("utm_")})
    return fields


AD_CLICK_IDS = ("gclid", "gbraid", "wbraid", "fbclid")


def land_from_ad(api: str, ad_url: str, session: requests.Session) -> dict:
    """What t.js does on the careers page an ad opened (`ad_url`: the page with tc_link, utm and the
    platform's click id): records the landing through GET /l/{code} and returns the join fields it keeps."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(ad_url).query).items()}
    params = {name: value for name, value in query.items() if name in AD_CLICK_IDS or name.startswith("utm_")}
    fields: dict = {name: value[:100] for name, value in params.items() if name.startswith("utm_")}
    click_ids = {name: [value] for name, value in params.items() if name in AD_CLICK_IDS}
    answer = session.get(f"{api}/l/{query['tc_link']}", params=params, timeout=30).json()
    if answer.get("tc_click"):
        click_ids["tc_click"] = [answer["tc_click"]]
    if answer.get("tc_vid"):
        fields["visitor_id"] = answer["tc_vid"]
    return {**fields, "click_ids": click_ids} if click_ids else fields


def follow_invitation(api: str, aws_endpoint: str, email: str, name: str,
                      session: requests.Session | None = None) -> requests.Response:
    """Open the latest invitation sent to `email`, join from the landing page, confirm; the confirmation's answer."""
    http = session
    if http is None:  # a browser's user agent: the redirect rightly records no touch for python-requests
        http = requests.Session()
        http.headers["User-Agent"] = BROWSER
    clicked = http.get(invite_link(aws_endpoint, email), allow_redirects=False, timeout=30)
    clicked.raise_for_status()
    body = {**landing_fields(clicked.headers["Location"]), "email": email, "name": name, "consent": True}
    submitted = http.post(f"{api}/joins", json=body, timeout=30)
    if submitted.status_code != 202:
        raise RuntimeError(f"the join was refused: {submitted.status_code} {submitted.text}")
    return http.post(confirm_link(aws_endpoint, email), timeout=30,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
