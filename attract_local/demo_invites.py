"""The invitations part of `make demo`: a synthetic SQLite "ATS", an invite campaign, joins it brings."""

import re
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, TextIO

import requests

from attract_local import sample_ats
from attract_local.auth import STATE_DIR, mint_token
from attract_local.invitee import follow_invitation
from attract_local.mailbox import confirm_link, stored_attribution

CAMPAIGN = "Alumni invitations 2027"
# Why a row is not invited, in a marketer's words (the run's counts name the reason by its code).
REASON_WORDS = {
    "invalid_row": "the row could not be read", "invalid_email": "not an email address",
    "no_consent": "the candidate did not agree to marketing email", "duplicate": "the same address twice in the source",
    "member": "already in the talent community", "suppressed": "unsubscribed, bounced or complained before",
    "cooldown": "invited recently by another campaign", "already_invited": "this campaign invited them already",
}
SKIP_REASONS = ("invalid_row", "invalid_email", "no_consent", "duplicate", "member", "suppressed", "cooldown",
                "already_invited")


def raw_invitations(aws_endpoint: str) -> list[EmailMessage]:
    """Every raw message SES accepted (invitations are sent as Content.Raw), parsed with `email`."""
    data = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=60).json()
    return [BytesParser(policy=policy.default).parsebytes(m["raw_data"].encode())  # type: ignore[misc]
            for m in (data.get("ses") or {}).get("RawMessage", [])]


