"""`make demo`: the local stack, a short scripted campaign over HTTP, and what Attract recorded."""

import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from attract.tracking.records import visitor_subject
from attract.tracking.repository import TouchRepository
from attract_local import demo_invites
from attract_local.ad_sandboxes import AdSandboxes, start_ad_sandboxes
from attract_local.auth import STATE_DIR, mint_token
from attract_local.conversions import advance_and_sweep, sweep_at
from attract_local.gateway import start_local
from attract_local.invitee import land_from_ad
from attract_local.mailbox import confirm_link, sent_mail, stored_attribution

BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
]
LINKS = [
    {"campaign": "Platform engineers 2027", "channel": "paid_search", "source": "google", "medium": "cpc",
     "term": "rust jobs berlin", "destination": "https://careers.example.com/teams/platform?lang=en"},
    {"campaign": "Platform engineers 2027", "channel": "paid_social", "source": "linkedin", "medium": "cpc",
     "content": "carousel-a", "destination": "https://careers.example.com/teams/platform?lang=en"},
    {"campaign": "Alumni newsletter", "channel": "email", "source": "crm", "medium": "email",
     "destination": "https://careers.example.com/community"},
]
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
# One line per model, in a marketer's words (docs/attribution.md has the formulas and a worked example).
MODEL_WORDS = {
    "first_touch": "all the credit to the first link or ad that brought the person",
    "last_touch": "all the credit to the last one before they joined",
    "linear": "the credit shared equally by every touch on the way",
    "time_decay": "more credit to touches close to the join (half of it every 7 days back)",
    "position_based": "40% to the first touch, 40% to the last, 20% shared by those between",
}
# The recruiter's target profile: the example, word for word.
PROFILE: dict[str, Any] = {"name": "Data engineering, Berlin", "skills": {"required": ["python", "sql"], "preferred": ["spark", "k8s"]},
           "places": [{"place": "Berlin", "radius_km": 50}, {"country": "DE"}, {"remote": True}], "min_score": 0.6}
# What each careers-site joiner types into the form's optional skills and location boxes.
PROFILES_TYPED = {
    1: (["Python", "SQL", "Spark"], "Berlin"),
    3: (["js", "react"], "Lisbon"),
    4: (["python", "postgres", "sql", "spark", "k8s"], "Potsdam"),
    5: (["python"], "remote"),
    6: (["python", "sql"], "berlin de"),
    7: (["java"], "London"),
}
AD_JOINERS = [(["python", "sql", "spark"], "Berlin, Germany"), (["sql"], "Hamburg"), (["python", "sql", "kubernetes"], "remote"),
              (["python", "postgresql"], "Paris"), (["Python", "SQL"], "Berlin")]
# Visitor journeys: which links each person clicks, in order (same browser, so the tc_vid cookie carries over).
JOURNEYS = [[1, 0], [2], [0, 1, 2], [1], [2, 0]]


def _row(*cells, widths=(26, 14, 10, 12, 8)) -> str:
    return "  ".join(str(c)[: w].ljust(w) for c, w in zip(cells, widths, strict=False))


def short(identifier: str) -> str:
    """A long opaque id as a reader can follow it: its first 8 characters."""
    return identifier[:8] + "…" if len(identifier) > 9 else identifier


def in_words(errors: list[dict]) -> str:
    """A 422's errors as a sentence: each field with the rule's own message."""
    return "; ".join(f"{e['field']}: {(e.get('message') or e['rule']).removeprefix('Value error, ')}" for e in errors)


class Ledger:
    """Every confirmed join of the demo, by where it came from: the report must account for each one."""

    def __init__(self) -> None:
        self.joins: list[tuple[str, str]] = []

    def confirmed(self, origin: str, who: str, status: int) -> None:
        if status == 200:
            self.joins.append((origin, who))

    def by_origin(self) -> Counter:
        return Counter(origin for origin, _ in self.joins)


