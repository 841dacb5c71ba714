"""The small HTML pages public links open in a browser (join confirmation, unsubscribe).

Their URLs carry a bearer token, so every page is sent with headers that keep it out of Referer
headers, caches and frames. Light on purpose: public functions import it on their cold start.
"""

from aws_lambda_powertools.event_handler import Response

# The token sits in the URL: no Referer may carry it away, no cache keep it, no frame trick a click.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           "frame-ancestors 'none'"}
_PAGE = ("<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
         "<title>{title}</title><body style='font-family:sans-serif;max-width:32em;margin:3em auto'>"
         "<h1>{title}</h1>{body}</body></html>")


def page(title: str, body: str) -> str:
    """A whole page; `title` and `body` are our own constants, never caller input."""
    return _PAGE.format(title=title, body=body)


def html_response(status: int, html: str) -> Response[str]:
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=html, headers=PAGE_HEADERS)
