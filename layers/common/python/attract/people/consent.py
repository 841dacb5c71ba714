"""Consent lifetime: what a member's consent records, its index by month, and the signed renew link.

Stdlib and attract.signing only: the public renew page (GET/POST /consent/{token}) opens tokens on its
cold start, and the join's confirmation writes the index entry from here.

The consent of a member (`MEMBER#<hash>` / `MEMBER`, attribute `consent`) records `text_version`, `at`,
`confirmed_at` and `channel`: how it was given (`CHANNELS`). Members confirmed before the channel was kept
read as `unknown` (`consent_channel`).

The index (`CONSENT#<yyyy-mm>` / `<email hash>`) lists consents by the month they were confirmed, so the
renewal job Queries the months that are due instead of scanning members. This module owns the key format.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from attract.signing import Signer

ConsentChannel = Literal["join_form", "invitation", "renewal", "unknown"]
CHANNELS: tuple[ConsentChannel, ...] = ("join_form", "invitation", "renewal", "unknown")
PREFIX = "CONSENT#"
CURSOR_KEY = {"PK": {"S": "CONSENTCURSOR"}, "SK": {"S": "CURSOR"}}  # the renewal job's first month still to read
# How far the job's one-off walk of the member index got (members confirmed before the consent index existed).
BACKFILL_KEY = {"PK": {"S": "CONSENTCURSOR"}, "SK": {"S": "BACKFILL"}}
RENEW = "consent"  # signing purpose of the renew link


def consent_channel(consent: dict | None) -> ConsentChannel:
    """The channel a stored consent was given through; `unknown` for consents recorded before it was kept."""
    value = (consent or {}).get("channel")
    return value if value in CHANNELS else "unknown"  # type: ignore[return-value]


def month_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` `months` later (or earlier, negative), the day clamped to the target month's last day."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30,
            31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def index_key(month: str, email_hash: str) -> dict:
    return {"PK": {"S": f"{PREFIX}{month}"}, "SK": {"S": email_hash}}


def index_put(table: str, email_hash: str, consent_at: datetime) -> dict:
    """The TransactWriteItems Put of a consent's index entry (in the join's confirmation, or a renewal's)."""
    iso_at = consent_at.astimezone(timezone.utc).isoformat()
    return {"Put": {"TableName": table, "Item": {
        **index_key(month_of(consent_at), email_hash), "type": {"S": "consent"}, "consent_at": {"S": iso_at}}}}


def renew_token(signer: Signer, email_hash: str, month: str, expires_at: int) -> str:
    """Names the person and the consent (its month) the link renews; works until the grace period ends."""
    return signer.token(RENEW, [email_hash, month], expires_at)


def open_renew_token(signer: Signer, token: str | None, now: datetime) -> tuple[str, str] | None:
    """(email hash, month) of a genuine, unexpired renew token; None for anything else."""
    fields = signer.open(RENEW, token, int(now.timestamp()), 2)
    if not fields or len(fields[0]) != 64 or len(fields[1]) != 7:
        return None
    return fields[0], fields[1]


def renew_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/consent/{token}"
