"""The layer as Lambda sees it: built by the same Makefile recipe `sam build` runs, imported from /opt/python alone."""

import platform
import subprocess
import sys
import textwrap

import pytest

from attract_local.cfn import ROOT

HOST_PLATFORM = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}.get(platform.machine())


@pytest.mark.slow
@pytest.mark.skipif(HOST_PLATFORM is None, reason=f"no manylinux wheels for {platform.machine()}")
def test_built_layer_imports_from_its_own_python_folder(tmp_path):
    # Given the layer built for this interpreter by the recipe sam build uses (arm64/3.12 when deployed)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/common"), "build-CommonLayer", f"ARTIFACTS_DIR={tmp_path}",
         f"PLATFORM={HOST_PLATFORM}", f"PYTHON_VERSION={version}", f"PIP={sys.executable} -m pip"],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
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
        layer = {str(tmp_path / 'python')!r}
        for module in (attract, pydantic, email_validator, aws_lambda_powertools):
            assert module.__file__.startswith(layer), module.__file__
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60)
    # Then everything the functions import comes from the layer
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
