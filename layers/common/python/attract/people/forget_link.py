"""The signed "delete my data" link every email of ours carries (issue 15): `/d/<token>`.

Stdlib and attract.signing only: the join confirmation, the invitation sender and the public page all import it.
The token names the person by the keyed hash of their address (never the address) and expires after ten years:
the link must work as long as the mail sits in an inbox, like an unsubscribe link.
"""

from __future__ import annotations

from datetime import datetime

from attract.signing import Signer

FORGET = "forget"  # signing purpose: a token signed for anything else never opens here
FORGET_TOKEN_DAYS = 3650


def forget_token(signer: Signer, email_hash: str, now: datetime) -> str:
    return signer.token(FORGET, [email_hash], int(now.timestamp()) + FORGET_TOKEN_DAYS * 86400)


def forget_url(signer: Signer, base_url: str, email_hash: str, now: datetime) -> str:
    """The public page's URL for this person: a GET shows a button, its POST queues the erasure."""
    return f"{base_url.rstrip('/')}/d/{forget_token(signer, email_hash, now)}"


def open_forget_token(signer: Signer, token: str | None, now: datetime) -> str | None:
    """The email hash of a token these keys signed for forgetting; None for anything else (forged, expired, other)."""
    fields = signer.open(FORGET, token, int(now.timestamp()), 1)
    if not fields or len(fields[0]) != 64:
        return None
    return fields[0]
