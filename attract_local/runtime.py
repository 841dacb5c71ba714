"""Local Lambda runtime: a pool of worker processes per function, like concurrent execution environments.

What Lambda does and the pool copies: a handler's unhandled exception is a function error and the
environment stays warm; a timeout (the template's `Timeout`), a memory overrun (`MemorySize`) or a dead
process replace the environment. Payloads over Lambda's 6 MB synchronous limit fail.
"""

import json
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TextIO

from attract_local.stack import FunctionSpec

WORKER = Path(__file__).with_name("worker.py")
PAYLOAD_LIMIT = 6_291_556  # bytes, Lambda's synchronous request and response payload limit
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit; it is then retried inside the invoke's own timeout


class InvocationError(Exception):
    """The invocation failed; API Gateway answers 500 (503 when its own integration timeout struck first).

    `kind` is what Lambda would report (an errorType or Runtime.* / Sandbox.* code). The message never
    carries the function's error message, which may quote the caller's input.
    """

    def __init__(self, kind: str, replaced: bool):
        super().__init__(kind)
        self.kind = kind
        self.replaced = replaced  # the execution environment was torn down


class PayloadTooLargeError(InvocationError):
    """The event is over Lambda's request payload limit: Lambda refuses the invoke."""


class _Worker:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], log: TextIO | None):
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), spec.handler],
            cwd=spec.code_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            bufsize=1,
        )
        # One reader thread per worker turns "wait for the reply" into a queue get with a timeout.
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ready = self._lines.get(timeout=INIT_TIMEOUT_S + spec.timeout_s)
        except queue.Empty:
            self.kill()
            raise InvocationError("Sandbox.Timedout (init)", replaced=True) from None
        if not ready:
            self.kill()
            raise InvocationError("Runtime.ExitError (init, see the function log)", replaced=True)

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self._lines.put(line)
        self._lines.put(None)

    def invoke(self, request: str, timeout_s: float) -> dict:
        try:
            self.process.stdin.write(request)  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            raise InvocationError("Runtime.ExitError", replaced=True) from None
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise InvocationError("Sandbox.Timedout", replaced=True) from None
        if not line:
            raise InvocationError("Runtime.ExitError", replaced=True)
        reply = json.loads(line)
        if not reply["ok"]:
            raise InvocationError(reply["error"]["errorType"], replaced=False)
        return reply["result"]

    def peak_rss_mb(self) -> float:
        """The process's high-water mark (Linux VmHWM): Lambda stops an environment the moment it passes
        MemorySize, so the peak counts, not what is left after the handler freed it."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else 0.0

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self, grace_s: float = 2) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()  # type: ignore[union-attr]
                self.process.wait(timeout=grace_s)
            except (subprocess.TimeoutExpired, OSError):
                self.kill()


class FunctionPool:
    """Idle workers are reused (warm starts); a busy pool grows up to `max_concurrency` (cold starts)."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_concurrency: int = 4,
                 timeout_s: float | None = None, log: TextIO | None = None):
        self.spec, self.env, self.log = spec, env, log
        self.timeout_s = spec.timeout_s if timeout_s is None else timeout_s
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_concurrency)
        self._stopped = False

    def invoke(self, event: dict, timeout_s: float | None = None) -> dict:
        """Run the handler on `event`; `timeout_s` (the gateway's integration timeout) may cut it shorter."""
        timeout = self.timeout_s if timeout_s is None else min(timeout_s, self.timeout_s)
        request_id = str(uuid.uuid4())
        request = json.dumps({"event": event, "request_id": request_id,
                              "deadline_ms": int((time.time() + self.timeout_s) * 1000)}) + "\n"
        if len(request.encode()) > PAYLOAD_LIMIT:
            raise PayloadTooLargeError("RequestEntityTooLargeException", replaced=False)
        with self._slots:
            with self._lock:
                if self._stopped:
                    raise InvocationError("Runtime.Stopped", replaced=False)
                worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = _Worker(self.spec, self.env, self.log)
                with self._lock:
                    self._all.append(worker)
            try:
                result = worker.invoke(request, timeout)
                if worker.peak_rss_mb() > self.spec.memory_mb:
                    raise InvocationError("Runtime.OutOfMemory", replaced=True)
            except InvocationError as error:
                self._release(worker, keep=not error.replaced)
                raise
            self._release(worker, keep=True)
            return result

    def _release(self, worker: _Worker, keep: bool) -> None:
        if not keep:
            worker.kill()
        with self._lock:
            if keep and not self._stopped:
                self._idle.append(worker)
            elif worker in self._all:
                self._all.remove(worker)
        if keep and self._stopped:
            worker.stop()

    def stop(self) -> None:
        stop_workers([self])


def stop_workers(pools: list[FunctionPool], grace_s: float = 1.0) -> None:
    """Stop every worker of every pool at once: EOF to all, one shared grace period, then kill.

    Stopping them one by one, each with its own wait, made a busy stack take 40 s to stop.
    """
    workers: list[_Worker] = []
    for pool in pools:
        with pool._lock:
            pool._stopped = True
            workers += pool._all
            pool._all, pool._idle = [], []
    for worker in workers:
        try:
            worker.process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
