"""`make local` stops on SIGTERM and Ctrl-C: gateway, function workers and the AWS emulator all go."""

import signal
import socket
import subprocess
import sys

import psutil
import pytest
import requests

from attract_local.cfn import ROOT
from attract_local.stack import reserved_port

pytestmark = pytest.mark.local_only("stops `make local` with signals")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_local_stack_stops_on_signal(signum):
    with reserved_port() as port, reserved_port() as aws_port:  # held until the child has bound both
        process = subprocess.Popen([sys.executable, "-m", "attract_local.serve", "--port", str(port),
                                    "--aws-port", str(aws_port)], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        started = process.stdout.readline()
    try:
        assert started.startswith("Attract API:")
        idle = requests.Session()
        assert idle.get(f"http://127.0.0.1:{port}/t.js").status_code == 200  # a worker, and a kept-alive client
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers
        process.send_signal(signum)
        assert process.wait(timeout=20) == 0  # it used to ignore SIGTERM for 40+ s
        assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        for open_port in (port, aws_port):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", open_port), timeout=1).close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
