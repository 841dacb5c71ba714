"""The layer as Lambda sees it: built by the same Makefile recipe `sam build` runs, imported from /opt/python alone."""

import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attract_local.cfn import ROOT, load_template

HOST_PLATFORM = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}.get(platform.machine())
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, not checked against the source


def build_layer(target: Path, python: str, version: str, platform_tag: str | None = HOST_PLATFORM) -> None:
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/common"), "build-CommonLayer", f"ARTIFACTS_DIR={target}",
         f"PLATFORM={platform_tag}", f"PYTHON_VERSION={version}", f"PYTHON={python}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr


def pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def assert_ships_unchecked_pycs(layer: Path, cache_tag: str) -> None:
    sources = list((layer / "attract").rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        assert pyc.exists(), f"no {pyc.name} for {source.relative_to(layer)}"
        assert pyc_flags(pyc) == UNCHECKED_HASH, f"{pyc.name} is not an unchecked-hash pyc"
    # the dependencies too, and nothing compiled for another interpreter
    assert list((layer / "pydantic/__pycache__").glob(f"main.{cache_tag}.pyc"))
    assert list((layer / "aws_lambda_powertools/__pycache__").glob(f"__init__.{cache_tag}.pyc"))
    assert [p.name for p in layer.rglob("*.pyc") if f".{cache_tag}." not in p.name] == []


def python_for(version: str) -> str | None:
    """An interpreter of `version`: on PATH, or one pyenv installed (pyenv's shim fails for a version not selected)."""
    candidates = [shutil.which(f"python{version}") or "", *map(str, Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.skipif(HOST_PLATFORM is None, reason=f"no manylinux wheels for {platform.machine()}")
def test_built_layer_imports_from_its_own_python_folder(tmp_path):
    # Given the layer built for this interpreter by the recipe sam build uses (arm64/3.12 when deployed)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build_layer(tmp_path, sys.executable, version)
    assert (tmp_path / "python/attract/__init__.py").exists()
    assert (tmp_path / "python/attract/tracking/snippet.js").exists()  # package data travels too
    assert not (tmp_path / "python/python").exists()
    # When a bare interpreter (no site-packages: -S -I) gets the layer first and only boto3's home after it,
    # as Lambda puts /opt/python before the runtime's packages
    boto_home = subprocess.run([sys.executable, "-c", "import boto3, pathlib; print(pathlib.Path(boto3.__file__).parent.parent)"],
                               capture_output=True, text=True, check=True).stdout.strip()
    probe = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path / 'python')!r}]
        sys.path.append({boto_home!r})
        import attract, attract.links.logic, attract.tracking.logic, attract.api, attract.identity, pydantic, email_validator
        import aws_lambda_powertools, aws_lambda_powertools.tracing
        from attract.relevance.skills import resolve_skill  # the vendored ESCO data travels as package data
        assert resolve_skill("k8s").label == "Kubernetes" and resolve_skill("postgres").label == "PostgreSQL"
        layer = {str(tmp_path / 'python')!r}
        for module in (attract, pydantic, email_validator, aws_lambda_powertools):
            assert module.__file__.startswith(layer), module.__file__
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    # Then everything the functions import comes from the layer
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    # And it ships compiled: /opt is read-only, so a layer without pycs compiles on every cold start
    assert_ships_unchecked_pycs(tmp_path / "python", sys.implementation.cache_tag)


@pytest.mark.slow
def test_layer_for_the_deployed_runtime_ships_pycs_of_that_version(tmp_path):
    # Given the template's runtime (python3.12, arm64) and an interpreter of that version on this machine
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    version = runtime.removeprefix("python")
    python = python_for(version)
    if python is None:
        pytest.skip(f"no python{version} interpreter here to compile the layer's pycs")
    # When the layer is built as sam build builds it
    build_layer(tmp_path, python, version, "manylinux2014_aarch64")
    # Then every module has an unchecked-hash pyc tagged for that runtime, and none for another
    assert_ships_unchecked_pycs(tmp_path / "python", f"cpython-{version.replace('.', '')}")


def test_layer_build_refuses_an_interpreter_of_another_version(tmp_path):
    # A pyc of the wrong version is silently ignored at import: the build must fail instead
    other = "3.99"
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/common"), "build-CommonLayer", f"ARTIFACTS_DIR={tmp_path}",
         f"PYTHON_VERSION={other}", f"PYTHON={sys.executable}"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert build.returncode != 0
    assert f"the layer targets {other}" in build.stderr
    assert not (tmp_path / "python").exists()


# ---- the sources layer (SQL drivers of invitation sources): the planner's and the invite API's only

SOURCES_PLATFORM = {"x86_64": "manylinux_2_28_x86_64 manylinux2014_x86_64",
                    "aarch64": "manylinux_2_28_aarch64 manylinux2014_aarch64"}.get(platform.machine())


def build_sources_layer(target: Path, python: str, version: str, platform_tag: str | None) -> None:
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/sources"), "build-SourcesLayer", f"ARTIFACTS_DIR={target}",
         f"PLATFORM={platform_tag}", f"PYTHON_VERSION={version}", f"PYTHON={python}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr


@pytest.mark.skipif(SOURCES_PLATFORM is None, reason=f"no manylinux wheels for {platform.machine()}")
def test_sources_layer_imports_the_drivers_from_its_own_python_folder(tmp_path):
    # Given the sources layer built for this interpreter by the recipe sam build uses
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build_sources_layer(tmp_path, sys.executable, version, SOURCES_PLATFORM)
    assert not (tmp_path / "python/python").exists()
    # When a bare interpreter gets the layer, and typing_extensions (the common layer's) after it
    import typing_extensions

    probe = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path / 'python')!r}]
        sys.path.append({str(Path(typing_extensions.__file__).parent)!r})
        import sqlalchemy, psycopg, pymysql
        from sqlalchemy.dialects import postgresql, mysql
        layer = {str(tmp_path / 'python')!r}
        for module in (sqlalchemy, psycopg, pymysql):
            assert module.__file__.startswith(layer), module.__file__
        print(psycopg.pq.__impl__)
    """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60,
                            check=False)
    # Then the drivers come from the layer, psycopg with its bundled libpq (no system libpq on Lambda)
    assert result.returncode == 0 and result.stdout.strip() == "binary", result.stderr
    assert [p.name for p in (tmp_path / "python").rglob("*.pyc") if f".{sys.implementation.cache_tag}." not in p.name] == []


@pytest.mark.slow
def test_sources_layer_for_the_deployed_runtime_has_arm64_wheels_and_its_pycs(tmp_path):
    runtime = load_template()["Globals"]["Function"]["Runtime"]
    version = runtime.removeprefix("python")
    python = python_for(version)
    if python is None:
        pytest.skip(f"no python{version} interpreter here to compile the layer's pycs")
    build_sources_layer(tmp_path, python, version, "manylinux_2_28_aarch64 manylinux2014_aarch64")
    layer = tmp_path / "python"
    tag = f"cpython-{version.replace('.', '')}"
    extensions = [p.name for p in layer.rglob("*.so")]
    assert any(name.startswith("_psycopg.") for name in extensions)
    assert extensions and all(f"{tag}-aarch64-linux-gnu" in name for name in extensions if name.endswith(".so")
                              and "cpython" in name)
    assert list((layer / "sqlalchemy/__pycache__").glob(f"__init__.{tag}.pyc"))
    assert [p.name for p in layer.rglob("*.pyc") if f".{tag}." not in p.name] == []
