"""`make build` and `make deploy`: the venv's SAM CLI with the Lambda runtime's Python found here, or a message
saying exactly what is missing.

`sam build` needs an interpreter of the template's runtime (Globals.Function.Runtime, python3.12) twice over: the
functions' PythonPipBuilder looks up `python3.12` on PATH (it ignores $PYTHON), and the layers' Makefiles compile
their pycs with it (a cpython-311 pyc is ignored by 3.12). So the interpreter found is put first on PATH.

Where it is looked for, in order: $PYTHON312 (an explicit choice: used or refused, never second-guessed),
`python3.12` on PATH, then pyenv's installs ($PYENV_ROOT or ~/.pyenv, versions/3.12.*), newest first. Each
candidate is run once to check its version and that it has pip (the layers install with `python3.12 -m pip`).

Usage: python -m attract_local.deploy build [--build-dir DIR]  |  python -m attract_local.deploy deploy
"""

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from attract_local.cfn import ROOT, TEMPLATE, load_template

SAMCONFIG = ROOT / "samconfig.toml"


class MissingPrerequisiteError(RuntimeError):
    """What `make build`/`make deploy` needs and does not find, said as what to do about it."""


@dataclass(frozen=True)
class Python:
    path: str
    version: str  # major.minor


def runtime_version(template: dict | None = None) -> str:
    """"3.12" for the template's `Runtime: python3.12`."""
    runtime = str((template or load_template())["Globals"]["Function"]["Runtime"])
    return runtime.removeprefix("python")


def _probe(candidate: str) -> tuple[str, bool, str] | None:
    """(major.minor, has pip, the real executable) of an interpreter, or None when it does not run (a pyenv shim of
    a version not selected fails). The real executable, not a shim: its folder goes first on PATH."""
    try:
        result = subprocess.run(
            [candidate, "-c", "import sys, importlib.util; print('%d.%d' % sys.version_info[:2], "
                              "importlib.util.find_spec('pip') is not None, sys.executable)"],
            capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    fields = result.stdout.split(maxsplit=2)
    if result.returncode != 0 or len(fields) != 3:
        return None
    version, pip, executable = fields
    return version, pip == "True", executable.strip()


def _pyenv_candidates(version: str, env: dict[str, str]) -> list[str]:
    root = Path(env.get("PYENV_ROOT") or Path(env.get("HOME") or Path.home()) / ".pyenv")

    def patch(path: Path) -> tuple[int, ...]:  # 3.12.10 after 3.12.9
        parts = path.parent.parent.name.split(".")
        return tuple(int(p) if p.isdigit() else -1 for p in parts)

    return [str(p) for p in sorted(root.glob(f"versions/{version}.*/bin/python{version}"), key=patch, reverse=True)]


def find_python(version: str, env: dict[str, str] | None = None) -> Python:
    """An interpreter of `version` with pip, or MissingPrerequisiteError naming what was tried and what to do."""
    env = dict(os.environ if env is None else env)
    explicit = env.get("PYTHON312", "").strip()
    if explicit:
        probed = _probe(explicit)
        if probed is None:
            raise MissingPrerequisiteError(f"PYTHON312={explicit} does not run. Point PYTHON312 at a Python {version} "
                                           f"interpreter, or unset it to let make find one.")
        if probed[0] != version:
            raise MissingPrerequisiteError(f"PYTHON312={explicit} is Python {probed[0]}, not {version} (the Lambda "
                                           f"runtime in template.yaml). Point it at python{version}.")
        if not probed[1]:
            raise MissingPrerequisiteError(f"PYTHON312={explicit} is Python {version} without pip, which the layers' "
                                           f"build runs: {explicit} -m ensurepip --upgrade")
        return Python(probed[2], version)
    tried: list[str] = []
    without_pip: list[str] = []
    on_path = shutil.which(f"python{version}", path=env.get("PATH"))
    for candidate in [*([on_path] if on_path else []), *_pyenv_candidates(version, env)]:
        probed = _probe(candidate)
        tried.append(candidate)
        if probed and probed[0] == version:
            if probed[1]:
                return Python(probed[2], version)
            without_pip.append(candidate)
    if without_pip:
        raise MissingPrerequisiteError(
            f"Python {version} was found without pip ({', '.join(without_pip)}); the layers' build installs with "
            f"`python{version} -m pip`: run {without_pip[0]} -m ensurepip --upgrade")
    looked = ", ".join(tried) if tried else "nothing found"
    raise MissingPrerequisiteError(
        f"make build needs Python {version}, the Lambda runtime in template.yaml (Globals.Function.Runtime: "
        f"python{version}): SAM's PythonPipBuilder looks for `python{version}` on PATH and the layers compile their "
        f"pycs with it. Looked for python{version} on PATH and in pyenv (~/.pyenv/versions/{version}.*): {looked}. "
        f"Install it (`pyenv install {version}`, `apt-get install python{version}`, `brew install python@{version}`) "
        f"or name it: make build PYTHON312=/path/to/python{version}")


def sam_executable() -> str:
    sam = Path(sys.executable).with_name("sam")
    if not sam.exists():
        raise MissingPrerequisiteError(f"the AWS SAM CLI is not in this venv ({sam}); it is pinned in "
                                       "requirements-dev.txt: rm .venv/.installed && make venv")
    return str(sam)


def build_environment(python: Python, env: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment of `sam build`: the interpreter's folder first on PATH, its version for the layers."""
    env = dict(os.environ if env is None else env)
    folder = str(Path(python.path).parent)
    env["PATH"] = os.pathsep.join([folder, env.get("PATH", "")])
    # The layers' Makefiles (BuildMethod: makefile) take PYTHON; python3.12 on PATH would do, an exact path is surer.
    env["PYTHON"] = python.path
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    return env


def build(build_dir: str | None = None) -> int:
    version = runtime_version()
    python = find_python(version)
    if shutil.which("make") is None:  # BuildMethod: makefile
        raise MissingPrerequisiteError("the layers build with `make` (BuildMethod: makefile): install make")
    print(f"sam build with Python {version} ({python.path}): the functions, then the layers (arm64 wheels from pip: "
          "about 30 s once pip's cache holds them, longer the first time)", flush=True)
    command = [sam_executable(), "build", "--template-file", str(TEMPLATE)]
    if build_dir:
        command += ["--build-dir", build_dir]
    return subprocess.run(command, cwd=ROOT, env=build_environment(python), check=False).returncode


def deploy_command(sam: str, samconfig: Path = SAMCONFIG) -> list[str]:
    """`sam deploy --guided` the first time (it asks the stack's name, region, parameters and writes samconfig.toml),
    then `sam deploy` with what was saved."""
    return [sam, "deploy"] if samconfig.exists() else [sam, "deploy", "--guided"]


def deploy() -> int:
    command = deploy_command(sam_executable())
    if "--guided" in command:
        print("No samconfig.toml yet: a guided deploy asks the stack name, region and parameters, and saves them "
              "(answer Y to 'Save arguments to configuration file').", flush=True)
    env = {**os.environ, "SAM_CLI_TELEMETRY": os.environ.get("SAM_CLI_TELEMETRY", "0")}
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attract_local.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "deploy", "find-python"])
    parser.add_argument("--build-dir", default=None, help="sam build --build-dir (default .aws-sam/build)")
    args = parser.parse_args(argv)
    try:
        if args.action == "find-python":
            print(find_python(runtime_version()).path)
            return 0
        return build(args.build_dir) if args.action == "build" else deploy()
    except MissingPrerequisiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
