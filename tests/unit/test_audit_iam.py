"""The audit trail is append-only by IAM (template.yaml): a function may PutItem a new entry on AuditTable, and
AuditFunction may Query it; no function is granted anything else on it (docs/privacy.md, "Audit trail")."""

from attract_local.cfn import ROOT, load_template

TEMPLATE = load_template()
APPEND = {"Sid": "AuditAppend", "Effect": "Allow", "Action": ["dynamodb:PutItem"],
          "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}}
READ = {"Sid": "AuditRead", "Effect": "Allow", "Action": ["dynamodb:Query"],
        "Resource": [{"Fn::GetAtt": ["AuditTable", "Arn"]}, {"Fn::Sub": "${AuditTable.Arn}/index/*"}]}


def _functions() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in TEMPLATE["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


def _naming_the_trail(properties: dict) -> list:
    """Every policy or statement of the function that names AuditTable in any way."""
    found = []
    for policy in properties.get("Policies") or []:
        statements = policy.get("Statement") if isinstance(policy, dict) and "Statement" in policy else None
        if statements is None:  # a SAM policy template (DynamoDBCrudPolicy: {TableName: !Ref AuditTable}, ...)
            if "AuditTable" in str(policy):
                found.append(policy)
            continue
        found.extend(s for s in statements if "AuditTable" in str(s))
    return found


def test_no_function_may_change_or_remove_an_entry():
    for name, properties in _functions().items():
        for statement in _naming_the_trail(properties):
            allowed = [READ] if name == "AuditFunction" else [APPEND]
            assert statement in allowed, (name, statement)


def test_the_reader_only_reads_and_the_writers_only_append():
    grants = {name: _naming_the_trail(p) for name, p in _functions().items()}
    assert grants["AuditFunction"] == [READ]
    appenders = {name for name, statements in grants.items() if statements == [APPEND]}
    assert {"ProfilesFunction", "CampaignsApiFunction", "InviteApiFunction", "InvitePlannerFunction",
            "InviteSenderFunction"} <= appenders


def test_every_function_whose_code_audits_may_append():
    # The code that calls attract.audit (audit, audit_request, AuditedRuns) needs AuditAppend, or its write fails
    for name, properties in _functions().items():
        source = "\n".join(path.read_text() for path in (ROOT / properties["CodeUri"]).glob("*.py"))
        if "from attract.audit import" in source or "attract.invites.run_audit" in source:
            assert APPEND in [s for p in properties.get("Policies") or [] for s in p.get("Statement", [])], name


def test_the_trail_expires_after_the_retention_parameter_and_every_function_knows_where_it_is():
    table = TEMPLATE["Resources"]["AuditTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert TEMPLATE["Resources"]["AuditTable"]["DeletionPolicy"] == "Retain"
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AUDIT_TABLE_NAME"] == {"Ref": "AuditTable"}
    assert variables["AUDIT_RETENTION_DAYS"] == {"Ref": "AuditRetentionDays"}
