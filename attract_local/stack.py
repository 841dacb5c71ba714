"""The emulated AWS side: moto in server mode, resources created from template.yaml itself."""

import contextlib
import json
import logging
import os
import secrets
import socket
import string
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from attract_local.auth import LOCAL_CLIENT_ID, LOCAL_USER_POOL_ID
from attract_local.cfn import ROOT, TEMPLATE, Resolver, UnresolvableIntrinsicError, load_template
from attract_local.emulator import serialise_dynamodb, ses_identities_verified

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "attract-local"
# sqlite invitation sources (the demo's "ATS" file) are allowed in the local stack only.
LOCAL_OVERRIDES = {"INVITE_ALLOW_LOCAL_SOURCES": "true"}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# A file to receive the stack's secrets as they are when it stops (JSON, logical id -> value), for a test
# that proves no log line holds them (tests/e2e/test_demo.py). Unset (the default): nothing is written.
SECRETS_OUT = "ATTRACT_LOCAL_SECRETS_OUT"


def function_arn(logical_id: str) -> str:
    """A template function's ARN locally: its name is its logical id (`GetAtt <Fn>.Arn` resolves to this)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def reserved_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A free port, held (bound, not listening) until the block ends.

    free_port()'s port is free again once it returns: with parallel test workers, another process's
    server or outgoing connection can take it before ours binds. A held port is never handed out by the
    kernel; our servers bind it all the same (SO_REUSEADDR, as http.server and moto's werkzeug set), and
    while nothing listens on it, a connection to it is refused: a dependably dead endpoint too.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        yield sock.getsockname()[1]


@dataclass
class FunctionSpec:
    """A function of template.yaml as the local runtime needs it."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    events: list[dict] = field(default_factory=list)
    timeout_s: float = 3  # Lambda's defaults when neither the function nor Globals set them
    memory_mb: int = 128
    layers: list[Path] = field(default_factory=list)  # each layer's python/ folder, later layers first


