"""Request, response and stored-item models of tracked links."""

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from attract.dimensions import Dimensions
from attract.links.records import LINK_CODE_PATTERN

LinkCode = Annotated[str, Field(pattern=LINK_CODE_PATTERN, description="Short code of a tracked link")]


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ASCII_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 characters that may stay as they are; `%` is kept so existing escapes survive.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
MAX_DESTINATION_LENGTH = 2048


def _refuse(rule: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(rule, message)


def ascii_host(host: str) -> str:
    """Lower-case ASCII form of a host name (IDNA for international names); ValueError when it is not one."""
    host = host.lower()
    if not host.isascii() or "xn--" in host:
        import idna  # only links with international hosts pay for it

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
            idna.decode(host)  # an ASCII `xn--` label must decode too
        except (idna.IDNAError, UnicodeError) as error:
            raise ValueError("not a valid international host name") from error
    if not _ASCII_HOST.fullmatch(host):
        raise ValueError("not a valid host name")
    return host


def _encoded(text: str, safe: str) -> str:
    """Percent-encode what is not URL-safe (non-ASCII as UTF-8), keeping existing %XX escapes."""
    return quote(_STRAY_PERCENT.sub("%25", text), safe=safe)


def normalise_destination(value: str) -> str:
    """The one form a destination is stored and redirected in, or a PydanticCustomError naming the rule.

    Browsers and `urlsplit` disagree on backslashes, control characters and userinfo, so those are
    refused rather than guessed; the rest is made unambiguous: lower-case scheme and host, IDNA host,
    default port dropped, path/query/fragment percent-encoded as UTF-8.
    """
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in value):
        raise _refuse("url_control_character", "destination must not contain control characters (NUL, CR, LF, TAB, …)")
    if value != value.strip():
        raise _refuse("url_whitespace", "destination must not start or end with spaces")
    if "\\" in value:
        raise _refuse("url_backslash", "destination must not contain backslashes")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse("url_scheme", "destination must be an http or https URL")
    if "@" in parts.netloc:
        raise _refuse("url_userinfo", "destination must not contain a user name or password")
    if not parts.hostname:
        raise _refuse("url_host", "destination must have a host")
    try:
        port = parts.port
    except ValueError:
        raise _refuse("url_port", "destination has an invalid port") from None
    if ":" in parts.hostname:  # an IPv6 literal, already validated by urlsplit
        host = f"[{parts.hostname}]"
    else:
        try:
            host = ascii_host(parts.hostname)
        except ValueError:
            raise _refuse("url_host", "destination must have a valid host name") from None
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    normalised = urlunsplit((scheme, netloc, _encoded(parts.path, _SAFE_PATH), _encoded(parts.query, _SAFE_QUERY),
                             _encoded(parts.fragment, _SAFE_QUERY)))
    if len(normalised) > MAX_DESTINATION_LENGTH:
        raise _refuse("string_too_long", f"destination must be at most {MAX_DESTINATION_LENGTH} characters once encoded")
    return normalised


def host_allowed(destination: str, allowed: tuple[str, ...]) -> bool:
    """Whether a normalised destination's host is on the allow-list (empty list: any host).

    `example.com` allows exactly that host; `*.example.com` allows its subdomains at any depth, not
    the apex. Subdomains are never implied: on shared platforms (`company.jobs-platform.com`) they
    belong to somebody else.
    """
    if not allowed:
        return True
    host = (urlsplit(destination).hostname or "").rstrip(".")
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith("." + entry[2:]):
                return True
        elif host == entry:
            return True
    return False


DestinationUrl = Annotated[
    str,
    Field(min_length=8, max_length=MAX_DESTINATION_LENGTH,
          description="Where the click lands: an http(s) URL, stored normalised (IDNA host, percent-encoded path and query)"),
    AfterValidator(normalise_destination),
]


class CreateLinkRequest(Dimensions):
    destination: DestinationUrl


class Link(Dimensions):
    """A stored tracked link. Links never change once created, so readers may cache them."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    code: LinkCode
    destination: str
    created_at: datetime
    created_by: str


class LinkResponse(Dimensions):
    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    code: LinkCode
    url: str = Field(description="The tracked URL to publish: {base}/r/{code}")
    destination: str
    created_at: datetime
    clicks: int = Field(0, description="Human clicks recorded (bots excluded)")
