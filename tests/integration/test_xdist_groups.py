"""`make test` runs on two workers with `--dist loadgroup`: an `xdist_group`'s tests must share one worker (the
`heavy` group: `make demo`, the browsers, the load test use `.local/` and most of the CPU). pytest-xdist 3.8 under
pytest 9 ignored every group (tests/conftest.py says why); this runs a tiny suite as `make test` does and asks
each test which worker ran it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
MODULE = '''
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("heavy")


@pytest.mark.parametrize("n", range(6))
def test_one(n):
    with Path(os.environ["WORKERS_FILE"]).open("a") as out:
        out.write(os.environ.get("PYTEST_XDIST_WORKER", "none") + "\\n")
'''


def test_a_groups_tests_run_on_one_worker_when_the_others_have_work_too(tmp_path):
    # Given the project's conftest and two modules of the same group, among ungrouped tests
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    for name in ("test_heavy_a.py", "test_heavy_b.py"):
        (tmp_path / name).write_text(MODULE)
    (tmp_path / "test_light.py").write_text("import pytest\n\n@pytest.mark.parametrize('n', range(20))\n"
                                            "def test_light(n):\n    pass\n")
    workers = tmp_path / "workers.txt"
    # When they run as `make test` runs the suite
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "WORKERS_FILE": str(workers)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # Then all twelve grouped tests ran, on one worker
    ran = workers.read_text().split()
    assert len(ran) == 12 and len(set(ran)) == 1 and ran[0].startswith("gw"), ran
