"""The daily consent renewal job: ask members to renew after `months`, erase those who did not.

For each index entry (attract.people.consent) of the months now due, from the cursor on:
- the member is gone (erased, left), or the entry is not their current consent: the entry is removed;
- consented less than `months` ago: nothing yet;
- not mailed: the renewal mail, once (a conditional `renewal_sent_at` mark before sending; a retried or
  overlapping run finds it and sends nothing). The mark is given back only when SES refused the mail
  before accepting it (`NotSent`): any other failure may follow an accepted mail, so it stays;
- mailed more than `grace_days` ago and not renewed (a renewal moves the entry to a later month): the
  erasure is requested (ErasureQueue), then marked so the next runs do not ask again. A crash between
  the two asks twice, which the eraser takes as once (its steps are idempotent).
The cursor moves past the months left empty, so each run reads only the months still holding entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from attract.people.consent import add_months, month_of, next_month, renew_token, renew_url
from attract.signing import Signer

FIRST_MONTH = "2020-01"  # before any member of Attract: where the job starts without a cursor
BACKFILL_PAGES = 50  # member index pages (100 members each) the one-off walk takes per run
Outcome = Literal["indexed", "waiting", "mailed", "sent_already", "mail_failed", "in_grace", "erasure_requested",
                  "erasure_pending", "removed"]

SUBJECT = "Do you want to stay in our talent community?"
TEXT = (
    "You joined our talent community with this email address. We keep your profile only as long as you agree "
    "to it, so every {months} months we ask again.\n\n"
    "To stay, open this link and press the button (it works for {grace} days):\n{link}\n\n"
    "If you do nothing, we delete your data after {grace} days. You will not be asked again.\n"
    "{forget}"
    "\n--\nYou received this because you are a member of our talent community. Unsubscribe: {unsubscribe}\n"
)


@dataclass(frozen=True)
class RenewalPolicy:
    public_base_url: str
    from_address: str
    months: int = 24
    grace_days: int = 30
    first_month: str = FIRST_MONTH
    backfill_pages: int = BACKFILL_PAGES
    backfill_page_size: int = 100


class ConsentStore(Protocol):
    def cursor(self) -> str | None: ...
    def advance_cursor(self, month: str) -> None: ...
    def backfill_state(self) -> tuple[bool, str | None]: ...
    def save_backfill(self, after: str | None, done: bool) -> None: ...
    def member_index_page(self, after: str | None, limit: int) -> tuple[list[tuple[str, datetime]], str | None]: ...
    def index_if_absent(self, email_hash: str, consent_at: datetime) -> bool: ...
    def entries(self, month: str) -> list[dict]: ...
    def member(self, email_hash: str) -> dict | None: ...
    def claim_mail(self, month: str, email_hash: str, at: datetime) -> bool: ...
    def unclaim_mail(self, month: str, email_hash: str, at: datetime) -> None: ...
    def mark_erasure_requested(self, month: str, email_hash: str, at: datetime) -> bool: ...
    def remove(self, month: str, email_hash: str) -> None: ...


class RenewalMailer(Protocol):
    def send_raw(self, raw: bytes, tags: dict[str, str]) -> str:
        """Send a raw message; raises attract.invites.sending.NotSent when SES refused it before accepting it."""
        ...


ErasureRequest = Callable[[str, datetime], None]  # (email hash, now): one message on ErasureQueue
Audit = Callable[[str, str], None]  # (action, email hash): one entry of the audit trail


def _moment(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def renewal_letter(email: str, email_hash: str, month: str, now: datetime, policy: RenewalPolicy,
                   signer: Signer) -> bytes:
    """The raw renewal mail: the signed renew link (valid for the grace period) and RFC 8058 unsubscribe."""
    from attract.invites.messages import Letter, body_text, header_value, mime
    from attract.invites.tokens import unsubscribe_token
    from attract.people.forget_link import forget_url

    base = policy.public_base_url.rstrip("/")
    link = renew_url(base, renew_token(signer, email_hash, month, int(now.timestamp()) + policy.grace_days * 86400))
    unsubscribe = f"{base}/u/{unsubscribe_token(signer, 'consent-renewal', email_hash, now)}"
    forget = f"To delete your data now: {forget_url(signer, base, email_hash, now)}\n"
    text = TEXT.format(months=policy.months, grace=policy.grace_days, link=link, forget=forget, unsubscribe=unsubscribe)
    return mime(Letter(from_address=header_value(policy.from_address), reply_to=None, to=header_value(email),
                       subject=SUBJECT, text=body_text(text), html=None, postal_address="", invite_url=link,
                       unsubscribe_url=unsubscribe, message_key=f"consent/{email_hash[:32]}/{month}"))


def handle_entry(entry: dict, month: str, now: datetime, policy: RenewalPolicy, signer: Signer, store: ConsentStore,
                 mailer: RenewalMailer, request_erasure: ErasureRequest, audit: Audit) -> Outcome:
    email_hash = str(entry["email_hash"])
    consent_at = _moment(entry.get("consent_at"))
    if consent_at is not None and add_months(consent_at, policy.months) > now:
        return "waiting"
    member = store.member(email_hash)
    # Consents from before confirmed_at was kept: the confirmation is the join.
    current = _moment(((member or {}).get("consent") or {}).get("confirmed_at") or (member or {}).get("joined_at"))
    if member is None or not member.get("email") or current is None or month_of(current) != month:
        # Gone (erased, left), or an older consent of someone who joined again: nothing to ask for.
        store.remove(month, email_hash)
        return "removed"
    if entry.get("erasure_requested_at"):
        return "erasure_pending"  # removed once the eraser has deleted the member
    sent_at = _moment(entry.get("renewal_sent_at"))
    if sent_at is not None:
        if sent_at + timedelta(days=policy.grace_days) > now:
            return "in_grace"
        request_erasure(email_hash, now)
        store.mark_erasure_requested(month, email_hash, now)
        return "erasure_requested"
    from attract.invites.sending import NotSent

    try:
        raw = renewal_letter(str(member["email"]), email_hash, month, now, policy, signer)
    except ValueError:
        # An address no header can carry as written (a non-ASCII local part: SES has no SMTPUTF8). Not claimed:
        # counted (ConsentRenewalMailFailed) and tried again each day, never erased unasked; the run goes on.
        return "mail_failed"
    if not store.claim_mail(month, email_hash, now):
        return "sent_already"
    try:
        mailer.send_raw(raw, {"kind": "consent-renewal"})
    except NotSent:
        store.unclaim_mail(month, email_hash, now)
        return "mail_failed"
    audit("person.consent_renewal_sent", email_hash)
    return "mailed"


def backfill(store: ConsentStore, pages: int, page_size: int, counts: Counter[str]) -> bool:
    """Index members confirmed before the consent index existed, from the member index (`MEMBERIDX#all`), a
    few pages a run, resumable. An entry that exists is left as it is. True once the whole index was walked."""
    done, after = store.backfill_state()
    for _ in range(0 if done else pages):
        page, after = store.member_index_page(after, page_size)
        indexed = sum(store.index_if_absent(email_hash, joined_at) for email_hash, joined_at in page)
        if indexed:
            counts["indexed"] += indexed
        done = after is None
        store.save_backfill(after, done)
        if done:
            break
    return done


def run_renewals(now: datetime, policy: RenewalPolicy, signer: Signer, store: ConsentStore, mailer: RenewalMailer,
                 request_erasure: ErasureRequest, audit: Audit) -> Counter[str]:
    """One run as of `now`: the months from the cursor to the one `months` ago, each entry handled once.

    Until the one-off walk of the member index is done (`backfill`), the cursor stays: the walk may still
    add entries to any month."""
    counts: Counter[str] = Counter()
    backfilled = backfill(store, policy.backfill_pages, policy.backfill_page_size, counts)
    boundary = month_of(add_months(now, -policy.months))
    month = max(store.cursor() or policy.first_month, policy.first_month)
    empty_so_far = backfilled
    while month <= boundary:
        outcomes = [handle_entry(entry, month, now, policy, signer, store, mailer, request_erasure, audit)
                    for entry in store.entries(month)]
        counts.update(outcomes)
        empty_so_far = empty_so_far and all(outcome == "removed" for outcome in outcomes)
        # Only months wholly past: the boundary month may still hold consents not yet due.
        if empty_so_far and month < boundary:
            store.advance_cursor(next_month(month))
        month = next_month(month)
    return counts