def run(api: str, table: TouchRepository, aws, ads: AdSandboxes | None = None) -> dict:
    """The scenario; returns what the reconciliation test checks (the ledger and the report's totals)."""
    marketer = {"Authorization": "Bearer " + mint_token(["marketers"])}
    recruiter = {"Authorization": "Bearer " + mint_token(["recruiters"])}
    ledger = Ledger()

    print("\n== 1. A recruiter describes who the employer hires: a target profile")
    profile = create_profile(api, recruiter)

    print(f"\n== 2. A marketer creates {len(LINKS)} tracked links: a search ad, a LinkedIn post, the alumni newsletter")
    links = []
    for spec in LINKS:
        response = requests.post(f"{api}/links", json=spec, headers=marketer, timeout=30)
        response.raise_for_status()
        links.append(response.json())
        print(f"   {links[-1]['url']}  for {spec['campaign']} ({spec['channel']}, {spec['source']})")

    print(f"\n== 3. {len(JOURNEYS)} people click the links; a cookie tells Attract when the same person comes back")
    rng = random.Random(7)
    visitors: list[str] = []
    for person, journey in enumerate(JOURNEYS, 1):
        session = requests.Session()
        session.headers["User-Agent"] = rng.choice(BROWSERS)
        visitor = ""
        for index in journey:
            response = session.get(links[index]["url"], allow_redirects=False, timeout=30,
                                   headers={"Cookie": f"tc_vid={visitor}"} if visitor else {})
            visitor = parse_qs(urlsplit(response.headers["Location"]).query)["tc_vid"][0]
        visitors.append(visitor)
        print(f"   person {person} (visitor {short(visitor)}) clicked: {' then '.join(LINKS[i]['channel'] for i in journey)}")
    preview = requests.get(links[1]["url"], headers={"User-Agent": "Slackbot-LinkExpanding 1.0"}, allow_redirects=False)
    typo = requests.get(f"{api}/r/NoSuchLk", allow_redirects=False)
    print(f"   a Slack link preview is sent on (HTTP {preview.status_code}) but not counted as a click; "
          f"a mistyped link answers {typo.status_code} Not Found")

    print("\n== 4. A marketer imports a badge scan from last week's career fair: person 4 was there")
    scan = {"visitor_id": visitors[3], "campaign": "Berlin career fair", "channel": "event", "source": "career-fair",
            "medium": "badge-scan", "occurred_at": (datetime.now(timezone.utc) - timedelta(days=6)).isoformat()}
    bad = {**scan, "visitor_id": None, "email": "not-an-email"}
    result = requests.post(f"{api}/touches", json={"touches": [scan, bad]}, headers=marketer, timeout=30).json()
    print(f"   {result['recorded']} scan recorded; {result['rejected']} refused, with the reason: "
          f"{in_words(result['results'][1]['errors'])}")

    print("\n== 5. People join the talent community on the careers site, then confirm from the email they receive")
    joins: list[tuple[int, str, dict[str, Any]]] = [
        (1, "", {"visitor_id": visitors[0]}), (3, "", {"visitor_id": visitors[2]}), (4, "", {"visitor_id": visitors[3]}),
        (5, "", {"visitor_id": visitors[4]}),
        (6, " (no tracked link: came from a Google ad)", {"utm_source": "google", "utm_medium": "cpc", "gclid": "Cj0-demo"}),
        (7, " (typed the address)", {}),
    ]
    for who, note, extra in joins:
        email = f"person{who}@example.com"
        skills, place = PROFILES_TYPED[who]
        body: dict[str, Any] = {"email": email, "name": f"Person {who}", "consent": True, "skills": skills,
                                "location": place, **extra}
        submitted = requests.post(f"{api}/joins", json=body, timeout=30)
        link = confirm_link(aws.endpoint, email)
        page = requests.get(link, timeout=30)  # what a mail scanner prefetches: a button, nothing changes
        confirmed = requests.post(link, timeout=30)  # the button
        ledger.confirmed("careers site", f"person {who}", confirmed.status_code)
        path = " then ".join(t["channel"] for t in stored_attribution(aws, email))
        print(f"   person {who}{note}, {', '.join(skills)}, {place}: form {_said(submitted)}, email opened "
              f"({'a button, nothing changes yet' if page.status_code == 200 else page.status_code}), button pressed "
              f"({_said(confirmed)}); path credited: {path}")
    again = requests.post(f"{api}/joins", json={"email": "PERSON1@example.com", "name": "Person 1", "consent": True})
    note = sent_mail(aws.endpoint, "person1@example.com")[-1]["subject"]
    print(f"   person 1 fills the form again: the same answer as anyone ({_said(again)}), and an email \"{note}\"")
    print(f"   the used confirmation button pressed again: {_said(requests.post(link, timeout=30))}")
    forged: dict[str, Any] = {"email": "mallory@example.com", "name": "M", "consent": True, "visitor_id": visitors[0][:22]}
    requests.post(f"{api}/joins", json=forged, timeout=30)
    forged_confirm = requests.post(confirm_link(aws.endpoint, "mallory@example.com"), timeout=30)
    ledger.confirmed("careers site", "someone with a copied visitor id", forged_confirm.status_code)
    path = " then ".join(t["channel"] for t in stored_attribution(aws, "mallory@example.com"))
    print(f"   someone joins with a copy of person 1's visitor id (unsigned): credited {path}, not person 1's clicks")
    invalid = requests.post(f"{api}/joins", json={"email": "x", "name": "", "consent": False})
    print(f"   an invalid form is refused ({invalid.status_code}): {in_words(invalid.json()['errors'])}")

    platforms: dict[str, str] = {}
    if ads is not None and {"google", "meta"} <= set(ads.started):
        platforms = run_ads(api, aws, marketer, ads, ledger)
    elif ads is not None:
        print("\n== 6. Ad campaigns: skipped, the local Google Ads and Meta sandboxes are not both running (see Ads: above)")

    run_posts(api, aws, marketer, ledger)

    for origin, person_label in demo_invites.run(api, aws):
        ledger.confirmed(origin, person_label, 200)

    _wait_until_drained(aws, "ScoringQueue", timeout_s=60)  # every confirmed member scored against the profile
    # An ad joiner who is relevant to no profile (sql only): the overlap below stays as it is explained
    erasure = erase_one(api, recruiter, "ad-google_search-2@example.com" if platforms else "person7@example.com")
    print_recorded(api, table, marketer, links, visitors)
    totals = print_attribution(api, ledger)
    if platforms:
        print_costs(api, platforms)
    if profile:
        print_overlap(api, recruiter, profile)
    return {"confirmed": len(ledger.joins), "by_origin": dict(ledger.by_origin()), "model_totals": totals,
            "erasure": erasure}