@dataclass
class LocalAws:
    """Moto server + the deployed-looking resources. `start()` then use `endpoint` and `functions`."""

    port: int = 0
    parameters: dict[str, object] = field(default_factory=dict)
    template_path: Path = TEMPLATE
    endpoint: str = ""
    refs: dict[str, Any] = field(default_factory=dict)  # a CommaDelimitedList parameter is a list
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    template: dict = field(default_factory=dict)
    stack_name: str = STACK_NAME
    _server: ThreadedMotoServer | None = None

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # type: ignore[call-overload]

    def start(self) -> "LocalAws":
        # moto names every resource type it skips, and its werkzeug server logs each call: noise here.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)
        serialise_dynamodb()
        ses_identities_verified()
        with reserved_port() as reserved:
            self.port = self.port or reserved
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # moto keeps its state per process, not per server: two stacks in one process need two names.
        self.stack_name = f"{STACK_NAME}-{self.port}"
        self.template = load_template(self.template_path)
        self._create_stack()
        return self

    def stop(self) -> None:
        if self._server:
            if os.environ.get(SECRETS_OUT):
                self._write_secrets(Path(os.environ[SECRETS_OUT]))
            self._server.stop()

    def _write_secrets(self, path: Path) -> None:
        """The stack's secrets' current values (the sandboxes' credentials included), readable by the owner only.

        Local values: the pepper and signing key are random per run and die with this emulator, the platform
        credentials are the local sandboxes' placeholders."""
        client = self.client("secretsmanager")
        values = {logical: client.get_secret_value(SecretId=self.refs[logical])["SecretString"]
                  for logical, resource in self.template["Resources"].items()
                  if resource["Type"] == "AWS::SecretsManager::Secret" and logical in self.refs}
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))

    def _create_stack(self) -> None:
        # moto's CloudFormation takes the raw SAM template: it creates tables, queues, … and skips the
        # Serverless and Cognito resources, which the local gateway stands in for.
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=self.stack_name,
            TemplateBody=self.template_path.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in self.parameters.items()],
        )
        summaries = cfn.list_stack_resources(StackName=self.stack_name)["StackResourceSummaries"]
        physical = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
        self.refs = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": self.stack_name,
                     "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws"}
        for name, spec in (self.template.get("Parameters") or {}).items():
            value = str(self.parameters.get(name, spec.get("Default", "")))
            self.refs[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" else value
        for logical, resource in self.template["Resources"].items():
            kind = resource["Type"]
            if kind == "AWS::DynamoDB::Table":
                table = physical[logical]
                self.refs[logical] = table
                self.attrs[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
            elif kind == "AWS::SQS::Queue":
                url = physical[logical]
                self.refs[logical] = url
                self.attrs[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"
                self.attrs[(logical, "QueueName")] = url.rsplit("/", 1)[-1]
            elif kind == "AWS::SecretsManager::Secret":
                self.refs[logical] = self._create_secret(logical, resource.get("Properties", {}))
            elif kind == "AWS::Cognito::UserPool":
                self.refs[logical] = LOCAL_USER_POOL_ID
            elif kind == "AWS::Cognito::UserPoolClient":
                self.refs[logical] = LOCAL_CLIENT_ID
            elif kind == "AWS::Cognito::UserPoolDomain":
                # Ref is the domain prefix; the hosted UI itself is the local gateway's (attract_local.hosted_ui).
                self.refs[logical] = self.resolve(resource["Properties"]["Domain"], f"{logical}.Domain")
            elif kind == "AWS::SES::ConfigurationSet":
                self.refs[logical] = self._create_configuration_set(logical, resource.get("Properties", {}))
            elif kind == "AWS::SES::ConfigurationSetEventDestination":
                # moto stores no event destinations for SES v2 and none of EventBridge kind at all, and its
                # SES never emits events: the feedback function is run with real-shaped events instead
                # (events/invites/*.json; docs/decisions.md, "SES event destination locally").
                self.refs[logical] = self.resolve(resource["Properties"]["EventDestination"]["Name"],
                                                  f"{logical}.EventDestination.Name")
            elif kind == "AWS::Serverless::Function":
                # Locally a function's name is its logical id; the scheduler and `make fire` resolve
                # `arn:aws:lambda:<region>:<account>:function:<LogicalId>` targets back to it.
                self.refs[logical] = logical
                self.attrs[(logical, "Arn")] = function_arn(logical)
            elif kind == "AWS::IAM::Role" and logical in physical:
                self.refs[logical] = physical[logical]
                self.attrs[(logical, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{physical[logical]}"
            elif logical in physical:
                self.refs[logical] = physical[logical]
        # SES (and moto) refuse mail from an unverified sender: verify the template's, as an operator would.
        if self.refs.get("MailFromAddress"):
            self.client("sesv2").create_email_identity(EmailIdentity=str(self.refs["MailFromAddress"]))

    def _create_configuration_set(self, logical: str, properties: dict) -> str:
        """moto's CloudFormation skips SES resources; create the configuration set through SES v2 instead."""
        name = str(self.resolve(properties["Name"], f"{logical}.Name"))
        try:
            self.client("sesv2").create_configuration_set(ConfigurationSetName=name)
        except ClientError as error:
            # moto's state is per process: a second stack in this process shares the first one's SES.
            # (moto answers SES v1's ConfigurationSetAlreadyExistsException, SES v2 AlreadyExistsException.)
            if "AlreadyExists" not in error.response["Error"]["Code"]:
                raise
        return name

    def _create_secret(self, logical: str, properties: dict) -> str:
        """moto's CloudFormation does not create secrets; make it as GenerateSecretString would."""
        spec = properties.get("GenerateSecretString") or {}
        alphabet = string.ascii_letters + string.digits
        value = properties.get("SecretString") or "".join(
            secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32)))
        )
        created = self.client("secretsmanager").create_secret(Name=f"{self.stack_name}-{logical}", SecretString=value)
        return created["ARN"]

    @property
    def resolve(self) -> Resolver:
        return Resolver(self.refs, self.attrs)

    def functions(self, only: str | None = None) -> dict[str, FunctionSpec]:
        """Every AWS::Serverless::Function (or just `only`) with Globals merged and its environment resolved."""
        globals_fn = (self.template.get("Globals") or {}).get("Function") or {}
        global_env = (globals_fn.get("Environment") or {}).get("Variables") or {}
        specs = {}
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function" or only not in (None, logical):
                continue
            props = resource["Properties"]
            env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            specs[logical] = FunctionSpec(
                logical_id=logical,
                code_dir=ROOT / props["CodeUri"],
                handler=props.get("Handler", globals_fn.get("Handler", "")),
                environment={k: str(v) for k, v in self.resolve(env, f"{logical}.Environment.Variables").items()},
                events=[e for e in (props.get("Events") or {}).values()],
                timeout_s=float(self.resolve(props.get("Timeout", globals_fn.get("Timeout", 3)), f"{logical}.Timeout")),
                memory_mb=int(self.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)),
                                           f"{logical}.MemorySize")),
                # SAM appends a function's Layers to the Globals ones; a later layer overrides an earlier one.
                layers=self._layer_paths([*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])], logical),
            )
        return specs

    def _layer_paths(self, layers: list, logical: str) -> list[Path]:
        paths = []
        for index, layer in enumerate(layers):
            where = f"{logical}.Layers[{index}]"
            name = layer.get("Ref") if isinstance(layer, dict) else None
            resource = self.template["Resources"].get(name) if name else None
            if not resource or resource["Type"] != "AWS::Serverless::LayerVersion":
                raise UnresolvableIntrinsicError(str(layer), where, "only this template's LayerVersions run locally")
            content = self.resolve(resource["Properties"]["ContentUri"], f"{name}.ContentUri")
            paths.append(ROOT / str(content) / "python")  # the Python runtime puts /opt/python on sys.path
        return paths[::-1]

    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The process environment a Lambda worker runs with locally."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        env.update(FAKE_CREDENTIALS)
        env.update(spec.environment)
        # What differs locally on purpose, for the functions whose template names the variable.
        env.update({name: value for name, value in LOCAL_OVERRIDES.items() if name in spec.environment})
        # The hosted UI is served by the local gateway (its /oauth2/*), i.e. the stack's public base URL.
        if "SIGN_IN_URL" in spec.environment and self.refs.get("PublicBaseUrl"):
            env["SIGN_IN_URL"] = str(self.refs["PublicBaseUrl"])
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_LAMBDA_FUNCTION_NAME=spec.logical_id,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
            POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon locally
            # sqlite invitation sources (the demo's "ATS" file) are for the local stack only: allowed here.
            INVITE_ALLOW_LOCAL_SOURCES="true",
            PYTHONPATH=os.pathsep.join([str(spec.code_dir), *(str(path) for path in spec.layers)]),
        )
        return env

    def handler_environment(self, logical_id: str) -> dict[str, str]:
        """What os.environ needs for an in-process handler (tests, bench) to act as `logical_id` here."""
        spec = self.functions(only=logical_id)[logical_id]  # another function's environment is not needed here
        env = self.function_environment(spec)
        keys = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_DEFAULT_REGION", "AWS_REGION", "POWERTOOLS_TRACE_DISABLED", "INVITE_ALLOW_LOCAL_SOURCES",
                *spec.environment)
        return {key: env[key] for key in keys}
