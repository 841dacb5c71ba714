"""One local Lambda execution environment: imports a handler once, then serves invocations over a pipe.

Run as a script by attract_local.runtime, with the function's environment and PYTHONPATH. The protocol
is one JSON line in, one JSON line out; everything the function prints goes to stderr (the "logs").
"""

import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid

sys.path.pop(0)  # this folder must not shadow the function's own modules
PAYLOAD_LIMIT = 6_291_556  # bytes: Lambda fails a synchronous response larger than this


class LocalContext:
    """The attributes of a Lambda context object that code reads."""

    def __init__(self, request_id: str, deadline_ms: int):
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message, "stackTrace": trace or []}}


def main() -> None:
    # Ctrl-C reaches the whole process group: the runtime stops its workers itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints and EMF metrics land in the log stream, not in the protocol
    sys.stdout = sys.stderr
    module_name, function_name = sys.argv[1].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(request.get("request_id") or str(uuid.uuid4()), request["deadline_ms"])
        try:
            reply = {"ok": True, "result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - a Lambda runtime reports any unhandled error and stays warm; so do we
            traceback.print_exc()
            reply = _error(type(error).__name__, str(error), traceback.format_exc().splitlines())
        try:
            out = json.dumps(reply)
        except (TypeError, ValueError) as error:
            out = json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {type(error).__name__}"))
        if len(out.encode()) > PAYLOAD_LIMIT:
            print(f"[ERROR] Response payload size exceeded maximum allowed payload size ({PAYLOAD_LIMIT} bytes).",
                  file=sys.stderr, flush=True)
            out = json.dumps(_error("Function.ResponseSizeTooLarge", "Response payload size exceeded"))
        protocol.write(out + "\n")


if __name__ == "__main__":
    main()
