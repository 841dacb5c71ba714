"""Ask for a person's erasure: one message on ErasureQueue, which the eraser works through step by step.

Stdlib and boto3 only: the public "delete my data" page and the consent job send it on their cold path.
The message names the person by the keyed hash of their address, never by the address.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from attract.audit.trail import Actor
from attract.aws import client
from attract.clock import iso

ErasureReason = Literal["admin", "self_service", "consent_expired"]
REASONS: tuple[ErasureReason, ...] = ("admin", "self_service", "consent_expired")


def erasure_message(email_hash: str, reason: ErasureReason, actor: Actor, requested_at: datetime) -> dict:
    if len(email_hash) != 64 or reason not in REASONS:
        raise ValueError("an erasure names a 64-character keyed hash and one of " + ", ".join(REASONS))
    return {"email_hash": email_hash, "reason": reason, "actor": {"sub": actor.sub, "username": actor.username},
            "requested_at": iso(requested_at)}


def request_erasure(queue_url: str, email_hash: str, reason: ErasureReason, actor: Actor, requested_at: datetime,
                    sqs=None) -> None:
    """Queue the erasure (at least once: the eraser's steps are idempotent, a duplicate finds them done)."""
    body = json.dumps(erasure_message(email_hash, reason, actor, requested_at), sort_keys=True)
    (sqs or client("sqs")).send_message(QueueUrl=queue_url, MessageBody=body)
