"""`make local`: serve the API on http://127.0.0.1:3000 until Ctrl-C."""

import argparse
import signal
import threading

from attract_local.gateway import start_local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000, help="port of the moto server (the AWS endpoint)")
    args = parser.parse_args()
    aws, gateway = start_local(args.port, args.aws_port)
    print(f"Attract API:   {gateway.url}")
    print(f"AWS emulator:  {aws.endpoint}  (AWS_ENDPOINT_URL for the aws CLI / boto3)")
    for route in gateway.routes:
        print(f"  {route.key:<24} -> {route.function}{'' if route.authorizer else '  (public)'}")
    print("Tokens: make token ROLE=marketer | ROLE=recruiter.  Ctrl-C stops.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
        aws.stop()


if __name__ == "__main__":
    main()