def _report_totals(api: str, recruiter: dict[str, str]) -> dict:
    return {model: _report(api, model=model, group_by="channel")["totals"] for model in MODELS}


def erase_one(api: str, recruiter: dict[str, str], email: str) -> dict:
    """Issue 15: an admin exports what Attract holds about one person, erases them, and exports again."""
    admin = {"Authorization": "Bearer " + mint_token(["admins"])}
    print("\n== 8. A person's rights: an admin exports what Attract holds about one member, then erases them")
    before = _report_totals(api, recruiter)
    export = requests.get(f"{api}/people/export", headers=admin, params={"email": email}, timeout=30).json()
    held = [name for name in ("member", "attribution", "touches", "claims", "conversions", "relevance")
            if export.get(name) and export[name] != {"index_entry": None, "scores": []}]
    print(f"   GET /people/export (found by the keyed hash of the address, never a scan): {', '.join(held)}")
    erased = requests.delete(f"{api}/people", headers=admin, params={"email": email}, timeout=30)
    print(f"   DELETE /people -> {erased.status_code} {erased.json().get('status')}: the eraser works the queue, "
          "tombstone first")
    status: dict = {}
    deadline = time.monotonic() + 60
    while status.get("status") != "done" and time.monotonic() < deadline:
        time.sleep(0.3)
        status = requests.get(f"{api}/people/erasure", headers=admin, params={"email": email}, timeout=30).json()
    after = requests.get(f"{api}/people/export", headers=admin, params={"email": email}, timeout=30).json()
    unchanged = _report_totals(api, recruiter) == before
    removed = sum((status.get("removed") or {}).values())
    print(f"   erasure {status.get('status')}: {removed} item(s) removed; the export is now "
          f"{'empty' if after.get('empty') else 'NOT empty'} (kept: {', '.join(after.get('kept') or {}) or 'nothing'}); "
          f"the report's totals are {'unchanged' if unchanged else 'CHANGED'}")
    return {"status": status.get("status"), "empty_after": bool(after.get("empty")), "totals_unchanged": unchanged}


