"""Local Lambda runtime: a pool of worker processes per function, like concurrent execution environments."""

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TextIO

from attract_local.stack import FunctionSpec

WORKER = Path(__file__).with_name("worker.py")


class InvocationError(Exception):
    """The function raised, timed out or died: API Gateway would answer 500."""


class _Worker:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], log: TextIO | None):
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), spec.handler],
            cwd=spec.code_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
        )
        ready = self.process.stdout.readline()
        if not ready:
            raise InvocationError(f"{spec.logical_id} failed to start (init error, see log above)")

    def invoke(self, event: dict, timeout_s: float) -> dict:
        request = {"event": event, "request_id": str(uuid.uuid4()), "deadline_ms": int((time.time() + timeout_s) * 1000)}
        self.process.stdin.write(json.dumps(request) + "\n")
        line = self.process.stdout.readline()
        if not line:
            raise InvocationError("the function's process exited")
        reply = json.loads(line)
        if not reply["ok"]:
            raise InvocationError(f"{reply['error']['errorType']}: {reply['error']['errorMessage']}")
        return reply["result"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class FunctionPool:
    """Idle workers are reused (warm starts); a busy pool grows up to `max_concurrency` (cold starts)."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_concurrency: int = 4, timeout_s: float = 30,
                 log: TextIO | None = None):
        self.spec, self.env, self.timeout_s, self.log = spec, env, timeout_s, log
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_concurrency)

    def invoke(self, event: dict) -> dict:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = _Worker(self.spec, self.env, self.log)
                with self._lock:
                    self._all.append(worker)
            try:
                result = worker.invoke(event, self.timeout_s)
            except InvocationError:
                worker.stop()
                with self._lock:
                    self._all.remove(worker)
                raise
            with self._lock:
                self._idle.append(worker)
            return result

    def stop(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.stop()
            self._all.clear()
            self._idle.clear()
