"""A post's image is fetched from the marketer's URL (attract.providers.images): never from an address only Attract
can reach, never through a redirect, never more bytes than the platform takes."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from attract.providers.images import ImageRefused, fetch_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TYPES = {"image/png", "image/jpeg"}


class _Images(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if self.path == "/moved.png":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        body, kind = (PNG, "image/png") if self.path == "/team.png" else (b"<html></html>", "text/html")
        if self.path == "/big.png":
            body, kind = PNG * 100, "image/png"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def fetch(url: str, *, allow_loopback: bool = True, resolver=None, max_bytes: int = 1024):
    extra = {"resolver": resolver} if resolver else {}
    return fetch_image(url, types=TYPES, max_bytes=max_bytes, timeout_s=5, allow_loopback=allow_loopback, **extra)


def test_an_image_on_the_sandbox_host_is_fetched_when_the_platform_is_local_too(host):
    assert fetch(f"{host}/team.png") == (PNG, "image/png")


def test_loopback_is_refused_when_the_platform_is_not_local(host):
    with pytest.raises(ImageRefused) as refused:
        fetch(f"{host}/team.png", allow_loopback=False)
    assert refused.value.code == "image_url"


@pytest.mark.parametrize("address", ["10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "127.0.0.1", "0.0.0.0",
                                     "100.64.0.1", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"])
def test_a_host_resolving_to_a_private_address_is_refused_before_any_request(address):
    asked: list = []
    with pytest.raises(ImageRefused) as refused:
        fetch("https://images.example.com/team.png", resolver=lambda host, port: asked.append(host) or [address])
    assert refused.value.code == "image_url" and asked == ["images.example.com"]


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(ImageRefused) as refused:
        fetch("https://cdn.example.com/team.png", resolver=lambda host, port: ["93.184.216.34", "10.1.2.3"])
    assert refused.value.code == "image_url"


@pytest.mark.parametrize("url", ["http://images.example.com/team.png", "ftp://images.example.com/team.png",
                                 "file:///etc/passwd", "https:///team.png", "//images.example.com/a.png"])
def test_only_https_urls_are_fetched(url):
    with pytest.raises(ImageRefused) as refused:
        fetch(url, resolver=lambda host, port: ["93.184.216.34"])
    assert refused.value.code == "image_url"


def test_a_redirect_is_not_followed(host):
    with pytest.raises(ImageRefused) as refused:
        fetch(f"{host}/moved.png")
    assert refused.value.code == "image_fetch" and "302" in str(refused.value) and not refused.value.retryable


def test_what_is_not_an_image_of_an_accepted_type_is_refused(host):
    with pytest.raises(ImageRefused) as refused:
        fetch(f"{host}/page.html")
    assert refused.value.code == "image_type"


def test_an_image_larger_than_the_platform_takes_is_refused_without_reading_it_all(host):
    with pytest.raises(ImageRefused) as refused:
        fetch(f"{host}/big.png", max_bytes=1000)
    assert refused.value.code == "image_size"


def test_a_host_that_does_not_resolve_is_a_retryable_fetch_error():
    def nowhere(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(ImageRefused) as refused:
        fetch("https://images.example.invalid/team.png", resolver=nowhere)
    assert refused.value.code == "image_fetch" and refused.value.retryable
