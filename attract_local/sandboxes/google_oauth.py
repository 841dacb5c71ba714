"""What Google's local sandboxes share: one TLS certificate per process and an OAuth token endpoint.

gRPC reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH once per process, at its first TLS channel, so the Google Ads
and the Data Manager sandboxes of a process serve the same certificate. The token endpoint answers
refresh-token grants with the sandbox's `access_token`, as https://oauth2.googleapis.com/token does.
"""

import atexit
import datetime as dt
import ipaddress
import json
import shutil
import tempfile
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs


@cache
def sandbox_certificate() -> tuple[bytes, bytes, str]:
    """(key PEM, certificate PEM, certificate file): one self-signed certificate per process."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Attract local Google sandbox")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    folder = tempfile.mkdtemp(prefix="attract-google-sandbox-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "sandbox-ca.pem"
    path.write_bytes(cert_pem)
    return key_pem, cert_pem, str(path)


def token_handler(sandbox) -> type[BaseHTTPRequestHandler]:
    """The token endpoint's handler for `sandbox` (its `access_token`, `token_requests` counter and `_lock`)."""
    class TokenHandler(BaseHTTPRequestHandler):
        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            ok = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token")
            with sandbox._lock:
                sandbox.token_requests += 1
            body = (json.dumps({"access_token": sandbox.access_token, "expires_in": 3600, "token_type": "Bearer"})
                    if ok else json.dumps({"error": "invalid_grant"})).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return TokenHandler