def _said(response: requests.Response) -> str:
    """An answer as a reader follows it: the status code and its meaning, never a Python repr."""
    words = {200: "OK", 201: "created", 202: "accepted: a confirmation email is on its way", 404: "not found",
             410: "gone: the link was used or expired", 422: "refused"}
    return f"{response.status_code} {words.get(response.status_code, response.reason)}"


def create_profile(api: str, recruiter: dict[str, str]) -> dict:
    """POST /profiles with the issue's example; prints how its skills and places were understood."""
    created = requests.post(f"{api}/profiles", json=PROFILE, headers=recruiter, timeout=30)
    if created.status_code != 201:
        print(f"   POST /profiles -> {created.status_code}: {created.text[:200]}")
        return {}
    profile = created.json()
    resolved = profile.get("resolved", {})
    print(f"   \"{profile['name']}\" ({profile['id']}): required {', '.join(PROFILE['skills']['required'])}; "
          f"preferred {', '.join(PROFILE['skills']['preferred'])}; minimum score {PROFILE['min_score']}")
    labels = [f"{s['term']} = {s['label']}" + ("" if s.get("concept_id") else " (kept as typed)")
              for s in resolved.get("skills", [])]
    print("   skills, read with the ESCO taxonomy: " + "; ".join(labels))
    places = [_place_words(place) for place in resolved.get("places", [])]
    print("   places, read with GeoNames: " + "; ".join(places))
    print("   every member is scored against it when they confirm (docs/relevance.md explains the score)")
    return profile


def _place_words(place: dict) -> str:
    """"Berlin, DE (50 km)", "DE", "remote"; a place GeoNames does not know is said to be kept as typed."""
    label = place.get("label") or place.get("spec") or "?"
    return label if place.get("resolved") else f"{label} (kept as typed)"


AD_DRAFT: dict[str, Any] = {
    "name": "Data engineers Berlin", "channels": ["google_search", "meta"],
    "daily_budget": {"amount": "50.00", "currency": "EUR"},
    "locations": [{"latitude": 52.52, "longitude": 13.405, "radius": 20, "radius_unit": "mile", "country": "DE"}],
    "destination": "https://careers.example.com/teams/data", "targeting": {},
    "google": {"keywords": [{"text": "data engineer jobs berlin", "match_type": "PHRASE"}],
               "headlines": ["Data engineer jobs in Berlin", "Join our data platform team", "Hybrid, 4-day week"],
               "descriptions": ["Build the pipelines behind our products.", "Apply in two minutes."]},
    "meta": {"primary_text": "We are hiring data engineers in Berlin.", "headline": "Data engineers wanted",
             "image_url": "https://careers.example.com/img/data.png", "call_to_action": "APPLY_NOW"},
}


