"""The ads layer's built size, and cold imports: the campaigns function next to a bare GoogleAdsClient, the public
functions next to a bare boto3 + Powertools.

- Size: the layer built by its own Makefile (`sam build`'s recipe) for the deployed target (arm64, Python 3.12,
  when a python3.12 is here; else this machine), unzipped, in MB and files; and what dropping the unused
  google-ads API versions saved.
- Cold imports: fresh interpreters laid out like Lambda (bench/cold_import.py: `-I -S -B`, function code,
  the layers, a folder with only what the runtime ships), medians of interleaved runs. Printed, never asserted.
"""

import argparse
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cold_import

ROOT = cold_import.ROOT
ADS_MAKEFILE_DIR = ROOT / "layers/ads"
PUBLIC = {"tracking": "TrackingFunction", "joins": "JoinsFunction", "invites/unsubscribe": "InviteUnsubscribeFunction",
          "web": "WebFunction"}


def google_ads_api_version() -> str:
    """The version the adapter uses (attract.providers.google_ads.API_VERSION), else the Makefile's default."""
    try:
        from attract.providers.google_ads import API_VERSION  # type: ignore[import-not-found,unused-ignore]

        return str(API_VERSION)
    except ImportError:
        return "v26"


BARE_GOOGLE_ADS = """
from google.oauth2.credentials import Credentials
from google.ads.googleads.client import GoogleAdsClient
client = GoogleAdsClient(Credentials(token="bench"), developer_token="bench", use_proto_plus=True, version={version!r})
client.get_service("GoogleAdsService")
"""
CAMPAIGNS_DRAFTS = "import app\n"  # create/read drafts: the SDKs are not loaded
# The first launch: the function, both adapters (their SDKs) and the Google client's first service stub.
CAMPAIGNS_LAUNCH = CAMPAIGNS_DRAFTS + """
import importlib
for name in ("attract.providers.google_ads", "attract.providers.meta"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        import facebook_business.api, facebook_business.adobjects.campaign  # the adapter is not merged yet
""" + BARE_GOOGLE_ADS


def build_ads_layer(target: Path, python: str, version: str, platform_tag: str) -> Path:
    subprocess.run(["make", "-s", "-C", str(ADS_MAKEFILE_DIR), "build-AdsLayer", f"ARTIFACTS_DIR={target}",
                    f"PLATFORM={platform_tag}", f"PYTHON_VERSION={version}", f"PYTHON={python}",
                    f"GOOGLE_ADS_API_VERSION={google_ads_api_version()}"], check=True, capture_output=True)
    return target / "python"


def size_of(folder: Path) -> tuple[float, int]:
    files = [path for path in folder.rglob("*") if path.is_file() and not path.is_symlink()]
    return sum(path.stat().st_size for path in files) / 1e6, len(files)


def python_312() -> str | None:
    candidates = [shutil.which("python3.12") or "", *map(str, Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                               capture_output=True, text=True, check=False)
        if probe.stdout.strip() == "True":
            return candidate
    return None


def dropped_versions(kept: str) -> str:
    import google.ads.googleads as package

    home = Path(package.__file__).parent
    dropped = sorted(p.name for p in home.iterdir() if p.is_dir() and p.name.startswith("v") and p.name != kept)
    sources = sum(size_of(home / name)[0] for name in dropped)
    return f"{', '.join(dropped)} ({sources:.0f} MB as installed here)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="cold starts per variant, interleaved")
    parser.add_argument("--layer", type=Path, help="reuse an ads layer built for this machine (its python/ folder)")
    args = parser.parse_args()
    version = google_ads_api_version()

    with tempfile.TemporaryDirectory(prefix="attract-ads-") as tmp:
        work = Path(tmp)
        deployed_python = python_312()
        if deployed_python:
            deployed = build_ads_layer(work / "deployed", deployed_python, "3.12", "manylinux2014_aarch64")
            target = "arm64, Python 3.12 (as deployed)"
        else:
            deployed, target = None, ""
        host = f"{sys.version_info.major}.{sys.version_info.minor}"
        ads = args.layer or build_ads_layer(work / "ads", sys.executable, host,
                                            cold_import.HOST_PLATFORM[platform.machine()])
        if deployed is None:
            deployed, target = ads, f"this machine, Python {host} (no python3.12 here)"
        megabytes, files = size_of(deployed)
        print(f"AdsLayer built by layers/ads/Makefile for {target}: {megabytes:.0f} MB unzipped, {files} files "
              f"(Lambda's limit: 250 MB for the function and all its layers)")
        print(f"  google-ads API {version} kept; dropped {dropped_versions(version)}")
        common = cold_import.build_layer(work / "common")
        common_mb, common_files = size_of(common)
        print(f"  with CommonLayer ({common_mb:.0f} MB, {common_files} files): "
              f"{megabytes + common_mb:.0f} MB for the campaigns function's layers")

        runtime = cold_import.runtime_folder(work / "runtime")
        campaigns = cold_import.function_copy("campaigns/api", work / "campaigns")
        campaigns_env = cold_import.lambda_environment(campaigns, "CampaignsApiFunction")
        bare_env = cold_import.lambda_environment(work, None)
        variants: dict[str, tuple[str, list[Path], dict[str, str], Path]] = {
            "boto3 + Powertools": (cold_import.BASELINE, [common, runtime], bare_env, work),
            "GoogleAdsClient + get_service": (BARE_GOOGLE_ADS.format(version=version), [common, ads, runtime],
                                              bare_env, work),
            "campaigns: import app": (CAMPAIGNS_DRAFTS, [campaigns, common, ads, runtime], campaigns_env, campaigns),
            "campaigns: first launch": (CAMPAIGNS_LAUNCH.format(version=version),
                                        [campaigns, common, ads, runtime], campaigns_env, campaigns),
        }
        for area, logical_id in PUBLIC.items():
            code = cold_import.function_copy(area, work / area.replace("/", "-"))
            variants[area] = (cold_import.FUNCTION, [code, common, runtime],
                              cold_import.lambda_environment(code, logical_id), code)

        for variant in variants.values():  # warm the page cache
            cold_import.run(*variant)
        times: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for _ in range(args.runs):
            random.shuffle(order)
            for name in order:
                times[name].append(float(cold_import.run(*variants[name]).stdout))
        median = {name: statistics.median(values) * 1000 for name, values in times.items()}

        print(f"\nCold import, median of {args.runs} fresh interpreters each (Python {host}, layers built by their "
              "Makefiles)")
        google = median["GoogleAdsClient + get_service"]
        print(f"  {'bare GoogleAdsClient + first get_service':<44} {google:6.0f} ms  1.00 x")
        for name in ("campaigns: import app", "campaigns: first launch"):
            print(f"  {name:<44} {median[name]:6.0f} ms  {median[name] / google:.2f} x")
        baseline = median["boto3 + Powertools"]
        print(f"  {'bare boto3 + Powertools':<44} {baseline:6.0f} ms  1.00 x")
        for area in PUBLIC:
            print(f"  {'public: ' + area:<44} {median[area]:6.0f} ms  {median[area] / baseline:.2f} x")


if __name__ == "__main__":
    main()
