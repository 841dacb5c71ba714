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
# Visitor journeys: which links each person clicks, in order (same browser, so the tc_vid cookie carries over).
JOURNEYS = [[1, 0], [2], [0, 1, 2], [1], [2, 0]]


def _row(*cells, widths=(26, 14, 10, 12, 8)) -> str:
    return "  ".join(str(c)[: w].ljust(w) for c, w in zip(cells, widths, strict=False))


def run(api: str, table: TouchRepository, aws, ads: AdSandboxes | None = None) -> None:
    marketer = {"Authorization": "Bearer " + mint_token(["marketers"])}
    print(f"\n== 1. A marketer creates {len(LINKS)} tracked links")
    links = []
    for spec in LINKS:
        response = requests.post(f"{api}/links", json=spec, headers=marketer, timeout=30)
        response.raise_for_status()
        links.append(response.json())
        print(f"   {response.status_code}  {links[-1]['url']}  ->  {spec['channel']:<12} {spec['source']}")

    print(f"\n== 2. {len(JOURNEYS)} people click (cookies carry their visitor id), plus a Slack preview and a typo")
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
        print(f"   person {person}: {' -> '.join(LINKS[i]['channel'] for i in journey):<40} visitor {visitor}")
    preview = requests.get(links[1]["url"], headers={"User-Agent": "Slackbot-LinkExpanding 1.0"}, allow_redirects=False)
    typo = requests.get(f"{api}/r/NoSuchLk", allow_redirects=False)
    print(f"   Slackbot preview -> {preview.status_code} (redirected, not counted); unknown code -> {typo.status_code}")

    print("\n== 3. A badge scan from last week's career fair is imported for person 4")
    scan = {"visitor_id": visitors[3], "campaign": "Berlin career fair", "channel": "event", "source": "career-fair",
            "medium": "badge-scan", "occurred_at": (datetime.now(timezone.utc) - timedelta(days=6)).isoformat()}
    bad = {**scan, "visitor_id": None, "email": "not-an-email"}
    result = requests.post(f"{api}/touches", json={"touches": [scan, bad]}, headers=marketer, timeout=30).json()
    print(f"   recorded {result['recorded']}, rejected {result['rejected']}: "
          + "; ".join(f"{e['field']} ({e['rule']})" for e in result["results"][1]["errors"]))

    print("\n== 4. People join from the careers site, then confirm from the email they receive (double opt-in)")
    joins: list[tuple[int | str, dict[str, str]]] = [
        (1, {"visitor_id": visitors[0]}), (3, {"visitor_id": visitors[2]}), (4, {"visitor_id": visitors[3]}),
        (5, {"visitor_id": visitors[4]}),
        ("6 (no tracked touch, came from a Google ad)", {"utm_source": "google", "utm_medium": "cpc", "gclid": "Cj0-demo"}),
        ("7 (typed the address)", {}),
    ]
    for who, extra in joins:
        email = f"person{str(who)[0]}@example.com"
        body: dict[str, Any] = {"email": email, "name": f"Person {who}", "consent": True, "skills": ["python"], **extra}
        submitted = requests.post(f"{api}/joins", json=body, timeout=30)
        link = confirm_link(aws.endpoint, email)
        page = requests.get(link, timeout=30)  # what a mail scanner prefetches: a button, nothing changes
        confirmed = requests.post(link, timeout=30)  # the button
        path = " -> ".join(t["channel"] for t in stored_attribution(aws, email))
        print(f"   person {who}: {submitted.status_code} {submitted.json()['status']}, email link GET {page.status_code}, "
              f"button POST {confirmed.status_code}; credited path: {path}")
    again = requests.post(f"{api}/joins", json={"email": "PERSON1@example.com", "name": "Person 1", "consent": True})
    note = sent_mail(aws.endpoint, "person1@example.com")[-1]["subject"]
    print(f"   person 1 joins again: {again.status_code} {again.json()} (the same answer; email: \"{note}\")")
    print(f"   a used link pressed again: {requests.post(link, timeout=30).status_code} (expired or used)")
    forged: dict[str, Any] = {"email": "mallory@example.com", "name": "M", "consent": True, "visitor_id": visitors[0][:22]}
    requests.post(f"{api}/joins", json=forged, timeout=30)
    requests.post(confirm_link(aws.endpoint, "mallory@example.com"), timeout=30)
    path = " -> ".join(t["channel"] for t in stored_attribution(aws, "mallory@example.com"))
    print(f"   someone joins with a copied (unsigned) visitor id of person 1: credited path {path}, not person 1's")
    invalid = requests.post(f"{api}/joins", json={"email": "x", "name": "", "consent": False})
    print(f"   an invalid form: {invalid.status_code} " + ", ".join(e["field"] for e in invalid.json()["errors"]))

    if ads is not None and {"google", "meta"} <= set(ads.started):
        run_ads(api, aws, marketer, ads)
    elif ads is not None:
        print("\n== 5. Ad campaigns: skipped, the local Google Ads and Meta sandboxes are not both running (see Ads: above)")

    demo_invites.run(api, aws)

    print("\n== What Attract recorded\n")
    print(_row("link", "channel", "source", "code", "clicks"))
    for link in links:
        read = requests.get(f"{api}/links/{link['code']}", headers=marketer, timeout=30).json()
        print(_row(read["campaign"], read["channel"], read["source"], read["code"], read["clicks"]))
    print()
    channels: Counter = Counter()
    for person, visitor in enumerate(visitors, 1):
        touches = table.touches_of(visitor_subject(visitor))
        channels.update(t.channel for t in touches)
        path = " -> ".join(f"{t.channel}/{t.source}" for t in touches)
        print(f"   person {person} ({len(touches)} touches): {path}")
    print("\n   touches by channel: " + ", ".join(f"{c} {n}" for c, n in channels.most_common()))
    print_attribution(api)
    if ads is not None and {"google", "meta"} <= set(ads.started):
        print_costs(api)


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