def run_ads(api: str, aws, marketer: dict[str, str], ads: AdSandboxes, ledger: Ledger) -> dict[str, str]:
    """Launch a Google and a Meta campaign on the local sandboxes, click the ads, join, sync spend, cost per join.

    Returns the report channel of each platform launched (paid_search: Google Ads, paid_social: Meta)."""
    print("\n== 6. A marketer launches a search ad and a social ad (on LOCAL SANDBOXES of Google Ads and Meta)")
    today = datetime.now(timezone.utc).date()
    draft = {**AD_DRAFT, "start_date": today.isoformat(), "end_date": (today + timedelta(days=27)).isoformat()}
    refused = requests.post(f"{api}/campaigns", json={**draft, "targeting": {"age_max": 35}}, headers=marketer,
                            timeout=30)
    print(f"   first with an age limit: refused ({refused.status_code}), job ads may not target by age: "
          + ", ".join(sorted({e['rule'] for e in refused.json()['errors']})))
    created = requests.post(f"{api}/campaigns", json=draft, headers=marketer, timeout=30).json()
    checked = requests.post(f"{api}/campaigns/{created['id']}/launch", params={"dry_run": "true"}, headers=marketer,
                            timeout=60).json()
    print("   dry run (each platform validates the whole launch, creates nothing): "
          + ", ".join(f"{channel} {'accepted' if said['ok'] else 'refused ' + ','.join(said['codes'])}"
                      for channel, said in checked.get("channels", {}).items()))
    launched = requests.post(f"{api}/campaigns/{created['id']}/launch", headers=marketer, timeout=60)
    campaign = launched.json()
    print(f"   launch: {_said(launched)}, campaign {campaign.get('status')} (each platform's campaign is created "
          "paused, then switched on)")
    for channel, ids in campaign.get("platform_ids", {}).items():
        print(f"     {channel:<14} campaign {ids['campaign']}, ad {ids['ad']} ({ids['status']})")
        print(f"     {'':<14} the ad lands on the careers page: {campaign['links'][channel]['ad_url']}")
        for warning in ids.get("warnings", []):
            print(f"     {'':<14} note from the platform: {warning}")
    again = requests.post(f"{api}/campaigns/{created['id']}/launch", headers=marketer, timeout=60).json()
    print(f"   the launch is sent again (a network retry): same ids: {again.get('platform_ids') == campaign.get('platform_ids')}"
          " (no second campaign)")
    google, meta = ads.started["google"], ads.started["meta"]
    ids = campaign.get("platform_ids", {})
    clicks: list[tuple[str, str]] = []
    if "google_search" in ids:  # Google opens the final URL (the careers page) with the suffix and its gclid
        clicks += [("google_search", google.ad_click(ids["google_search"]["campaign"])[0]) for _ in range(2)]
    if "meta" in ids:  # Meta opens the link with its url_tags and appends fbclid by itself
        clicks += [("meta", f"{campaign['links']['meta']['ad_url']}&fbclid=IwAR-demo-{n}") for n in range(3)]
    for number, (channel, page) in enumerate(clicks, 1):
        session = requests.Session()
        session.headers["User-Agent"] = BROWSERS[number % len(BROWSERS)]
        # The careers page's snippet records the landing (GET /l/{code}) and keeps the signed ids it gets.
        fields = land_from_ad(api, page, session)
        email = f"ad-{channel}-{number}@example.com"
        skills, place = AD_JOINERS[(number - 1) % len(AD_JOINERS)]
        # The careers form's optional second box: "the ad platform that brought me may be told (hashed)".
        body = {**fields, "email": email, "name": "Ad clicker", "consent": True, "ads_consent": number % 2 == 1,
                "skills": skills, "location": place}
        # Sent from the careers page the ad landed on, as a browser sends it (Meta wants the page and agent).
        session.post(f"{api}/joins", json=body, timeout=30, headers={"Origin": "https://careers.example.com",
                                                                     "Referer": page.split("?")[0]})
        confirmed = session.post(confirm_link(aws.endpoint, email), timeout=30)
        ledger.confirmed("ads", f"ad click {number}", confirmed.status_code)
        path = " -> ".join(f"{t['channel']}/{t['source']}" for t in stored_attribution(aws, email))
        consent = "may tell the platform" if body["ads_consent"] else "platform not told"
        print(f"   click {number} on the {channel} ad, joins ({', '.join(skills)}, {place}; {consent}): credited {path}")

    if "google_search" in ids:
        google.set_spend(ids["google_search"]["campaign"], today, cost_micros=41_370_000, clicks=57, impressions=1_980)
    if "meta" in ids:
        meta.record_spend(ids["meta"]["campaign"], today, "38.90", clicks=112, impressions=14_200)
    synced = requests.post(f"{api}/_local/fire/SpendSyncFunction.Hourly", timeout=120).json()
    channels = (synced.get("result") or {}).get("channels", {})
    print("   the hourly spend sync reads each platform's spend, clicks and impressions: "
          + ", ".join(f"{c} {'ok' if o.get('ok') else 'FAILED'}" for c, o in channels.items())
          + " (make fire SCHEDULE=SpendSyncFunction.Hourly runs it by hand)")
    _wait_for_meta_events(meta)
    _wait_until_drained(aws, "ConversionsQueue")  # every confirmed join's message handled (Google's: held)
    meta_events = [p for method, path, p in meta.received if path.endswith("/events")]
    print(f"   the platforms learn which clicks became members (only with the person's consent): Meta "
          f"{len(meta_events)} Lead event(s) at once, with event_id = join id")
    datamanager = ads.started.get("google_datamanager")
    early = sweep_at(api, datetime.now(timezone.utc))
    print(f"   Google's conversion waits: Google takes one only 6 hours after its click; the sweep now "
          f"(every 15 minutes) uploads {early.get('result', {}).get('counts', {}).get('uploaded', 0)} and holds it")
    later = advance_and_sweep(api, ads, hours=6.5)
    uploaded = later.get("result", {}).get("counts", {}).get("uploaded", 0)
    events = len(datamanager.events) if datamanager is not None else 0
    print(f"   6.5 hours later (the demo's clock moved on), the sweep uploads {uploaded} to Google's Data Manager API "
          f"(IngestEvents): {events} event(s) recorded, transaction_id = join id")
    return {"paid_search": "Google Ads", "paid_social": "Meta"}


