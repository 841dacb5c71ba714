"""`make smoke STACK=<name>`: the e2e suite (tests/e2e) against a deployed stack, opt-in.

What it does, in order:
1. No AWS credentials (boto3 finds none): says so and exits 0, nothing run. The local run stays the default.
2. Reads the CloudFormation stack's outputs: ApiUrl, UserPoolId and SmokeTestClientId. The smoke client signs
   users in only when the stack was deployed with `EnableSmokeTests=true` (template.yaml): otherwise it stops
   and says how to turn it on.
3. Creates one Cognito test user per group the suite needs (marketers, recruiters, admins): an address at
   example.com (RFC 2606, no inbox; the invitation mail is suppressed), a random password, then an access token
   with ADMIN_USER_PASSWORD_AUTH (the admin APIs: only a caller with IAM rights on the pool can sign in this way).
4. Runs pytest over tests/e2e with ATTRACT_SMOKE_TARGET naming a file (owner-only) with the API URL and the
   tokens; tests/e2e/conftest.py gives them to its fixtures and skips, with the reason, what only makes sense
   locally (reading moto or the local SES mailbox, firing local schedules, the local gateway's own behaviour).
5. Deletes the test users and the file, whatever happened.

Usage: python -m attract_local.smoke --stack NAME [--region R] [-- pytest arguments]
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError, NoRegionError

from attract_local.auth import ROLES
from attract_local.cfn import ROOT

TARGET_ENV = "ATTRACT_SMOKE_TARGET"
OUTPUTS = {"api_url": "ApiUrl", "user_pool_id": "UserPoolId", "client_id": "SmokeTestClientId"}
ENABLE = "EnableSmokeTests"  # the template parameter that lets the smoke client sign in
TEST_DOMAIN = "example.com"  # RFC 2606: never a real inbox


# The e2e fixtures that exist only with the local stack, most specific first: under smoke a test that asks for one
# (itself or through another fixture) is skipped with this reason.
LOCAL_ONLY_FIXTURES = {
    "aws_endpoint": "reads the local AWS emulator (moto: its tables, the SES mailbox)",
    "verified_sender": "verifies a sender in the local SES",
    "stack": "drives the local stack itself (its emulator, workers or schedules)",
    "stack_log": "reads the local stack's log file",  # last: `stack` writes it, so every user of `stack` has it
}


def local_only_reason(fixturenames: list[str], marker_reason: str | None = None) -> str | None:
    """Why a test cannot run against a deployed stack (its `local_only` marker's reason, or a local-only fixture
    it uses), or None: it runs under smoke too."""
    if marker_reason:
        return marker_reason
    return next((why for name, why in LOCAL_ONLY_FIXTURES.items() if name in fixturenames), None)


class SmokeError(RuntimeError):
    """The stack cannot be smoke-tested as it is; the message says why and what to do."""


@dataclass(frozen=True)
class StackConfig:
    """What the smoke run needs from a deployed stack's outputs."""

    stack: str
    api_url: str
    user_pool_id: str
    client_id: str


@dataclass(frozen=True)
class SmokeTarget:
    """What the e2e fixtures use under smoke: the API and an access token per role (marketer, recruiter, admin)."""

    api: str
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.tokens[role]}


def no_credentials_reason(session: boto3.Session | None = None) -> str | None:
    """Why the smoke test cannot run here (None: it can): boto3's credential chain finds nothing."""
    if (session or boto3.Session()).get_credentials() is None:
        return ("no AWS credentials (boto3 found none: no AWS_PROFILE, environment keys, SSO session or role); "
                "the local e2e run (make test) is the default")
    return None


def config_from_stack(description: dict) -> StackConfig:
    """A StackConfig from one describe_stacks entry; a SmokeError naming each missing output or setting."""
    name = description["StackName"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    missing = [key for key in OUTPUTS.values() if not outputs.get(key)]
    if missing:
        raise SmokeError(f"stack {name} has no output {', '.join(missing)}: deploy the current template.yaml")
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in description.get("Parameters") or []}
    if parameters.get(ENABLE) != "true":
        raise SmokeError(f"stack {name} was deployed with {ENABLE}={parameters.get(ENABLE, 'false')}: its smoke "
                         f"client signs no one in. Deploy with --parameter-overrides {ENABLE}=true to smoke-test it "
                         "(docs/privacy.md, \"A deployed smoke test\").")
    return StackConfig(stack=name, api_url=outputs["ApiUrl"].rstrip("/"), user_pool_id=outputs["UserPoolId"],
                       client_id=outputs["SmokeTestClientId"])


