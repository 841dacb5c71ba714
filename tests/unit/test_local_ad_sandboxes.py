"""`make local` points the campaigns function at the local ads sandboxes, unless the environment names its own."""

import sys
import types
from pathlib import Path

import pytest

from attract_local.ad_sandboxes import GRPC_ROOTS, start_ad_sandboxes


class _Sandbox:
    """Stands in for a sandbox module's class: what the wiring needs (start, stop, config, cert_path)."""

    started = 0

    def __init__(self):
        self.running = False

    def start(self) -> str:
        type(self).started += 1
        self.running = True
        return "127.0.0.1:50123"

    def stop(self) -> None:
        self.running = False

    def config(self) -> dict:
        return {"developer_token": "sandbox"}


class _GrpcSandbox(_Sandbox):
    cert_path = "/tmp/sandbox-cert.pem"


@pytest.fixture
def sandbox_module(monkeypatch):
    module = types.ModuleType("fake_ads_sandbox")
    module.GrpcSandbox, module.HttpSandbox = _GrpcSandbox, _Sandbox  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_ads_sandbox", module)
    _Sandbox.started = _GrpcSandbox.started = 0
    return {"google": ("fake_ads_sandbox", "GrpcSandbox", "GoogleAdsSecret", "GOOGLE_ADS_ENDPOINT"),
            "meta": ("fake_ads_sandbox", "HttpSandbox", "MetaSecret", "META_GRAPH_URL")}


def test_sandboxes_start_and_the_variables_point_at_them(sandbox_module):
    environ: dict[str, str] = {}
    sandboxes = start_ad_sandboxes(environ, sandbox_module)
    assert environ == {"GOOGLE_ADS_ENDPOINT": "127.0.0.1:50123", GRPC_ROOTS: "/tmp/sandbox-cert.pem",
                       "META_GRAPH_URL": "127.0.0.1:50123"}
    assert set(sandboxes.started) == {"google", "meta"} and all("LOCAL SANDBOX" in n for n in sandboxes.notes)
    sandboxes.stop()
    assert not any(sandbox.running for sandbox in sandboxes.started.values())


def test_endpoints_from_the_environment_win_and_start_no_sandbox(sandbox_module):
    environ = {"GOOGLE_ADS_ENDPOINT": "recorder.internal:8443", GRPC_ROOTS: "/etc/recorder.pem",
               "META_GRAPH_URL": "http://127.0.0.1:9999"}
    sandboxes = start_ad_sandboxes(environ, sandbox_module)
    assert environ == {"GOOGLE_ADS_ENDPOINT": "recorder.internal:8443", GRPC_ROOTS: "/etc/recorder.pem",
                       "META_GRAPH_URL": "http://127.0.0.1:9999"}
    assert sandboxes.started == {} and _Sandbox.started == _GrpcSandbox.started == 0


def test_grpc_roots_from_the_environment_stay_trusted_next_to_the_sandbox_certificate(sandbox_module, tmp_path,
                                                                                       monkeypatch):
    # Given roots the environment chose, and the sandbox's certificate
    roots, certificate = tmp_path / "roots.pem", tmp_path / "sandbox.pem"
    roots.write_text("-----BEGIN CERTIFICATE-----\nROOTS\n-----END CERTIFICATE-----\n")
    certificate.write_text("-----BEGIN CERTIFICATE-----\nSANDBOX\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(_GrpcSandbox, "cert_path", str(certificate))
    environ = {GRPC_ROOTS: str(roots)}
    # When the Google sandbox starts
    start_ad_sandboxes(environ, sandbox_module)
    # Then gRPC trusts both: the variable names a bundle of the two
    bundle = environ[GRPC_ROOTS]
    assert bundle != str(roots) and environ["GOOGLE_ADS_ENDPOINT"] == "127.0.0.1:50123"
    assert Path(bundle).read_text() == roots.read_text() + certificate.read_text()
    assert roots.read_text().count("ROOTS") == 1  # the environment's own file is left as it was


def test_a_missing_sandbox_module_is_a_clear_note_not_a_crash():
    environ: dict[str, str] = {}
    sandboxes = start_ad_sandboxes(environ, {"google": ("attract_local.sandboxes.no_such_platform", "Sandbox",
                                                        "GoogleAdsSecret", "GOOGLE_ADS_ENDPOINT")})
    assert environ == {} and sandboxes.started == {}
    assert sandboxes.notes == ["no google sandbox (attract_local.sandboxes.no_such_platform is not installed): "
                               "campaigns cannot launch on google locally unless GOOGLE_ADS_ENDPOINT points at a "
                               "sandbox of your own"]


def test_two_google_sandboxes_share_one_certificate_and_one_secret(sandbox_module):
    # Given the Google Ads and the Data Manager sandboxes: one certificate per process, one Google secret
    class _DataManager(_GrpcSandbox):
        def config(self) -> dict:
            return {"developer_token": "other", "conversion_action": "555"}

    sys.modules["fake_ads_sandbox"].DataManager = _DataManager  # type: ignore[attr-defined]
    rows = {**sandbox_module, "google_datamanager": ("fake_ads_sandbox", "DataManager", "GoogleAdsSecret",
                                                     "GOOGLE_DATAMANAGER_ENDPOINT")}
    environ: dict[str, str] = {}
    sandboxes = start_ad_sandboxes(environ, rows)
    # Then gRPC trusts the certificate once, and both endpoints are set
    assert environ[GRPC_ROOTS] == "/tmp/sandbox-cert.pem" and environ["GOOGLE_DATAMANAGER_ENDPOINT"]

    # And the shared secret gets both sandboxes' fields, the first one's where both name one
    class _Aws:
        def __init__(self):
            self.refs = {"GoogleAdsSecret": "arn:google", "MetaSecret": "arn:meta"}
            self.written: dict[str, str] = {}

        def client(self, _service):
            return self

        def put_secret_value(self, SecretId, SecretString):
            self.written[SecretId] = SecretString

    aws = _Aws()
    sandboxes.fill_secrets(aws)
    import json
    assert json.loads(aws.written["arn:google"]) == {"developer_token": "sandbox", "conversion_action": "555"}
