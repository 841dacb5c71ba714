"""A post's image fetched for a platform that takes bytes, not a link (LinkedIn's Images API, X's media upload).

`image_url` is the marketer's, and fetching it is a request Attract makes from inside its own account: it must
never reach what only Attract can reach (server-side request forgery). So: https only, no redirects (a redirect
would go around the check), and every address the host resolves to must be public. A loopback host, over http
too, is allowed only when the platform itself is on loopback: the local sandboxes serve their test images there,
a deployment (api.linkedin.com, api.x.com) never gets that far.

Left: the host is resolved here and again by the connection (a DNS answer changed in between, "rebinding",
would pass); the Lambda functions run outside a VPC, so the worst such a lookup reaches is the public internet.
"""

import ipaddress
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Resolver = Callable[[str, int], list[str]]


@dataclass
class ImageRefused(Exception):
    """The image cannot be used: `code` is the API's error code (image_url, image_fetch, image_type, image_size)."""

    code: str
    reason: str
    retryable: bool = False

    def __str__(self) -> str:
        return self.reason


def on_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def fetch_image(url: str, *, types: Collection[str], max_bytes: int, timeout_s: float, allow_loopback: bool = False,
                resolver: Resolver = resolve) -> tuple[bytes, str]:
    """The image's bytes and media type (one of `types`, at most `max_bytes`); ImageRefused otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = allow_loopback and host in LOOPBACK_HOSTS
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise ImageRefused("image_url", "image_url must be an https URL")
    if not local:
        _public_only(host, parts.port or 443, resolver)
    try:
        with requests.get(url, stream=True, timeout=timeout_s, allow_redirects=False) as answer:
            if answer.status_code != 200:
                raise ImageRefused("image_fetch", f"the image could not be fetched (HTTP {answer.status_code})",
                                   retryable=answer.status_code >= 500 or answer.status_code == 429)
            media_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if media_type not in types:
                raise ImageRefused("image_type", f"the image is not of a type the platform takes ({', '.join(sorted(types))})")
            data = bytearray()
            for chunk in answer.iter_content(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise ImageRefused("image_size", f"the image is larger than the platform takes ({max_bytes} bytes)")
    except requests.RequestException as error:
        raise ImageRefused("image_fetch", f"the image could not be fetched ({type(error).__name__})",
                           retryable=True) from None
    if not data:
        raise ImageRefused("image_size", "the image is empty")
    return bytes(data), media_type


def _public_only(host: str, port: int, resolver: Resolver) -> None:
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal address needs no lookup
    except ValueError:
        try:
            addresses = resolver(host, port)
        except OSError:
            raise ImageRefused("image_fetch", "the image's host does not resolve", retryable=True) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise ImageRefused("image_url", "image_url's host is not a public address")
