"""How many confirmation mails joins may cause (issue 13: POST /joins was a way to mail-bomb anyone).

Three limits, each counted in DynamoDB (keys: attract.joins.repository) and set in JoinPolicy:
- per mailbox: one mail an hour to the mailbox an address delivers to (attract.identity.mailbox_key), so
  victim+1@, victim+2@ and v.i.c.t.i.m@gmail.com count as one;
- per source: a client's network (API Gateway's sourceIp; IPv6 by /64) may cause a few mails a clock hour;
- account-wide: above a cap per clock hour, joins are still held and answered 202, and their mails wait in
  a queue for a later hour (attract.joins.logic.send_deferred).
Counters are keyed by keyed hashes (the email pepper), never by an address or an IP. Stdlib only: the
public joins function stays light.
"""

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from attract.identity import email_hash, mailbox_key

IPV6_PREFIX = 64  # one LAN (SLAAC hands a host any address in it): the smallest block one client rotates through
UNKNOWN_SOURCE = "unknown"
MAX_QUEUE_DELAY = 900  # SQS DelaySeconds' maximum: a longer wait is several hops


@dataclass(frozen=True)
class Requester:
    """Who a join's mail is counted against: the mailbox it goes to and the network that asked."""

    mailbox: str  # keyed hash of the address's mailbox
    source: str  # keyed hash of the client's network


def source_network(source_ip: str | None) -> str:
    """The IPv4 address, or the IPv6 /64 (an IPv4-mapped IPv6 address is its IPv4 address)."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return UNKNOWN_SOURCE  # API Gateway always sets one; anything else shares one bucket
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> (128 - IPV6_PREFIX) << (128 - IPV6_PREFIX), IPV6_PREFIX)))
    return str(address)


def requester(normalised_email: str, source_ip: str | None, pepper: str) -> Requester:
    """The keyed hashes a join's mail is counted under. A label keeps the two hashes apart from the email hash."""
    network = source_network(source_ip)
    source = hmac.new(pepper.encode(), f"source:{network}".encode(), hashlib.sha256).hexdigest()
    return Requester(mailbox=email_hash(mailbox_key(normalised_email), pepper), source=source)


def hour_window(now: datetime) -> str:
    """The clock hour (UTC) a per-hour counter belongs to: `2026-11-25T09`."""
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


def window_end(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def seconds_to_next_window(now: datetime) -> int:
    """How long a deferred mail waits in the queue before it tries again (at most SQS's 15 minutes a hop)."""
    return max(1, min(MAX_QUEUE_DELAY, int((window_end(now) - now).total_seconds()) + 1))