def _wait(read: Callable[[], dict], until: Callable[[dict], bool], timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = read()
        if until(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def _join(api: str, aws, email: str, extra: dict[str, Any]) -> int:
    body = {"email": email, "name": "Demo person", "consent": True, **extra}
    status = requests.post(f"{api}/joins", json=body, timeout=30).status_code
    requests.post(confirm_link(aws.endpoint, email), timeout=30)
    return status


def _run(api: str, headers: dict, campaign_id: str) -> dict:
    started = requests.post(f"{api}/invite-campaigns/{campaign_id}/runs", headers=headers, timeout=30)
    run_id = started.json()["run_id"]
    print(f"   POST /runs -> {started.status_code} run {run_id}; the planner and sender work through their queues")
    return _follow(lambda: requests.get(f"{api}/invite-campaigns/{campaign_id}/runs/{run_id}", headers=headers,
                                        timeout=30).json())


def _follow(read: Callable[[], dict]) -> dict:
    """Poll the run until it is done or failed, showing its progress as it goes."""
    shown = ProgressPrinter()
    try:
        return _wait(lambda: shown.update(read()), lambda run: run.get("status") in ("done", "failed"))
    finally:
        shown.close()


BAR_WIDTH = 24


def describe(run: dict) -> str:
    """One line of a run's progress in words (the GET /runs/{id} answer: status, progress, estimated_done_at)."""
    progress = run.get("progress") or {}
    done, total, status = progress.get("done", 0), progress.get("total"), run.get("status", "planning")
    if status == "failed":
        return f"failed after {done} invitation(s)"
    if total is None:
        return (f"planning: reading the ATS, {done} invitation(s) handled so far "
                "(the total is known once every row is read)")
    share = f"{done} of {total} invitation(s) ({_percent(done, total)}%)"
    if status == "done":
        return f"done: {share}"
    rate, estimate = progress.get("per_minute"), run.get("estimated_done_at")
    pace = f", about {round(rate):,} a minute" if rate else ", measuring the send rate"
    return f"sending: {share}{pace}" + (f", expected done at {_clock(estimate)}" if estimate else "")


def compact(run: dict) -> str:
    """The terminal's line: a bar and the same facts, short enough for 80 columns."""
    progress = run.get("progress") or {}
    done, total, status = progress.get("done", 0), progress.get("total"), run.get("status", "planning")
    if total is None:
        return f"{bar(done, None)} {status}: {done} handled, total not known yet"
    line = f"{bar(done, total)} {done}/{total} {_percent(done, total)}%"
    if status == "sending" and progress.get("per_minute"):
        line += f"  {round(progress['per_minute']):,}/min"
    if status == "sending" and run.get("estimated_done_at"):
        line += f"  done at {_clock(run['estimated_done_at'])}"
    return line if status == "sending" else f"{line}  {status}"


def bar(done: int, total: int | None) -> str:
    """[#######.................] for done of total; an empty bar while the total is unknown."""
    filled = BAR_WIDTH * min(done, total) // total if total else (BAR_WIDTH if total == 0 else 0)
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def _percent(done: int, total: int) -> int:
    return 100 if total == 0 else 100 * min(done, total) // total


def _clock(moment: str) -> str:
    """An ISO UTC time as HH:MM:SS UTC (the demo's readers see the zone, not a bare time)."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(timezone.utc).strftime("%H:%M:%S UTC")


class ProgressPrinter:
    """A progress bar redrawn in place on a terminal; plain lines elsewhere (CI, a log), one whenever the words
    change and at most one per `every` seconds, the last state always printed."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic, every: float = 2.0):
        self.out = out or sys.stdout
        self.terminal = self.out.isatty()
        self.clock, self.every = clock, every
        self._printed: str | None = None
        self._pending: str | None = None
        self._at = float("-inf")

    def update(self, run: dict) -> dict:
        if "status" not in run:
            return run  # not there (yet): nothing to show
        if self.terminal:
            self._printed = compact(run)
            self.out.write("\r\033[K   " + self._printed)
            self.out.flush()
            return run
        line = describe(run)
        if line == self._printed:
            return run
        if self.clock() - self._at >= self.every or run.get("status") in ("done", "failed"):
            self._emit(line)
        else:
            self._pending = line
        return run

    def close(self) -> None:
        if self.terminal:
            if self._printed is not None:
                self.out.write("\n")
        elif self._pending is not None and self._pending != self._printed:
            self._emit(self._pending)
        self.out.flush()

    def _emit(self, line: str) -> None:
        self.out.write(f"   {line}\n")
        self._printed, self._pending, self._at = line, None, self.clock()


def _print_counts(run: dict) -> None:
    if "counts" not in run:
        print(f"   the run did not finish in time (status: {run.get('status', 'not found')})")
        return
    counts = run["counts"]
    print(f"   status {run['status']}: rows {counts['rows']}, planned {counts['planned']}, sent {counts['sent']}, "
          f"failed {counts['failed']}")
    skipped = counts.get("skipped") or {}
    print("   skipped: " + (", ".join(f"{reason} {skipped[reason]}" for reason in SKIP_REASONS if skipped.get(reason))
                           or "none"))
    if skipped:
        print("   (" + "; ".join(f"{reason}: {REASON_WORDS[reason]}" for reason in SKIP_REASONS if skipped.get(reason))
              + ")")


def run(api: str, aws) -> list[tuple[str, str]]:
    """The invitation scenario; returns the joins it confirmed, by where they came from (the demo's ledger)."""
    confirmed: list[tuple[str, str]] = []
    marketer = {"Authorization": "Bearer " + mint_token(["marketers"])}
    ats_path = STATE_DIR / "demo-ats.sqlite"
    stats = sample_ats.build(ats_path)
    print(f"\n== 7. Invitations: the employer's ATS (SQLite here; PostgreSQL, MySQL, S3 or DynamoDB in production) "
          f"holds {stats['rows']} candidates")
    print("   planted: " + ", ".join(f"{reason} {n}" for reason, n in stats["skipped"].items())
          + f"; {stats['planned']} should be invited")
    member = stats["member_email"]
    _join(api, aws, member, {})
    confirmed.append(("already a member before the invitations", "an ATS candidate"))
    print("   one of them is already a member: they joined on the careers site before the campaign")

    body = {
        "name": CAMPAIGN, "destination": "https://careers.example.com/community",
        "source": {"kind": "sqlite", "path": str(ats_path), "table": "candidates"},
        "mapping": stats["mapping"],
        "subject": "{{first_name}}, join our talent community",
        "text": "Hello {{first_name}},\n\nwe are building a community of people who like what we do in "
                "{{location}}. Join here: {{invite_url}}\n",
        "html": "<p>Hello {{first_name}},</p><p>join our talent community in {{location}}: "
                "<a href=\"{{invite_url}}\">join</a></p>",
        "sender": {"from": "Acme Careers <community@attract.example>", "reply_to": "community@attract.example",
                   "postal_address": "1 Main Street, Springfield"},
    }
    created = requests.post(f"{api}/invite-campaigns", json=body, headers=marketer, timeout=30)
    campaign = created.json()
    print(f"   POST /invite-campaigns -> {created.status_code} id {campaign.get('id')}")
    preview = requests.post(f"{api}/invite-campaigns/{campaign['id']}/preview", headers=marketer, timeout=60).json()
    first = (preview.get("messages") or [{}])[0]
    print(f"   preview (3 real rows, nothing sent): \"{first.get('subject')}\" ...")

    before = len(raw_invitations(aws.endpoint))
    run_state = _run(api, marketer, campaign["id"])
    _print_counts(run_state)

    messages = raw_invitations(aws.endpoint)[before:]
    if messages:
        sample = messages[0]
        print(f"\n   a captured invitation (raw MIME, {len(messages)} sent):")
        for header in ("From", "To", "Subject", "List-Unsubscribe-Post"):
            print(f"     {header}: {sample[header]}")
        # Whole links (a cut link is no link), each person's token shown as {token}: never a token on screen
        print(f"     List-Unsubscribe: {_without_tokens(sample['List-Unsubscribe'])}")
        text = sample.get_body(preferencelist=("plain",))
        lines = [line for line in (text.get_content() if text else "").splitlines() if line.strip()]
        print("     " + "\n     ".join(_excerpt(_without_tokens(line)) for line in lines[:6]))

    print("\n   three invited people follow their link and join; one unsubscribes instead")
    for message in messages[:3]:
        address = message["To"].addresses[0].addr_spec
        answer = follow_invitation(api, aws.endpoint, address, "Invited person")
        if answer.status_code == 200:
            confirmed.append(("invitations", address))
        path = " -> ".join(f"{t['channel']}/{t['campaign']}" for t in stored_attribution(aws, address))
        print(f"     {address.split('@')[0][:14]}...@...: clicked, joined, confirmed; credited path {path}")
    if len(messages) > 3:
        unsubscribe = _link(messages[3], "/u/")
        answer = requests.post(unsubscribe, data="List-Unsubscribe=One-Click", timeout=30)
        print(f"     one-click unsubscribe (RFC 8058 POST) -> {answer.status_code}")

    with sqlite3.connect(ats_path) as db:  # the ATS changes: one new candidate, one edited already-invited row
        # Those who joined or unsubscribed above would be skipped as a member or as suppressed: edit someone else
        changed = sample_ats.change(db, spare=[m["To"].addresses[0].addr_spec for m in messages[:4]])
    # Well ahead of now: on a loaded machine the schedule must be set, and the first run settled, before it fires
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=10)
    scheduled = requests.put(f"{api}/invite-campaigns/{campaign['id']}/schedule", headers=marketer, timeout=30,
                             json={"expression": f"at({due:%Y-%m-%dT%H:%M:%S})", "timezone": "UTC"})
    run_id = f"s-{due:%Y%m%dT%H%M%S}Z"
    print(f"\n   the ATS changes ({changed}); the marketer schedules the next run for {due:%H:%M:%S} UTC "
          f"(PUT /schedule -> {scheduled.status_code}); EventBridge Scheduler (the local stack fires it) starts "
          f"run {run_id}, which reads only what changed:")
    _print_counts(_follow(lambda: requests.get(f"{api}/invite-campaigns/{campaign['id']}/runs/{run_id}",
                                               headers=marketer, timeout=30).json()))
    print(f"   every invitation SES accepted, per recipient: at most {_most_per_recipient(aws.endpoint)}")
    return confirmed


# attract.signing's tokens: "<field>.….<expires_at>.<MAC>" (invitation tc_inv, unsubscribe).
SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.\d{9,11}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def _without_tokens(text: str) -> str:
    """A mail's line with each signed token replaced by {token}, as a route key names it."""
    return SIGNED_TOKEN.sub("{token}", text)


def _excerpt(line: str, width: int = 100) -> str:
    """A line of the mail as a reader sees it: cut at a word, never inside a link."""
    if len(line) <= width:
        return line
    words, kept = line.split(" "), ""
    for word in words:
        if kept and len(kept) + 1 + len(word) > width and "://" not in word:
            return kept + " …"
        kept = f"{kept} {word}" if kept else word
    return kept


def _link(message: EmailMessage, marker: str) -> str:
    text = message.get_body(preferencelist=("plain",))
    content = text.get_content() if text else ""
    return next(word.strip("<>()") for word in content.split() if marker in word)


def _most_per_recipient(aws_endpoint: str) -> int:
    counts: dict[str, int] = {}
    for message in raw_invitations(aws_endpoint):
        address = str(message["To"])
        counts[address] = counts.get(address, 0) + 1
    return max(counts.values(), default=0)
