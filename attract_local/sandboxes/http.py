"""What the HTTP wire sandboxes (Meta, LinkedIn, X) share: a threaded server that takes a client giving up (a test's
timeout, an answer the sandbox drops on purpose) as expected, and a handler that logs nothing and hands each method
to the sandbox's `_serve`."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SandboxHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines may carry a token (Meta's in the query string); each sandbox records what it needs."""

    def _serve(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
