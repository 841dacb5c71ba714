"""Invitation messages: a tiny, safe template renderer and the raw RFC 5322 message.

Templates know a fixed set of placeholders (`{{first_name}}`): an unknown one is a validation error
when the campaign is created, never an empty hole in a sent message. Values are escaped in HTML.
Every message carries RFC 8058 one-click unsubscribe headers, a visible unsubscribe link and the
sender's postal address (CAN-SPAM).

The header block is written here, not by `email`'s folder (docs/decisions.md, "Invitation headers
written by us"): on the Pythons Lambda and the tests run, it decodes RFC 2047 encoded words found in
data and writes their CR/LF out as header lines (CVE-2024-6923), refuses values holding U+2028 or VT
(a job that can never be sent), and re-encodes any word longer than a line, `List-Unsubscribe`'s URL
included, as an encoded word mailbox providers do not read. Here every header is printable ASCII:
data is cleaned first (`header_value`), non-ASCII text becomes RFC 2047 "B" words made from that clean
text, and lines are folded at whitespace only. `email` still writes the MIME body.
"""

import base64
import hashlib
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage

PLACEHOLDERS = frozenset({"first_name", "last_name", "location", "skills", "unsubscribe_url", "invite_url",
                          "postal_address"})
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# Never in a header: C0 and C1 controls (CR, LF, VT, FF, FS/GS/RS, NEL U+0085, NUL, DEL), the Unicode line and
# paragraph separators, and lone surrogates (no UTF-8 for them). str.splitlines() breaks at all separators among
# them, which is how a value becomes two header lines.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Never in a body: NUL (RFC 5322 text excludes it) and lone surrogates (not encodable: the job would fail forever).
_NOT_IN_BODIES = re.compile(r"[\x00\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")

LINE = 78  # RFC 5322 2.1.1: a line SHOULD be at most 78 characters (and MUST be at most 998)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL_PART = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_ATOM = re.compile(rf"{_ATEXT}{{1,{LINE - 2}}}")
_PLAIN_WORD = re.compile(rf"[\x21-\x7e]{{1,{LINE - 2}}}")
# RFC 8058 / 2369: one URI in angle brackets, read raw by mailbox providers; printable ASCII without spaces or <>.
_HEADER_URL = re.compile(r"https?://[\x21-\x3b=\x3f-\x7e]+")
_MAX_URL = 900  # with "List-Unsubscribe: <>" well inside RFC 5322's 998
_ENCODED_BYTES = 45  # UTF-8 bytes per encoded word: 60 base64 characters, a 72-character "=?utf-8?b?...?=" word
_ANGLE_ADDR = re.compile(r"(?P<name>.*)<(?P<address>[^<>]*)>\s*", re.DOTALL)
# CRLF line ends (RFC 5322); 7bit: non-ASCII bodies go quoted-printable or base64, never raw 8-bit through relays.
_BODY_POLICY = email_policy.SMTP.clone(cte_type="7bit")


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
    """Text fit for one header line, however a receiver decodes it.

    Controls and line separators become spaces, runs of whitespace one space, and `=?` becomes `= ?`:
    data that looks like an RFC 2047 encoded word would otherwise be decoded by the receiver, CR/LF
    included, into header lines of its own."""
    cleaned = _NOT_IN_HEADERS.sub(" ", text).replace("=?", "= ?")
    return _WHITESPACE.sub(" ", cleaned).strip()


def body_text(text: str) -> str:
    """A body every MIME encoder takes: NUL dropped, lone surrogates as U+FFFD. Line separators stay."""
    return _NOT_IN_BODIES.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", text)


def mailbox_parts(mailbox: str) -> tuple[str, str]:
    """(display name, address) of `Name <address>`, `"Quoted, Name" <address>` or a bare address.

    The address is the last `<…>` ending the value: unlike `parseaddr`, whatever the name holds (`@`,
    `<`, commas, encoded words) cannot move it, and creation and sending read it alike."""
    match = _ANGLE_ADDR.fullmatch(mailbox.strip())
    if match is None:
        return "", mailbox.strip()
    name = match["name"].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name, match["address"].strip()


def mail_address(address: str) -> str:
    """`address` as an ASCII addr-spec a header carries verbatim, its IDN domain as punycode.

    ValueError when there is none: a non-ASCII local part (SES has no SMTPUTF8), a quoted one, or one
    holding `=?` (lenient readers, Python's own among them, decode encoded words even in addresses)."""
    local, at, domain = address.strip().rpartition("@")
    if not at or len(local) > 64 or "=?" in local or not _LOCAL_PART.fullmatch(local):
        raise ValueError("not an address a header can carry")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("not an address a header can carry") from None
    if len(ascii_domain) > 253 or not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError("not an address a header can carry")
    return f"{local}@{ascii_domain}"


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
    forget_url: str | None = None  # "delete my data" (attract.people.forget_link), in the footer of every invitation


