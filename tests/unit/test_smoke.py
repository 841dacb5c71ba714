"""`make smoke STACK=<name>`'s machinery, offline: a stack's outputs to a config, the Cognito test users' life
(created in their groups, signed in, deleted even when the run fails) against moto, and the skip without
credentials, through make itself."""

import json
import os
import stat
import subprocess

import boto3
import jwt
import pytest
from moto import mock_aws

from attract_local import smoke
from attract_local.cfn import ROOT

REGION = "us-east-1"
TEMPLATE = {
    "Parameters": {"EnableSmokeTests": {"Type": "String", "Default": "false"}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"ApiUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/"},
                "UserPoolId": {"Value": "us-east-1_pool"}, "SmokeTestClientId": {"Value": "smokeclient"},
                "TableName": {"Value": "t"}},
}


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _stack(name: str, template: dict, enabled: str = "true") -> dict:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": "EnableSmokeTests", "ParameterValue": enabled}])
    return cfn


def test_the_config_comes_from_the_stacks_outputs(aws):
    cfn = _stack("attract-staging", TEMPLATE)
    config = smoke.read_stack("attract-staging", cfn)
    assert config == smoke.StackConfig(stack="attract-staging", api_url="https://abc123.execute-api.us-east-1.amazonaws.com",
                                       user_pool_id="us-east-1_pool", client_id="smokeclient")


def test_a_stack_without_the_outputs_is_named_with_what_is_missing(aws):
    outputs = {k: v for k, v in TEMPLATE["Outputs"].items() if k not in ("SmokeTestClientId", "ApiUrl")}
    cfn = _stack("attract-old", {**TEMPLATE, "Outputs": outputs})
    with pytest.raises(smoke.SmokeError, match="attract-old has no output ApiUrl, SmokeTestClientId"):
        smoke.read_stack("attract-old", cfn)


def test_a_stack_without_the_smoke_client_enabled_says_how_to_enable_it(aws):
    cfn = _stack("attract-prod", TEMPLATE, enabled="false")
    with pytest.raises(smoke.SmokeError, match=r"EnableSmokeTests=false.*--parameter-overrides EnableSmokeTests=true"):
        smoke.read_stack("attract-prod", cfn)


def test_an_unknown_stack_is_a_smoke_error(aws):
    with pytest.raises(smoke.SmokeError, match="stack nosuch"):
        smoke.read_stack("nosuch", boto3.client("cloudformation", region_name=REGION))


def _pool(groups=("marketers", "recruiters", "admins")) -> tuple[object, smoke.StackConfig]:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="attract", UsernameAttributes=["email"],
                                    AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="attract-smoke-tests",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    for group in groups:
        cognito.create_group(UserPoolId=pool, GroupName=group)
    return cognito, smoke.StackConfig("attract-staging", "https://api.example", pool, client)


def _users(cognito, pool: str) -> list[str]:
    return [u["Username"] for u in cognito.list_users(UserPoolId=pool)["Users"]]


def test_each_role_gets_a_user_in_its_group_and_a_token_and_every_user_is_deleted_after(aws):
    cognito, config = _pool()
    with smoke.signed_in(config, cognito) as target:
        # Given the run's users: one per role, each an example.com address, in its group
        assert len(_users(cognito, config.user_pool_id)) == 3
        for role, group in (("marketer", "marketers"), ("recruiter", "recruiters"), ("admin", "admins")):
            claims = jwt.decode(target.tokens[role], options={"verify_signature": False})
            # Then each token is an access token of the smoke client, carrying the role's group
            assert claims["token_use"] == "access" and claims["client_id"] == config.client_id
            assert claims["cognito:groups"] == [group]
            assert target.headers(role) == {"Authorization": "Bearer " + target.tokens[role]}
        assert target.api == "https://api.example"
    # And when the block ends, no test user is left in the pool
    assert _users(cognito, config.user_pool_id) == []


def test_the_users_are_deleted_when_the_run_fails(aws):
    cognito, config = _pool()
    with pytest.raises(RuntimeError, match="the suite crashed"), smoke.signed_in(config, cognito):
        assert len(_users(cognito, config.user_pool_id)) == 3
        raise RuntimeError("the suite crashed")
    assert _users(cognito, config.user_pool_id) == []