def run_ads(api: str, aws, marketer: dict[str, str], ads: AdSandboxes) -> None:
    """Launch a Google and a Meta campaign on the local sandboxes, click the ads, join, sync spend, cost per join."""
    print("\n== 5. A marketer launches a search + social campaign (LOCAL SANDBOXES, not Google or Meta)")
    today = datetime.now(timezone.utc).date()
    draft = {**AD_DRAFT, "start_date": today.isoformat(), "end_date": (today + timedelta(days=27)).isoformat()}
    refused = requests.post(f"{api}/campaigns", json={**draft, "targeting": {"age_max": 35}}, headers=marketer,
                            timeout=30)
    print(f"   with age targeting: {refused.status_code} " + ", ".join(sorted({e['rule'] for e in refused.json()['errors']})))
    created = requests.post(f"{api}/campaigns", json=draft, headers=marketer, timeout=30).json()
    checked = requests.post(f"{api}/campaigns/{created['id']}/launch", params={"dry_run": "true"}, headers=marketer,
                            timeout=60).json()
    print("   dry run (each platform validates the whole launch, creates nothing): "
          + ", ".join(f"{channel} {'accepted' if said['ok'] else 'refused ' + ','.join(said['codes'])}"
                      for channel, said in checked.get("channels", {}).items()))
    launched = requests.post(f"{api}/campaigns/{created['id']}/launch", headers=marketer, timeout=60)
    campaign = launched.json()
    print(f"   launch: {launched.status_code} {campaign.get('status')} (every platform created paused, then enabled)")
    for channel, ids in campaign.get("platform_ids", {}).items():
        print(f"     {channel:<14} campaign {ids['campaign']}, ad {ids['ad']} ({ids['status']})")
        print(f"     {'':<14} the ad lands on the careers page: {campaign['links'][channel]['ad_url']}")
        for warning in ids.get("warnings", []):
            print(f"     {'':<14} note from the platform: {warning}")
    again = requests.post(f"{api}/campaigns/{created['id']}/launch", headers=marketer, timeout=60).json()
    print(f"   launched again (a client retry): same ids: {again.get('platform_ids') == campaign.get('platform_ids')}")
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
        # The careers form's optional second box: "the ad platform that brought me may be told (hashed)".
        body = {**fields, "email": email, "name": "Ad clicker", "consent": True, "ads_consent": number % 2 == 1}
        # Sent from the careers page the ad landed on, as a browser sends it (Meta wants the page and agent).
        session.post(f"{api}/joins", json=body, timeout=30, headers={"Origin": "https://careers.example.com",
                                                                     "Referer": page.split("?")[0]})
        session.post(confirm_link(aws.endpoint, email), timeout=30)
        path = " -> ".join(f"{t['channel']}/{t['source']}" for t in stored_attribution(aws, email))
        print(f"   click {number} on the {channel} ad, joins (ads consent: {body['ads_consent']}): credited {path}")

    if "google_search" in ids:
        google.set_spend(ids["google_search"]["campaign"], today, cost_micros=41_370_000, clicks=57, impressions=1_980)
    if "meta" in ids:
        meta.record_spend(ids["meta"]["campaign"], today, "38.90", clicks=112, impressions=14_200)
    synced = requests.post(f"{api}/_local/fire/SpendSyncFunction.Hourly", timeout=120).json()
    channels = (synced.get("result") or {}).get("channels", {})
    print("   the hourly spend sync runs (make fire SCHEDULE=SpendSyncFunction.Hourly): "
          + ", ".join(f"{c} {'ok' if o.get('ok') else 'FAILED'}" for c, o in channels.items()))
    _wait_for_meta_events(meta)
    _wait_until_drained(aws, "ConversionsQueue")  # every confirmed join's message handled (Google's: held)
    meta_events = [p for method, path, p in meta.received if path.endswith("/events")]
    print(f"   conversions fed back off the join's path (only with ads consent): Meta {len(meta_events)} Lead event(s) "
          "at once, with event_id = join id")
    datamanager = ads.started.get("google_datamanager")
    early = sweep_at(api, datetime.now(timezone.utc))
    print(f"   Google's conversion waits: Google takes one only 6 hours after its click; the sweep now "
          f"(every 15 minutes) uploads {early.get('result', {}).get('counts', {}).get('uploaded', 0)} and holds it")
    later = advance_and_sweep(api, ads, hours=6.5)
    uploaded = later.get("result", {}).get("counts", {}).get("uploaded", 0)
    events = len(datamanager.events) if datamanager is not None else 0
    print(f"   6.5 hours later (the demo's clock moved on), the sweep uploads {uploaded} to Google's Data Manager API "
          f"(IngestEvents): {events} event(s) recorded, transaction_id = join id")


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


