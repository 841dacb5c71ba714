"""Deploying as the README says: its deploy commands are Makefile targets, and `make build` succeeds with no warning.

`make build` runs the venv's SAM CLI with Python 3.12 found by attract_local.deploy (the Lambda runtime's version:
SAM's PythonPipBuilder wants `python3.12` on PATH, the layers compile their pycs with it). Slow (the layers'
wheels are downloaded by pip), so marked `slow`; it runs in `make test`. Without Python 3.12 it skips on a laptop
and fails in CI (ATTRACT_REQUIRE_SERVICES=1), where this machine has it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from attract_local import deploy
from attract_local.cfn import ROOT, load_template

README = ROOT / "README.md"
# What sam build prints when something is off but it carries on: "WARNING: ...", "requirements.txt file not found.
# Continuing the build without dependencies.", deprecations.
WARNING = re.compile(r"warn|not found|deprecat|continuing the build without", re.IGNORECASE)


def _deploy_section() -> str:
    text = README.read_text()
    return text.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[str]:
    """The commands of the section's first shell block, comments dropped."""
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def _require_runtime_python() -> deploy.Python:
    version = deploy.runtime_version()
    try:
        return deploy.find_python(version)
    except deploy.MissingPrerequisiteError as missing:
        if os.environ.get("ATTRACT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{missing} (and ATTRACT_REQUIRE_SERVICES=1)")
        pytest.skip(f"no Python {version} here for `make build`: {missing}")


def test_the_readme_deploys_with_the_makefile_targets_this_file_runs():
    section = _deploy_section()
    commands = _commands(section)
    assert commands[:2] == ["make build", "make deploy"], commands
    makefile = (ROOT / "Makefile").read_text()
    for command in commands:
        target = command.split()[1]
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"README runs `{command}`: no such Makefile target"
    # Only make targets, which run the venv's SAM CLI, never a bare `sam` the reader may not have; layers are not
    # counted (they come and go)
    assert all(command.startswith("make ") for command in commands), commands
    assert ".venv/bin/sam" in section
    assert not re.search(r"\b(both|two|three|four) layers\b", README.read_text())


@pytest.mark.slow
def test_make_build_succeeds_with_no_warning(tmp_path):
    # Given Python 3.12 on this machine (found by the build itself, as a reader's `make build` would find it)
    python = _require_runtime_python()
    # When the README's `make build` runs, into a folder of this test's own
    env = {k: v for k, v in os.environ.items() if k != "PYTHON312"}
    result = subprocess.run(["make", "--no-print-directory", "build", f"BUILD_DIR={tmp_path}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1500, check=False)
    output = result.stdout + result.stderr
    # Then it succeeds, with the interpreter it named, and says nothing that is a warning
    assert result.returncode == 0, output[-4000:]
    assert "Build Succeeded" in output and python.path in output
    assert [line for line in output.splitlines() if WARNING.search(line)] == []
    # And every function and layer of the template was built: code in place, layers under python/ with 3.12 pycs
    built = load_template(tmp_path / "template.yaml")
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = tmp_path / built["Resources"][name]["Properties"]["CodeUri"]
            assert (code / "app.py").exists(), name
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            layer = tmp_path / built["Resources"][name]["Properties"]["ContentUri"] / "python"
            assert layer.is_dir() and not (layer / "python").exists(), name
            tag = f"cpython-{python.version.replace('.', '')}"
            pycs = list(layer.rglob("*.pyc"))
            assert pycs and all(f".{tag}." in p.name for p in pycs), name


def _run_deploy_module(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attract_local.deploy", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """A machine without any Python 3.12: only the system's folders on PATH, a HOME without pyenv."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), str(ROOT / "layers/common/python")])}


def test_without_python_3_12_the_build_says_what_is_missing_and_how_to_get_it(tmp_path):
    if any(Path(folder, "python3.12").exists() for folder in ("/usr/bin", "/bin")):
        pytest.skip("this machine's system folders hold a python3.12: nothing is missing")
    result = _run_deploy_module(["build", "--build-dir", str(tmp_path / "build")], _bare_environment(tmp_path))
    assert result.returncode == 2
    message = result.stderr
    assert "needs Python 3.12" in message and "Globals.Function.Runtime: python3.12" in message
    assert "pyenv install 3.12" in message and "make build PYTHON312=/path/to/python3.12" in message
    assert not (tmp_path / "build").exists()  # nothing was started


def test_a_python312_of_another_version_is_refused_by_name(tmp_path):
    env = {**_bare_environment(tmp_path), "PYTHON312": sys.executable}
    result = _run_deploy_module(["find-python"], env)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version == "3.12":
        pytest.skip("this interpreter is 3.12")
    assert result.returncode == 2
    assert f"PYTHON312={sys.executable} is Python {version}, not 3.12" in result.stderr


def test_pyenv_installs_are_found_newest_first_and_their_real_interpreter_is_used(tmp_path):
    # Given two pyenv installs of 3.12 (stand-ins: scripts reporting 3.12 as a real interpreter would) and none on PATH
    for patch in ("3.12.1", "3.12.10", "3.11.9"):
        folder = tmp_path / ".pyenv/versions" / patch / "bin"
        folder.mkdir(parents=True)
        minor = ".".join(patch.split(".")[:2])
        script = folder / f"python{minor}"
        script.write_text(f"#!/bin/sh\necho {minor} True {script}\n")
        script.chmod(0o755)
    env = _bare_environment(tmp_path)
    # When the build looks for the runtime's Python
    found = deploy.find_python("3.12", env)
    # Then 3.12.10 wins over 3.12.1 (numbers, not text), and the interpreter's own path is what goes on PATH
    assert found == deploy.Python(str(tmp_path / ".pyenv/versions/3.12.10/bin/python3.12"), "3.12")
    build_env = deploy.build_environment(found, env)
    assert build_env["PATH"].split(os.pathsep)[0] == str(tmp_path / ".pyenv/versions/3.12.10/bin")
    assert build_env["PYTHON"] == found.path
    assert json.dumps(build_env)  # plain strings only


def test_deploy_is_guided_until_samconfig_toml_holds_the_answers(tmp_path):
    samconfig = tmp_path / "samconfig.toml"
    assert deploy.deploy_command("sam", samconfig) == ["sam", "deploy", "--guided"]
    samconfig.write_text('version = 0.1\n[default.deploy.parameters]\nstack_name = "attract"\n')
    assert deploy.deploy_command("sam", samconfig) == ["sam", "deploy"]
    # and the SAM CLI is the venv's own
    assert deploy.sam_executable() == str(Path(sys.executable).with_name("sam"))
