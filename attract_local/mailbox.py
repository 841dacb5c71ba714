"""What the local stack sent and stored, read back for the demo and the tests.

moto keeps every message SES accepted; its `GET /moto-api/data.json` lists them under
`ses` -> `Message` ({subject, body, destinations, source}). The confirmation link is read from there,
as a person would read it from their inbox.
"""

import re

import requests

CONFIRM_LINK = re.compile(r"(\S*/joins/confirm/[A-Za-z0-9_.-]+)")


def sent_mail(aws_endpoint: str, to: str) -> list[dict]:
    """Messages SES accepted for `to` (any case), oldest first."""
    data = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=60).json()
    address = to.strip().lower()
    return [m for m in (data.get("ses") or {}).get("Message", []) if address in m["destinations"].get("ToAddresses", [])]


def latest_confirm_links(aws_endpoint: str) -> dict[str, str]:
    """Every recipient's latest confirmation link, from one read of the emulator's state (which is large)."""
    data = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=60).json()
    links: dict[str, str] = {}
    for message in (data.get("ses") or {}).get("Message", []):
        if match := CONFIRM_LINK.search(message["body"]):
            for address in message["destinations"].get("ToAddresses", []):
                links[address.lower()] = match.group(1)
    return links


def confirm_link(aws_endpoint: str, to: str) -> str:
    """The link of the latest confirmation email sent to `to` (AssertionError when there is none)."""
    links = [match.group(1) for m in sent_mail(aws_endpoint, to) if (match := CONFIRM_LINK.search(m["body"]))]
    assert links, "no confirmation email for this address"
    return links[-1]


def stored_attribution(aws, email: str) -> list[dict]:
    """The credited path a confirmation stored for `email` (the API never shows it), credits as floats."""
    from attract.aws import from_item
    from attract.identity import email_hash

    pepper = aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["EmailPepperSecret"])["SecretString"]
    item = aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(email.strip().lower(), pepper)}"}, "SK": {"S": "ATTRIBUTION"}})["Item"]
    return [{**t, "credits": {m: float(c) for m, c in t["credits"].items()}} for t in from_item(item)["touches"]]


INVITE_LINK = re.compile(r"(\S*/r/[A-Za-z0-9_-]+\?tc_inv=[A-Za-z0-9_.-]+)")


def sent_invitations(aws_endpoint: str, to: str) -> list:
    """Invitations SES accepted for `to` (any case), oldest first, parsed (`email.message.EmailMessage`).

    The sender sends raw MIME (SES v2 `Content.Raw`): moto keeps those under `ses` -> `RawMessage`.
    """
    from email import policy
    from email.parser import BytesParser

    data = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=60).json()
    address = to.strip().lower()
    parsed = [BytesParser(policy=policy.default).parsebytes(m["raw_data"].encode())
              for m in (data.get("ses") or {}).get("RawMessage", [])]
    return [m for m in parsed if any(a.addr_spec.lower() == address for a in m["To"].addresses)]


def invite_link(aws_endpoint: str, to: str) -> str:
    """The personal link (`{base}/r/{code}?tc_inv=…`) of the latest invitation sent to `to`."""
    links = [match.group(1) for m in sent_invitations(aws_endpoint, to)
             if (match := INVITE_LINK.search(m.get_body(("plain",)).get_content()))]
    assert links, "no invitation for this address"
    return links[-1]
