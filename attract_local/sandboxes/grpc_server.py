"""The lifecycle the Google sandboxes share: a TLS gRPC server on 127.0.0.1 and its OAuth token endpoint.

A sandbox names its gRPC service (`SERVICE`) and its method handlers (`_handlers`); `start` serves them with
the process's one certificate (attract_local.sandboxes.google_oauth) and hands out `endpoint` and `token_uri`.
"""

import threading
from concurrent import futures
from http.server import ThreadingHTTPServer

import grpc

from attract_local.sandboxes.google_oauth import sandbox_certificate, token_handler


class GoogleGrpcSandbox:
    """Base of a local Google API stand-in: `start()` -> "127.0.0.1:<port>", `stop()`."""

    SERVICE: str  # the full gRPC service name, e.g. "google.ads.datamanager.v1.IngestionService"
    MAX_WORKERS = 4

    def __init__(self, access_token: str):
        self.access_token = access_token
        self.token_requests = 0  # counted by the token endpoint
        self._lock = threading.RLock()
        self._server: grpc.Server | None = None
        self._token_server: ThreadingHTTPServer | None = None
        self.endpoint = self.token_uri = ""

    def _handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        """SERVICE's method name -> its handler (with the SDK's deserialiser and serialiser)."""
        raise NotImplementedError

    @property
    def cert_path(self) -> str:
        return sandbox_certificate()[2]

    def start(self, port: int = 0, token_port: int = 0) -> str:
        key_pem, cert_pem, _ = sandbox_certificate()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.MAX_WORKERS))
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(self.SERVICE, self._handlers())])
        bound = server.add_secure_port(f"127.0.0.1:{port}", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
        server.start()
        self._server, self.endpoint = server, f"127.0.0.1:{bound}"
        self._token_server = ThreadingHTTPServer(("127.0.0.1", token_port), token_handler(self))
        threading.Thread(target=self._token_server.serve_forever, daemon=True).start()
        self.token_uri = f"http://127.0.0.1:{self._token_server.server_address[1]}/token"
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None
        if self._token_server is not None:
            self._token_server.shutdown()
            self._token_server.server_close()
            self._token_server = None