def run_posts(api: str, aws, marketer: dict[str, str], ledger: Ledger) -> None:
    """One post on the employer's Facebook Page, LinkedIn organisation and X (the local sandboxes), a reader who
    clicks its X link and joins, the metrics sync, and the post's organic_social row next to the ad channels."""
    print("\n== 6b. A marketer posts on the employer's own pages: Facebook Page, LinkedIn organisation and X "
          "(LOCAL SANDBOXES)")
    body: dict[str, Any] = {"name": "Meet the data team", "destination": "https://careers.example.com/teams/data",
            "text": "Our data team on how they ship: pairing, small releases, no heroics. Join our talent community:",
            "channels": ["facebook_page", "linkedin_org", "x"]}
    refused = requests.post(f"{api}/posts", json={**body, "text": body["text"] * 4}, headers=marketer, timeout=30)
    print(f"   first too long for X (280, the link counts 23): refused ({refused.status_code}) before any call: "
          + ", ".join(sorted({e["rule"] for e in refused.json().get("errors", [])})))
    created = requests.post(f"{api}/posts", json=body, headers=marketer, timeout=30).json()
    post: dict[str, Any] = created
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        post = requests.get(f"{api}/posts/{created['id']}", headers=marketer, timeout=30).json()
        if all(channel["status"] in ("published", "failed") for channel in post["channels"].values()):
            break
        time.sleep(0.5)
    for name, channel in post["channels"].items():
        print(f"     {name:<14} {channel['status']}: {channel.get('url') or channel.get('last_error')}")
        print(f"     {'':<14} tracked link {channel['link']['url']}")
    session = requests.Session()
    session.headers["User-Agent"] = BROWSERS[0]
    location = session.get(post["channels"]["x"]["link"]["url"], allow_redirects=False, timeout=30).headers["Location"]
    visitor = parse_qs(urlsplit(location).query)["tc_vid"][0]
    email = "reader-x@example.com"
    requests.post(f"{api}/joins", json={"email": email, "name": "Reader", "consent": True, "visitor_id": visitor},
                  timeout=30)
    confirmed = requests.post(confirm_link(aws.endpoint, email), timeout=30)
    ledger.confirmed("organic posts", "a reader of the X post", confirmed.status_code)
    path = " -> ".join(f"{t['channel']}/{t['source']}" for t in stored_attribution(aws, email))
    print(f"   a reader clicks the X post's link and joins: credited {path}")
    synced = requests.post(f"{api}/_local/fire/PostsMetricsFunction.Hourly", timeout=120).json()
    channels = (synced.get("result") or {}).get("channels", {})
    print("   the hourly posts metrics sync reads impressions and clicks: "
          + ", ".join(f"{c} {'ok' if o.get('ok') else 'FAILED'}" for c, o in channels.items()))
    rows = {row["key"]: row for row in _report(api, model="last_touch", group_by="channel")["rows"]}
    for key in ("organic_social", "paid_search", "paid_social"):
        if key in rows:
            spend = ", ".join(f"{s['amount']} {s['currency']}" for s in rows[key].get("spend") or []) or "no spend"
            print(f"   report, last touch, {key:<15} joins {rows[key]['joins']:.2f}, {spend}")


