"""The people area's own keys (issue 15): a person's index of invitations, and an erasure's status.

Person row:     PK=PERSON#<email_hash>, SK=INVITED#<campaign_id>   campaign_id, invite_key (the INVITE# item's hash
                part): written by the invitation sender before it sends, so an erasure finds every invitation of a
                person by key (there is no list of a person's invitations otherwise).
Erasure status: PK=ERASURE#<email_hash>, SK=ERASURE                status, reason, steps done, leads, counts.
"""

from __future__ import annotations

PERSON_PREFIX = "PERSON#"
INVITED_PREFIX = "INVITED#"
ERASURE_PREFIX = "ERASURE#"


def person_partition(email_hash: str) -> str:
    return f"{PERSON_PREFIX}{email_hash}"


def invited_key(email_hash: str, campaign_id: str) -> dict:
    return {"PK": {"S": person_partition(email_hash)}, "SK": {"S": f"{INVITED_PREFIX}{campaign_id}"}}


def invited_item(email_hash: str, campaign_id: str, invite_key_hash: str, at: str) -> dict:
    """The row the sender puts next to an invitation (no address, no name: hashes and ids)."""
    return {**invited_key(email_hash, campaign_id), "type": {"S": "person_invitation"},
            "campaign_id": {"S": campaign_id}, "invite_key": {"S": invite_key_hash}, "at": {"S": at}}


def erasure_key(email_hash: str) -> dict:
    return {"PK": {"S": f"{ERASURE_PREFIX}{email_hash}"}, "SK": {"S": "ERASURE"}}