def read_stack(name: str, cloudformation: Any) -> StackConfig:
    try:
        described = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        raise SmokeError(f"stack {name}: {error.response['Error'].get('Message', error)}") from None
    return config_from_stack(described[0])


def random_password() -> str:
    """Meets any Cognito password policy: long, random, with upper, lower, digit and symbol."""
    return secrets.token_urlsafe(24) + "aA1!"


@dataclass
class TestUsers:
    """Cognito users made for one smoke run, one per role; `delete()` removes every one made, even half-made."""

    config: StackConfig
    cognito: Any
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    created: list[str] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    def username(self, role: str) -> str:
        return f"attract-smoke-{self.run_id}-{role}@{TEST_DOMAIN}"

    def sign_in(self, role: str) -> str:
        """Create the role's user in its group and return its access token."""
        username, password = self.username(role), random_password()
        pool = self.config.user_pool_id
        self.cognito.admin_create_user(
            UserPoolId=pool, Username=username, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}])
        self.created.append(username)  # before anything else can fail: delete() must find it
        self.cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        self.cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=ROLES[role])
        answer = self.cognito.admin_initiate_auth(
            UserPoolId=pool, ClientId=self.config.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password})
        if "AuthenticationResult" not in answer:  # a challenge (e.g. MFA enforced on the pool): no token
            raise SmokeError(f"Cognito asked the {role} test user for {answer.get('ChallengeName')}: no token")
        return answer["AuthenticationResult"]["AccessToken"]

    def delete(self) -> list[str]:
        """Delete every user this run made; returns the ones that could not be deleted (already gone is fine)."""
        left: list[str] = []
        for username in self.created:
            try:
                self.cognito.admin_delete_user(UserPoolId=self.config.user_pool_id, Username=username)
            except ClientError as error:
                if error.response["Error"]["Code"] != "UserNotFoundException":
                    left.append(username)
        self.created = left
        return left


@contextmanager
def signed_in(config: StackConfig, cognito: Any, roles: tuple[str, ...] = tuple(ROLES)) -> Iterator[SmokeTarget]:
    """A SmokeTarget with a fresh test user per role; the users are deleted when the block ends, however it ends."""
    users = TestUsers(config, cognito)
    try:
        yield SmokeTarget(api=config.api_url, tokens={role: users.sign_in(role) for role in roles})
    finally:
        left = users.delete()
        if left:
            print(f"smoke: could not delete test user(s) {', '.join(left)}: delete them in the pool "
                  f"{config.user_pool_id}", file=sys.stderr)


def write_target(target: SmokeTarget, directory: Path) -> Path:
    """The target as a file only its owner can read (the tokens are bearer secrets)."""
    path = directory / "smoke-target.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps({"api": target.api, "tokens": target.tokens}))
    return path


def target_from_environment(environ: dict[str, str] | None = None) -> SmokeTarget | None:
    """The smoke target the e2e suite runs against (ATTRACT_SMOKE_TARGET), or None: the local stack."""
    path = (environ if environ is not None else os.environ).get(TARGET_ENV)
    if not path:
        return None
    data = json.loads(Path(path).read_text())
    return SmokeTarget(api=data["api"], tokens=data["tokens"])


def run(stack: str, pytest_args: list[str], session: boto3.Session | None = None) -> int:
    """0 with a message when there are no credentials; else pytest's exit status (SmokeError: the stack's fault)."""
    reason = no_credentials_reason(session)
    if reason:
        print(f"smoke: skipped: {reason}")
        return 0
    if not stack.strip():
        raise SmokeError("no stack named: make smoke STACK=<the deployed stack's name>")
    session = session or boto3.Session()
    try:
        config = read_stack(stack, session.client("cloudformation"))
    except NoRegionError:
        raise SmokeError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, a profile's region)") from None
    print(f"smoke: {config.stack}: API {config.api_url}; test users in {config.user_pool_id} (deleted at the end)")
    with signed_in(config, session.client("cognito-idp")) as target, tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, TARGET_ENV: str(write_target(target, Path(folder)))}
        # One process (no xdist): the suite's tests share the deployed stack; -p no:randomly keeps runs comparable.
        command = [sys.executable, "-m", "pytest", "tests/e2e", "-p", "no:randomly", "-n", "0", *pytest_args]
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the e2e suite against a deployed stack (opt-in)")
    parser.add_argument("--stack", default="", help="the CloudFormation stack's name")
    parser.add_argument("--region", help="its region (default: the AWS configuration's)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    args = parser.parse_args(argv)
    try:
        return run(args.stack, args.pytest_args, boto3.Session(region_name=args.region) if args.region else None)
    except SmokeError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
