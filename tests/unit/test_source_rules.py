"""What an invite campaign may read (attract.invites.source_rules): the guard in code behind IAM, matched as IAM
matches, never one of Attract's own resources, the same answer whether a resource exists or not; and the
template gives the functions exactly the IAM statements' resources."""

from dataclasses import replace

import pytest
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from attract.invites.campaign_logic import source_failure
from attract.invites.ports import SourceNotAllowedError
from attract.invites.source_rules import SourcePolicy, arn_like, check_source, classify
from attract.invites.sources import SourceSpec
from attract_local.cfn import load_template, offline_environment

SPEC = TypeAdapter(SourceSpec)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
# The template's defaults (offline_environment resolves them as the local stack does)
POLICY = SourcePolicy(
    object_arn_pattern="arn:aws:s3:::attract-sources-*/*",
    table_arn_pattern="arn:aws:dynamodb:us-east-1:123456789012:table/attract-source-*",
    secret_arn_pattern=f"{ARN}:attract/sources/*",
    own_tables=("attract-AttractTable-1X2Y3Z", "attract-IdempotencyTable-9Q8R"),
    own_secrets=(f"{ARN}:EmailPepperSecret-AbCdEfGhIjKl-a1B2c3", f"{ARN}:attract/sources/signing-Zz9Yy8"),
)
# An operator who opened the patterns to everything: only the own-resource rule still stands
WIDE = replace(POLICY, object_arn_pattern="arn:aws:s3:::*/*", table_arn_pattern="arn:aws:dynamodb:us-east-1:123456789012:table/*",
               secret_arn_pattern=f"{ARN}:*")


def _refusal(source: dict, policy: SourcePolicy = POLICY) -> tuple[str, str] | None:
    try:
        check_source(SPEC.validate_python(source), policy)
    except SourceNotAllowedError as error:
        return error.field, error.rule
    return None


def _dynamodb(table: str, **more) -> dict:
    return {"kind": "dynamodb", "table_name": table, **more}


def _sql(secret_id: str) -> dict:
    return {"kind": "postgresql", "secret_id": secret_id, "table": "candidates"}


def _s3(uri: str) -> dict:
    return {"kind": "s3", "uri": uri}


def test_the_applications_own_tables_are_never_a_source():
    # Outside the table pattern, as by default: the pattern's rule answers first
    assert _refusal(_dynamodb("attract-AttractTable-1X2Y3Z")) == ("source.table_name", "source_table_not_allowed")
    # With the pattern opened to every table: still refused, whatever the case it is written in
    for table in ("attract-AttractTable-1X2Y3Z", "ATTRACT-ATTRACTTABLE-1X2Y3Z", "attract-IdempotencyTable-9Q8R"):
        assert _refusal(_dynamodb(table), WIDE) == ("source.table_name", "source_own_resource")
    assert _refusal(_dynamodb("crm-people"), WIDE) is None


@pytest.mark.parametrize(("source", "refusal"), [
    (_dynamodb("attract-source-crm"), None),
    (_dynamodb("attract-source-crm", index="by-status", key={"name": "status", "value": "active"}), None),
    (_dynamodb("crm-people"), ("source.table_name", "source_table_not_allowed")),
    (_dynamodb("Attract-Source-crm"), ("source.table_name", "source_table_not_allowed")),  # IAM is case-sensitive
    (_dynamodb("attract-source"), ("source.table_name", "source_table_not_allowed")),
    (_s3("s3://attract-sources-ats/export.csv"), None),
    (_s3("s3://attract-sources-ats/deep/path/export.csv"), None),
    (_s3("s3://acme-ats/export.csv"), ("source.uri", "source_bucket_not_allowed")),
    (_s3("s3://attract-sources/export.csv"), ("source.uri", "source_bucket_not_allowed")),
    (_sql("attract/sources/ats-readonly"), None),
    (_sql(f"{ARN}:attract/sources/ats-readonly-AbC123"), None),  # the full ARN
    (_sql(f"{ARN}:attract/sources/ats-readonly"), None),  # a partial ARN
    (_sql("ats/readonly"), ("source.secret_id", "source_secret_not_allowed")),
    (_sql("Attract/Sources/x"), ("source.secret_id", "source_secret_not_allowed")),
    (_sql("attract/sources"), ("source.secret_id", "source_secret_not_allowed")),
    # the right name in another account or region: IAM refuses it, so does the guard
    (_sql("arn:aws:secretsmanager:us-east-1:999999999999:secret:attract/sources/x"),
     ("source.secret_id", "source_secret_not_allowed")),
    (_sql("arn:aws:secretsmanager:eu-west-1:123456789012:secret:attract/sources/x"),
     ("source.secret_id", "source_secret_not_allowed")),
    ({"kind": "sqlite", "path": "/tmp/ats.db", "table": "t"}, ("source.kind", "source_kind_local_only")),
])
def test_buckets_tables_and_secrets_must_match_the_templates_patterns(source, refusal):
    assert _refusal(source) == refusal