def _wait_until_drained(aws: Any, queue: str, timeout_s: float = 30) -> None:
    sqs, names = aws.client("sqs"), ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=aws.refs[queue], AttributeNames=names)["Attributes"]
        if all(int(counts[name]) == 0 for name in names):
            return
        time.sleep(0.5)


def _wait_for_meta_events(meta: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(path.endswith("/events") for _, path, _ in meta.received):
            return
        time.sleep(0.5)


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def _report(api: str, **params: str) -> dict:
    recruiter = {"Authorization": "Bearer " + mint_token(["recruiters"])}
    answer = requests.get(f"{api}/reports/attribution", headers=recruiter, timeout=30,
                          params={"from": _today(), "to": _today(), **params})
    answer.raise_for_status()
    return answer.json()


def print_recorded(api: str, table: TouchRepository, marketer: dict[str, str], links: list[dict],
                   visitors: list[str]) -> None:
    """Every click that feeds the report: tracked links, ad landings and invitation clicks, per channel."""
    print("\n== What Attract recorded (the clicks and touches the report is built from)\n")
    print("   " + _row("tracked link", "channel", "source", "code", "clicks"))
    for link in links:
        read = requests.get(f"{api}/links/{link['code']}", headers=marketer, timeout=30).json()
        print("   " + _row(read["campaign"], read["channel"], read["source"], read["code"], read["clicks"]))
    clicks = {row["key"]: row.get("clicks") for row in _report(api, group_by="channel")["rows"]}
    if any(value is not None for value in clicks.values()):
        print("\n   human clicks today by channel (links, ad landings, invitation links; bots and previews left out): "
              + ", ".join(f"{channel} {count}" for channel, count in sorted(clicks.items()) if count))
    channels: Counter = Counter()
    print()
    for person, visitor in enumerate(visitors, 1):
        touches = table.touches_of(visitor_subject(visitor))
        channels.update(t.channel for t in touches)
        path = " then ".join(f"{t.channel} ({t.source})" for t in touches)
        print(f"   person {person}: {len(touches)} touch{'es' if len(touches) != 1 else ''}: {path}")
    print("   touches of these 5 people by channel: " + ", ".join(f"{c} {n}" for c, n in channels.most_common()))


def print_attribution(api: str, ledger: Ledger) -> dict[str, float]:
    """The five models side by side, and the reconciliation: every confirmed join is in every model's total."""
    reports = {model: _report(api, model=model, group_by="channel") for model in MODELS}
    channels = sorted({row["key"] for report in reports.values() for row in report["rows"]})
    print(f"\n== Attribution report: which channels brought today's joins ({_today()}, UTC), under each model\n")
    print(f"   {'channel':<16}" + "".join(f"{model:>16}" for model in MODELS))
    for channel in channels:
        cells = []
        for model in MODELS:
            row = next((r for r in reports[model]["rows"] if r["key"] == channel), None)
            cells.append(f"{row['joins']:>16.2f}" if row else f"{'-':>16}")
        print(f"   {channel:<16}" + "".join(cells))
    totals = {model: float(reports[model]["totals"]["joins"]) for model in MODELS}
    print(f"   {'total':<16}" + "".join(f"{totals[m]:>16.2f}" for m in MODELS))
    print("\n   What the models do (docs/attribution.md):")
    for model in MODELS:
        print(f"     {model:<15} {MODEL_WORDS[model]}")
    print("   A channel's credit can be a fraction when a person touched several channels; `direct` is a join "
          "with no link, ad or invitation before it.")
    origins = ledger.by_origin()
    parts = " + ".join(f"{count} {origin}" for origin, count in origins.most_common())
    agree = all(abs(total - len(ledger.joins)) < 1e-6 for total in totals.values())
    print(f"\n   Reconciliation: {len(ledger.joins)} confirmed joins = {parts}; every model's total is "
          f"{len(ledger.joins)}: {'yes' if agree else 'NO, see ' + str(totals)}")
    return totals


def print_costs(api: str, platforms: dict[str, str]) -> None:
    """Spend per platform and day, then cost per join per campaign (rows without a campaign explained)."""
    print(f"\n== Spend per platform and day: ads synced from the platforms, email counted as sent ({_today()}, UTC)\n")
    by_channel = _report(api, model="last_touch", group_by="channel")
    print(f"   {'day':<12}{'platform':<14}{'spend':>14}{'joins':>8}{'cost per join':>16}")
    for row in by_channel["rows"]:
        for spend in row.get("spend") or []:
            cost = f"{spend['cost_per_join']} {spend['currency']}" if spend.get("cost_per_join") else "-"
            print(f"   {_today():<12}{({'email': 'Amazon SES'} | platforms).get(row['key'], row['key']):<14}"
                  f"{spend['amount'] + ' ' + spend['currency']:>14}{row['joins']:>8.2f}{cost:>16}")
    report = _report(api, model="last_touch", group_by="campaign")
    print("\n== Cost per join by campaign (last touch)\n")
    print(f"   {'campaign':<28}{'joins':>8}{'spend':>14}{'cost per join':>16}")
    for row in report["rows"]:
        for spend in row.get("spend") or [None]:
            amount = f"{spend['amount']} {spend['currency']}" if spend else "-"
            cost = f"{spend['cost_per_join']} {spend['currency']}" if spend and spend.get("cost_per_join") else "-"
            print(f"   {row['key'][:27]:<28}{row['joins']:>8.2f}{amount:>14}{cost:>16}")
    print("   (none) counts joins whose last touch had no campaign: a typed address or an untagged visit.")
    print("   A campaign with 0.00 joins was touched on the way but got no credit under last touch; email rows'")
    print("   spend is messages sent x the configured price per 1,000 (EmailPricePer1000).")


def print_overlap(api: str, recruiter: dict[str, str], profile: dict) -> None:
    """The reason Attract exists: per channel, joins, the relevant ones and what a relevant join cost."""
    report = _report(api, model="last_touch", group_by="channel", profile=profile["id"])
    print(f"\n== The overlap: joins relevant to \"{profile['name']}\" by channel (last touch, {_today()})\n")
    print(f"   {'channel':<16}{'joins':>8}{'relevant':>10}{'cost per relevant join':>26}")
    for row in report["rows"]:
        costs = [f"{s['cost_per_relevant_join']} {s['currency']}" for s in row.get("spend") or []
                 if s.get("cost_per_relevant_join")]
        relevant = row.get("relevant_joins")
        print(f"   {row['key']:<16}{row['joins']:>8.2f}{'-' if relevant is None else format(relevant, '.2f'):>10}"
              f"{', '.join(costs) or '-':>26}")
    members = requests.get(f"{api}/profiles/{profile['id']}/members", headers=recruiter, timeout=30,
                           params={"limit": 5})
    if members.ok:
        listed = members.json().get("members", [])
        print(f"\n   best matches (GET /profiles/{profile['id']}/members, also as CSV with format=csv):")
        for member in listed:
            first, last = member.get("first_touch") or {}, member.get("last_touch") or {}
            print(f"     score {member['score']:.2f}  {', '.join(member['skills'])[:40]:<40} {member.get('place') or '-':<18}"
                  f" first {first.get('channel', '-')}, last {last.get('channel', '-')}")


def main() -> None:
    STATE_DIR.mkdir(exist_ok=True)
    log_path = STATE_DIR / "demo.log"
    with log_path.open("w") as log:
        sandboxes = start_ad_sandboxes()  # before the gateway: its workers inherit the endpoints
        aws, gateway = start_local(port=0, log=log)
        try:
            sandboxes.fill_secrets(aws)
            print(f"Local stack up: API {gateway.url}, AWS emulator {aws.endpoint} (tables from template.yaml)")
            for line in sandboxes.notes:
                print(f"Ads: {line}")
            print(f"Function logs and gateway access log: {log_path.relative_to(STATE_DIR.parent)}")
            run(gateway.url, TouchRepository(aws.refs["AttractTable"], dynamodb=aws.client("dynamodb")), aws, sandboxes)
            print("\n== The dashboard\n")
            print("   `make local`, then open http://127.0.0.1:3000/dashboard (sign in as a recruiter on the local hosted UI);")
            print("   the API documentation is http://127.0.0.1:3000/docs")
        finally:
            gateway.stop()
            aws.stop()
            sandboxes.stop()


if __name__ == "__main__":
    main()