def message_id(message_key: str, from_address: str) -> str:
    """Deterministic: a resend of the same invitation carries the same Message-ID, so it is recognisable."""
    try:
        domain = mail_address(mailbox_parts(from_address)[1]).rpartition("@")[2]
    except ValueError:
        domain = "attract.invalid"
    return f"<{hashlib.sha256(message_key.encode()).hexdigest()[:40]}@{domain}>"


def compose(fields: Mapping[str, str], subject: str, text: str, html: str | None, from_address: str,
            reply_to: str | None, to: str, postal_address: str, invite_url: str, unsubscribe_url: str,
            message_key: str, forget_url: str | None = None) -> Letter:
    """The rendered letter; the footer (unsubscribe link, sender, postal address, and the "delete my data" link when
    given) is always added."""
    values = {**fields, "invite_url": invite_url, "unsubscribe_url": unsubscribe_url, "postal_address": postal_address}
    display_name, address = mailbox_parts(from_address)
    sender_name = display_name or address
    body = render(text, values).rstrip() + (
        f"\n\n--\n{sender_name}\n{postal_address}\n"
        f"You received this because you are in our candidate database. Unsubscribe: {unsubscribe_url}\n"
        + (f"Delete my data: {forget_url}\n" if forget_url else ""))
    rich = None
    if html:
        rich = render(html, values, escape=True) + (
            "<hr><p style='font-size:12px;color:#555'>" + html_lib.escape(sender_name) + "<br>"
            + html_lib.escape(postal_address) + "<br>You received this because you are in our candidate database. "
            + f"<a href=\"{html_lib.escape(unsubscribe_url, quote=True)}\">Unsubscribe</a>"
            + (f" | <a href=\"{html_lib.escape(forget_url, quote=True)}\">Delete my data</a>" if forget_url else "")
            + "</p>")
    return Letter(from_address=header_value(from_address), reply_to=header_value(reply_to) if reply_to else None,
                  to=header_value(to), subject=header_value(render(subject, values)), text=body_text(body),
                  html=body_text(rich) if rich is not None else None, postal_address=postal_address,
                  invite_url=invite_url, unsubscribe_url=unsubscribe_url, message_key=message_key,
                  forget_url=forget_url)


# ---- the header block ----------------------------------------------------------------------------------------


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 "B" encoded words of `text` in UTF-8, each at most 75 characters, never splitting a character."""
    chunks: list[bytes] = []
    chunk = b""
    for char in text:
        data = char.encode()
        if chunk and len(chunk) + len(data) > _ENCODED_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=" for chunk in chunks]


def _unstructured(text: str) -> list[str]:
    """An unstructured value (Subject) as the words of its folded form: plain when printable ASCII in short
    words, else encoded words of the whole text (decoders drop the space between two encoded words)."""
    text = header_value(text)
    if not text:
        return []
    words = text.split(" ")
    if all(_PLAIN_WORD.fullmatch(word) for word in words):
        return words
    return _encoded_words(text)


def _mailbox(value: str) -> list[str]:
    """`Name <addr>` (or `addr`) as words: the display name as atoms when it is plain, else encoded words."""
    name, address = mailbox_parts(value)
    address, name = mail_address(address), header_value(name)
    if not name:
        return [address]
    words = name.split(" ")
    if not all(_ATOM.fullmatch(word) for word in words):
        words = _encoded_words(name)
    return [*words, f"<{address}>"]


def _field(name: str, words: list[str]) -> bytes:
    """One header field, folded before a word that would pass LINE (never inside a word), CRLF-terminated."""
    lines = [f"{name}:"]
    for index, word in enumerate(words):
        if index and len(lines[-1]) + 1 + len(word) > LINE:
            lines.append("")  # the continuation line starts with the word's leading space
        lines[-1] += f" {word}"
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def unsubscribe_header(url: str) -> bytes:
    """`List-Unsubscribe: <url>` on one line, never encoded: RFC 2369/8058 readers take it as written."""
    if len(url) > _MAX_URL or "=?" in url or not _HEADER_URL.fullmatch(url):
        raise ValueError("the unsubscribe URL cannot go into List-Unsubscribe as written")
    return f"List-Unsubscribe: <{url}>\r\n".encode("ascii")


def mime(letter: Letter) -> bytes:
    """The raw RFC 5322 message: our header block, then text/plain or multipart/alternative with HTML; UTF-8, CRLF."""
    head = [_field("From", _mailbox(letter.from_address))]
    if letter.reply_to:
        head.append(_field("Reply-To", _mailbox(letter.reply_to)))
    head += [_field("To", _mailbox(letter.to)), _field("Subject", _unstructured(letter.subject)),
             _field("Message-ID", [message_id(letter.message_key, letter.from_address)]),
             unsubscribe_header(letter.unsubscribe_url),
             b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]  # RFC 8058: a POST, no confirmation page
    body = EmailMessage(policy=_BODY_POLICY)
    body.set_content(body_text(letter.text), charset="utf-8")
    if letter.html:
        body.add_alternative(body_text(letter.html), subtype="html", charset="utf-8")
    # `body` starts with its MIME-Version and Content-* fields: written by `email`, from no data.
    return b"".join(head) + body.as_bytes()