def test_the_applications_own_secrets_are_refused_by_name_arn_or_partial_arn():
    # A secret of the stack that happens to sit under the source prefix (or a prefix opened to everything)
    for secret_id in ("attract/sources/signing", f"{ARN}:attract/sources/signing-Zz9Yy8",
                      f"{ARN}:attract/sources/signing", "ATTRACT/SOURCES/SIGNING"):
        assert _refusal(_sql(secret_id), WIDE) == ("source.secret_id", "source_own_resource")
    for secret_id in ("EmailPepperSecret-AbCdEfGhIjKl", f"{ARN}:EmailPepperSecret-AbCdEfGhIjKl-a1B2c3"):
        assert _refusal(_sql(secret_id)) == ("source.secret_id", "source_secret_not_allowed")
        assert _refusal(_sql(secret_id), WIDE) == ("source.secret_id", "source_own_resource")


def test_a_bucket_of_the_stack_is_never_a_source():
    policy = replace(WIDE, own_buckets=("attract-artifacts",))
    assert _refusal(_s3("s3://attract-artifacts/x.csv"), policy) == ("source.uri", "source_own_resource")


def test_the_refusal_names_the_rule_and_never_the_resource():
    with pytest.raises(SourceNotAllowedError) as raised:
        check_source(SPEC.validate_python(_sql("hr/payroll-db")), POLICY)
    assert "SourceSecretPrefix" in raised.value.message and "attract/sources/" in raised.value.message
    assert "payroll" not in raised.value.message


def test_iam_wildcards_match_within_one_arn_part_and_are_case_sensitive():
    assert arn_like("arn:aws:s3:::attract-sources-*/*", "arn:aws:s3:::attract-sources-a/b/c")
    assert arn_like("arn:aws:dynamodb:us-east-1:123:table/a?c", "arn:aws:dynamodb:us-east-1:123:table/abc")
    assert not arn_like("arn:aws:dynamodb:us-east-1:123:table/a?c", "arn:aws:dynamodb:us-east-1:123:table/abbc")
    # A wildcard in the region never reaches into the account
    assert not arn_like("arn:aws:dynamodb:*:123:table/t", "arn:aws:dynamodb:us-east-1:999:123:table/t")
    assert not arn_like("arn:aws:s3:::Bucket*/*", "arn:aws:s3:::bucket-a/k")
    assert not arn_like("", "arn:aws:s3:::bucket-a/k")  # a missing pattern allows nothing


def test_not_found_and_access_denied_get_the_same_answer():
    # S3 and DynamoDB tell a missing object, bucket or table from one this account may not read; the caller is not
    # to learn which: the same status, field, rule and message (and the same run code in the planner).
    answers = set()
    for code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "403", "404", "ResourceNotFoundException",
                 "AccessDeniedException"):
        error = ClientError({"Error": {"Code": code, "Message": "arn:aws:s3:::secret-bucket/k"}}, "GetObject")
        answer = source_failure(error)
        answers.add((type(answer).__name__, answer.field, answer.rule, answer.message, classify(error).code))
    assert len(answers) == 1, answers
    assert "secret-bucket" not in next(iter(answers))[3]


def _statement(resource: dict, action: str) -> list:
    statements = [statement for policy in resource["Properties"]["Policies"] for statement in policy["Statement"]]
    (found,) = [s for s in statements if action in s["Action"]]
    resources = found["Resource"]
    return resources if isinstance(resources, list) else [resources]


@pytest.mark.parametrize("function", ["InvitePlannerFunction", "InviteApiFunction"])
def test_the_guard_is_given_the_iam_statements_resources_verbatim(function):
    # So the guard allows what IAM allows and never more: the same template expressions, not copies of them
    resource = load_template()["Resources"][function]
    variables = resource["Properties"]["Environment"]["Variables"]
    assert _statement(resource, "s3:GetObject") == [variables["SOURCE_OBJECT_ARN_PATTERN"]]
    table = variables["SOURCE_TABLE_ARN_PATTERN"]
    assert _statement(resource, "dynamodb:Query") == [table, {"Fn::Sub": table["Fn::Sub"] + "/index/*"}]
    secrets = _statement(resource, "secretsmanager:GetSecretValue")
    assert variables["SOURCE_SECRET_ARN_PATTERN"] in secrets


@pytest.mark.parametrize("function", ["InvitePlannerFunction", "InviteApiFunction"])
def test_every_table_secret_and_bucket_of_the_stack_is_named_as_attracts_own(function):
    template = load_template()
    kinds = {"AWS::DynamoDB::Table": "STACK_TABLE_NAMES", "AWS::SecretsManager::Secret": "STACK_SECRET_ARNS",
             "AWS::S3::Bucket": "STACK_BUCKET_NAMES"}
    environment = offline_environment(template, function)  # offline, a resource's Ref is its logical id
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in kinds:
            named = environment.get(kinds[resource["Type"]], "").split(",")
            assert logical_id in named, f"{function}: {logical_id} is missing from {kinds[resource['Type']]}"