def test_a_user_half_made_is_deleted_too(aws):
    # Given a pool without the admins group: the admin user is created, then adding it to its group fails
    cognito, config = _pool(groups=("marketers", "recruiters"))
    with pytest.raises(cognito.exceptions.ResourceNotFoundException), smoke.signed_in(config, cognito):
        pass
    # Then the users made before it, and it, are gone
    assert _users(cognito, config.user_pool_id) == []


def test_a_user_already_gone_is_no_failure_to_delete(aws):
    cognito, config = _pool()
    users = smoke.TestUsers(config, cognito)
    users.sign_in("marketer")
    cognito.admin_delete_user(UserPoolId=config.user_pool_id, Username=users.username("marketer"))
    assert users.delete() == []


def test_passwords_are_random_and_meet_the_pools_policy():
    first, second = smoke.random_password(), smoke.random_password()
    assert first != second and len(first) >= 12
    assert any(c.isupper() for c in first) and any(c.islower() for c in first) and any(c.isdigit() for c in first)


def test_the_target_file_is_the_owners_alone_and_read_back_by_the_suite(tmp_path):
    target = smoke.SmokeTarget(api="https://api.example", tokens={"marketer": "m", "recruiter": "r", "admin": "a"})
    path = smoke.write_target(target, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert smoke.target_from_environment({smoke.TARGET_ENV: str(path)}) == target
    assert smoke.target_from_environment({}) is None  # the default: the local stack


@pytest.mark.parametrize(("fixtures", "marker", "skipped"), [
    (["api", "marketer"], None, None),
    (["api", "aws_endpoint", "stack"], None, "moto"),
    (["api", "stack_log"], None, "log"),
    (["api", "stack_log", "stack"], None, "local stack itself"),
    (["api", "verified_sender", "stack_log", "stack"], None, "sender"),
    (["api"], "runs `make demo`", "make demo"),
])
def test_what_only_makes_sense_locally_is_skipped_with_a_reason(fixtures, marker, skipped):
    reason = smoke.local_only_reason(fixtures, marker)
    assert reason is None if skipped is None else skipped in reason


def _without_credentials(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}


def test_run_without_credentials_skips_and_says_why(tmp_path, monkeypatch, capsys):
    for name, value in _without_credentials(tmp_path).items():
        if name.startswith("AWS_") or name == "HOME":
            monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in _without_credentials(tmp_path)]:
        monkeypatch.delenv(name)
    assert smoke.run("attract-staging", []) == 0
    assert capsys.readouterr().out.startswith("smoke: skipped: no AWS credentials")


def test_make_smoke_without_credentials_exits_0_saying_why(tmp_path):
    # The venv is this test run's own: make must not rebuild it (-o: its stamp counts as up to date)
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "smoke", "STACK=attract-staging"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=_without_credentials(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert "smoke: skipped: no AWS credentials (boto3 found none" in done.stdout
    assert "the local e2e run (make test) is the default" in done.stdout


def test_only_the_smoke_client_may_sign_in_with_a_password_and_only_when_the_stack_enables_it():
    from attract_local.cfn import load_template

    template = load_template()
    resources = template["Resources"]
    # The dashboard's client keeps SRP and the hosted UI: no password flow was added to it
    assert not [flow for flow in resources["UserPoolClient"]["Properties"]["ExplicitAuthFlows"] if "PASSWORD" in flow]
    # The smoke client signs in with the admin API only under EnableSmokeTests=true (default false)
    assert template["Parameters"]["EnableSmokeTests"]["Default"] == "false"
    assert template["Conditions"]["SmokeTestsEnabled"] == {"Fn::Equals": [{"Ref": "EnableSmokeTests"}, "true"]}
    smoke_client = resources["SmokeTestClient"]["Properties"]
    assert smoke_client["ExplicitAuthFlows"] == {"Fn::If": ["SmokeTestsEnabled",
                                                            ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                                            ["ALLOW_REFRESH_TOKEN_AUTH"]]}
    assert smoke_client["AllowedOAuthFlowsUserPoolClient"] is False and smoke_client["GenerateSecret"] is False
    # And the API accepts its tokens; the stack names it in its outputs
    jwt_config = resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["CognitoJwt"]["JwtConfiguration"]
    assert {"Ref": "SmokeTestClient"} in jwt_config["audience"]
    assert template["Outputs"]["SmokeTestClientId"]["Value"] == {"Ref": "SmokeTestClient"}
