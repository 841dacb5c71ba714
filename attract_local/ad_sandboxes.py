"""`make local` / `make demo`: the local Google Ads, Data Manager and Meta sandboxes, and the functions pointed at them.

Each sandbox starts only when the environment does not already name that platform's endpoint, so a
user can point the local stack at a sandbox or recorder of their own:
- `GOOGLE_ADS_ENDPOINT` (host:port of a gRPC server) and `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` (its
  certificate, for gRPC to trust). When the Google sandbox starts and the roots variable is already
  set (some machines set it to the system bundle), the sandbox's certificate is added to a copy of
  that bundle, so everything trusted before stays trusted;
- `GOOGLE_DATAMANAGER_ENDPOINT` (host:port of a gRPC server: Google conversions), trusted the same way;
- `META_GRAPH_URL` (the Graph API base URL).
The function workers inherit this process's environment (attract_local.stack.LocalAws.function_environment),
so setting the variables before the gateway starts is all the wiring they need. The stack's platform
secrets (placeholders in template.yaml) get the sandbox's credentials.
"""

import atexit
import contextlib
import importlib
import json
import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

# platform -> (module, class, the secret's logical id, the variable naming its endpoint)
SANDBOXES = {
    "google": ("attract_local.sandboxes.google_ads", "GoogleAdsSandbox", "GoogleAdsSecret", "GOOGLE_ADS_ENDPOINT"),
    # Google conversions: the same secret (one OAuth client for both Google APIs), another API
    "google_datamanager": ("attract_local.sandboxes.datamanager", "DataManagerSandbox", "GoogleAdsSecret",
                           "GOOGLE_DATAMANAGER_ENDPOINT"),
    "meta": ("attract_local.sandboxes.meta", "MetaSandbox", "MetaSecret", "META_GRAPH_URL"),
    "linkedin": ("attract_local.sandboxes.linkedin", "LinkedInSandbox", "LinkedInSecret", "LINKEDIN_API_URL"),
    "x": ("attract_local.sandboxes.x", "XSandbox", "XSecret", "X_API_URL"),  # organic posts (issue 16)
}
GRPC_ROOTS = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"
PLATFORM_NAMES = {"google": "Google", "google_datamanager": "Google", "meta": "Meta", "linkedin": "LinkedIn",
                  "x": "X"}  # for the notes


@dataclass
class AdSandboxes:
    started: dict[str, Any] = field(default_factory=dict)  # platform -> sandbox object
    notes: list[str] = field(default_factory=list)  # what to tell the user, one line each

    def fill_secrets(self, aws) -> None:
        """Put each started sandbox's credentials into the local stack's secret for that platform.

        Sandboxes sharing a secret (Google Ads and Data Manager) add their fields to it; where both name one
        (the OAuth client, token endpoint, customer), the first wins: both sandboxes take the same token.
        """
        secrets: dict[str, dict] = {}
        for platform, sandbox in self.started.items():
            secrets[SANDBOXES[platform][2]] = sandbox.config() | secrets.get(SANDBOXES[platform][2], {})
            # A sandbox serving more than one secret (Meta's Graph host: the ads and the Facebook Page's) names them
            for logical_id, config in (sandbox.extra_secrets() if hasattr(sandbox, "extra_secrets") else {}).items():
                secrets[logical_id] = config | secrets.get(logical_id, {})
        for logical_id, config in secrets.items():
            secret = aws.refs.get(logical_id)
            if secret:
                aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(config))

    def stop(self) -> None:
        for sandbox in self.started.values():
            sandbox.stop()


def start_ad_sandboxes(environ: MutableMapping[str, str] = os.environ,
                       sandboxes: dict[str, tuple[str, str, str, str]] = SANDBOXES) -> AdSandboxes:
    """Start the sandboxes the environment does not replace, and point the variables at them."""
    result = AdSandboxes()
    for platform, (module_name, class_name, _, variable) in sandboxes.items():
        if environ.get(variable):
            result.notes.append(f"{variable}={environ[variable]} (from the environment: no local {platform} sandbox)")
            continue
        try:
            sandbox = getattr(importlib.import_module(module_name), class_name)()
        except ModuleNotFoundError as error:
            if error.name is None or not module_name.startswith(error.name):
                raise  # the sandbox exists but one of its imports is missing: a real problem
            result.notes.append(f"no {platform} sandbox ({module_name} is not installed): campaigns cannot launch "
                                f"on {platform} locally unless {variable} points at a sandbox of your own")
            continue
        endpoint = sandbox.start()
        result.started[platform] = sandbox
        environ[variable] = endpoint
        note = f"{variable}={endpoint} (LOCAL SANDBOX, not {PLATFORM_NAMES.get(platform, platform)})"
        cert_path = getattr(sandbox, "cert_path", None)
        if cert_path and not environ.get(GRPC_ROOTS):
            environ[GRPC_ROOTS] = str(cert_path)
            note += f", {GRPC_ROOTS}={cert_path}"
        elif cert_path and str(cert_path) in _pem_sources.get(environ[GRPC_ROOTS], (environ[GRPC_ROOTS],)):
            note += f", {GRPC_ROOTS}={environ[GRPC_ROOTS]} (already trusts it: the Google sandboxes share one)"
        elif cert_path:
            # Roots the environment chose stay trusted; the sandbox's certificate is added next to them.
            environ[GRPC_ROOTS] = _combined_roots(environ[GRPC_ROOTS], str(cert_path))
            note += f", {GRPC_ROOTS}={environ[GRPC_ROOTS]} (the environment's roots + the sandbox's certificate)"
        result.notes.append(note)
    return result


def _combined_roots(roots_file: str, certificate_file: str) -> str:
    """A PEM bundle of `roots_file` (when readable) and `certificate_file`, in a file of its own."""
    parts = []
    for path in (roots_file, certificate_file):
        try:
            with open(path, "rb") as pem:
                parts.append(pem.read().rstrip(b"\n") + b"\n")
        except OSError:
            continue
    handle, combined = tempfile.mkstemp(prefix="attract-grpc-roots-", suffix=".pem")
    with os.fdopen(handle, "wb") as bundle:
        bundle.write(b"".join(parts))
    _pem_sources[combined] = (roots_file, certificate_file)
    atexit.register(_remove, combined)  # the workers that read it are this process's children: gone first
    return combined


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


_pem_sources: dict[str, tuple[str, ...]] = {}  # a combined bundle -> the files it holds
