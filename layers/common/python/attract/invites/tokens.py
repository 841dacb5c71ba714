"""The signed tokens an invitation carries: `tc_inv` (credits a join) and the unsubscribe token.

Stdlib and attract.signing only: the public unsubscribe function opens tokens on its cold start and
must not pay for the MIME builder (attract.invites.messages) that the sender needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from attract.signing import Signer

if TYPE_CHECKING:  # a type only: this module stays free of pydantic models
    from attract.invites.models import InvitationJob

INVITE = "invite"  # signing purposes
UNSUBSCRIBE = "unsubscribe"
UNSUBSCRIBE_TOKEN_DAYS = 3650  # an unsubscribe link must work as long as the mail sits in an inbox


def recipient_key(email_hash: str) -> str:
    """The recipient's part of tokens and Message-IDs: a prefix of the peppered hash, never the address."""
    return email_hash[:32]


def invite_token(signer: Signer, job: InvitationJob, email_hash: str, expires_at: int) -> str:
    return signer.token(INVITE, [job.campaign_id, recipient_key(email_hash)], expires_at)


def unsubscribe_token(signer: Signer, campaign_id: str, email_hash: str, now: datetime) -> str:
    return signer.token(UNSUBSCRIBE, [email_hash, campaign_id], int(now.timestamp()) + UNSUBSCRIBE_TOKEN_DAYS * 86400)


def open_unsubscribe_token(signer: Signer, token: str | None, now: datetime) -> tuple[str, str] | None:
    """(email hash, campaign id) of a token this key signed for unsubscribing; None for anything else."""
    fields = signer.open(UNSUBSCRIBE, token, int(now.timestamp()), 2)
    if not fields or len(fields[0]) != 64:
        return None
    return fields[0], fields[1]

