"""Who invitations are sent as: one mailbox at an address SES lets this account send from.

SES rejects every message whose From is not a verified identity: the address itself, its domain, or a
parent domain (a verified domain covers its subdomains) (`MessageRejected`). Checked when the campaign is created, so the marketer hears it then, with the field
named, rather than from a run whose every message SES refused.
"""

from typing import Protocol

from attract.errors import InvalidRequestError, UpstreamError
from attract.invites.messages import mail_address, mailbox_parts
from attract.invites.models import InviteSender


class IdentityLookupError(Exception):
    """SES could not say whether an identity is verified (unreachable, throttled, access denied)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class SenderIdentities(Protocol):  # attract.providers.ses.SesIdentities
    def verified_for_sending(self, identity: str) -> bool:
        """True when SES lets this account send from `identity` (an address or a domain); False when it does not
        or has no such identity; IdentityLookupError when SES cannot answer."""
        ...


def identities_of(address: str) -> list[str]:
    """The identities that let `address` send, in the order asked: the address, its domain, then each parent
    domain of two labels or more (a verified domain lets SES send from its subdomains too)."""
    local, _, domain = address.rpartition("@")
    labels = domain.lower().split(".")
    return [f"{local}@{domain.lower()}", *(".".join(labels[start:]) for start in range(len(labels) - 1))]


def check_sender(sender: InviteSender, identities: SenderIdentities) -> None:
    """422 naming `sender.from` / `sender.reply_to` unless each is one mailbox an invitation can carry and
    `sender.from` is a verified SES identity (its address, its domain or a parent domain); 502 when SES cannot be
    asked."""
    address = _mailbox("sender.from", sender.from_)
    if sender.reply_to:
        _mailbox("sender.reply_to", sender.reply_to)
    try:
        if any(identities.verified_for_sending(identity) for identity in identities_of(address)):
            return
    except IdentityLookupError as error:
        raise UpstreamError("sender.from", "ses.unavailable",
                            f"SES could not say whether the sender is verified ({error.code}): retry") from error
    raise InvalidRequestError("sender.from", "ses.identity_not_verified",
                              "SES does not let this account send from this address: verify the address or its "
                              "domain in SES (VerifiedForSendingStatus), then create the campaign", location="body")


def _mailbox(field: str, value: str) -> str:
    """The ASCII address of `Name <address>` or `address`; 422 on `field` otherwise. The address is never echoed."""
    name, address = mailbox_parts(value)
    try:
        if "<" in name or ">" in name:
            raise ValueError("two addresses")
        return mail_address(address)
    except ValueError:
        raise InvalidRequestError(field, "mailbox", "one mailbox: an address, or Name <address> (ASCII local part)",
                                  location="body") from None
