"""Invitation messages: a tiny, safe template renderer and the MIME built with Python's `email` package.

Templates know a fixed set of placeholders (`{{first_name}}`): an unknown one is a validation error
when the campaign is created, never an empty hole in a sent message. Values are escaped in HTML and
stripped of CR/LF in headers. Every message carries RFC 8058 one-click unsubscribe headers, a visible
unsubscribe link and the sender's postal address (CAN-SPAM).
"""

import hashlib
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

PLACEHOLDERS = frozenset({"first_name", "last_name", "location", "skills", "unsubscribe_url", "invite_url",
                          "postal_address"})
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LINE_BREAKS = re.compile(r"[\r\n\x00]+")


def unknown_placeholders(template: str) -> list[str]:
    """Placeholders of `template` the renderer does not know (a campaign with any is refused)."""
    return sorted({name for name in PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})


def render(template: str, values: Mapping[str, str], *, escape: bool = False) -> str:
    """`template` with each known placeholder replaced; values HTML-escaped when `escape`."""
    bad = unknown_placeholders(template)
    if bad:
        raise ValueError(f"unknown placeholders: {', '.join(bad)}")

    def value(match: re.Match) -> str:
        text = str(values.get(match.group(1), ""))
        return html_lib.escape(text, quote=True) if escape else text

    return PLACEHOLDER.sub(value, template)


def header_value(text: str) -> str:
    """A header value that cannot start a header of its own."""
    return LINE_BREAKS.sub(" ", text).strip()


@dataclass(frozen=True)
class Letter:
    """What one invitation says, before MIME."""

    from_address: str
    reply_to: str | None
    to: str
    subject: str
    text: str
    html: str | None
    postal_address: str
    invite_url: str
    unsubscribe_url: str
    message_key: str  # campaign + recipient: the same for a resend


def message_id(message_key: str, from_address: str) -> str:
    """Deterministic: a resend of the same invitation carries the same Message-ID, so it is recognisable."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "attract.invalid"
    return f"<{hashlib.sha256(message_key.encode()).hexdigest()[:40]}@{domain}>"


def compose(fields: Mapping[str, str], subject: str, text: str, html: str | None, from_address: str,
            reply_to: str | None, to: str, postal_address: str, invite_url: str, unsubscribe_url: str,
            message_key: str) -> Letter:
    """The rendered letter; the footer (unsubscribe link, sender, postal address) is always added."""
    values = {**fields, "invite_url": invite_url, "unsubscribe_url": unsubscribe_url, "postal_address": postal_address}
    sender_name = parseaddr(from_address)[0] or parseaddr(from_address)[1]
    body = render(text, values).rstrip() + (
        f"\n\n--\n{sender_name}\n{postal_address}\n"
        f"You received this because you are in our candidate database. Unsubscribe: {unsubscribe_url}\n")
    rich = None
    if html:
        rich = render(html, values, escape=True) + (
            "<hr><p style='font-size:12px;color:#555'>" + html_lib.escape(sender_name) + "<br>"
            + html_lib.escape(postal_address) + "<br>You received this because you are in our candidate database. "
            + f"<a href=\"{html_lib.escape(unsubscribe_url, quote=True)}\">Unsubscribe</a></p>")
    return Letter(from_address=header_value(from_address), reply_to=header_value(reply_to) if reply_to else None,
                  to=header_value(to), subject=header_value(render(subject, values)), text=body, html=rich,
                  postal_address=postal_address, invite_url=invite_url, unsubscribe_url=unsubscribe_url,
                  message_key=message_key)


def mime(letter: Letter) -> bytes:
    """The raw RFC 5322 message: text/plain, or multipart/alternative with the HTML part; UTF-8."""
    message = EmailMessage()
    message["From"] = letter.from_address
    if letter.reply_to:
        message["Reply-To"] = letter.reply_to
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Message-ID"] = message_id(letter.message_key, letter.from_address)
    message["List-Unsubscribe"] = f"<{header_value(letter.unsubscribe_url)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: a POST, no confirmation page
    message.set_content(letter.text, charset="utf-8")
    if letter.html:
        message.add_alternative(letter.html, subtype="html", charset="utf-8")
    return message.as_bytes()