def print_costs(api: str) -> None:
    recruiter = {"Authorization": "Bearer " + mint_token(["recruiters"])}
    today = datetime.now(timezone.utc).date().isoformat()
    report = requests.get(f"{api}/reports/attribution", headers=recruiter, timeout=30, params={
        "from": today, "to": today, "model": "last_touch", "group_by": "campaign"}).json()
    print(f"\n== Cost per join (GET /reports/attribution?group_by=campaign&model=last_touch, {today})\n")
    print(f"   {'campaign':<28}{'joins':>8}{'spend':>14}{'cost per join':>16}")
    for row in report["rows"]:
        for spend in row.get("spend") or [None]:
            amount = f"{spend['amount']} {spend['currency']}" if spend else "-"
            cost = f"{spend['cost_per_join']} {spend['currency']}" if spend and spend.get("cost_per_join") else "-"
            print(f"   {row['key'][:27]:<28}{row['joins']:>8.2f}{amount:>14}{cost:>16}")


def print_attribution(api: str) -> None:
    recruiter = {"Authorization": "Bearer " + mint_token(["recruiters"])}
    today = datetime.now(timezone.utc).date().isoformat()
    reports = {model: requests.get(f"{api}/reports/attribution", headers=recruiter, timeout=30, params={
        "from": today, "to": today, "model": model, "group_by": "channel"}).json() for model in MODELS}
    channels = sorted({row["key"] for report in reports.values() for row in report["rows"]})
    print(f"\n== Attribution report (a recruiter's GET /reports/attribution, {today}, joins credited by channel)\n")
    print(f"   {'channel':<16}" + "".join(f"{model:>16}" for model in MODELS))
    for channel in channels:
        cells = []
        for model in MODELS:
            row = next((r for r in reports[model]["rows"] if r["key"] == channel), None)
            cells.append(f"{row['joins']:>16.3f}" if row else f"{'-':>16}")
        print(f"   {channel:<16}" + "".join(cells))
    print(f"   {'total':<16}" + "".join(f"{reports[m]['totals']['joins']:>16.3f}" for m in MODELS))


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
