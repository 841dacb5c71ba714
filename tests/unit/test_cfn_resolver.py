"""The local stack resolves the intrinsics template.yaml uses, and refuses the others by name and place."""

import copy

import pytest

from attract_local.cfn import PSEUDO_PARAMETERS, Resolver, UnresolvableIntrinsicError, load_template
from attract_local.stack import LocalAws

REFS = {"AWS::Region": "us-east-1", "Table": "attract-table", "Origins": ["https://a.example", "https://b.example"]}
ATTRS = {("Table", "Arn"): "arn:aws:dynamodb:us-east-1:123456789012:table/attract-table"}
resolve = Resolver(REFS, ATTRS)


def test_supported_intrinsics():
    assert resolve({"Ref": "Table"}) == "attract-table"
    assert resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith(":table/attract-table")
    assert resolve({"Fn::Sub": "${Table}-${AWS::Region}-${Table.Arn}"}).startswith("attract-table-us-east-1-arn:")
    assert resolve({"Fn::Sub": ["${Name}!", {"Name": {"Ref": "Table"}}]}) == "attract-table!"
    assert resolve({"Fn::Sub": "literal ${!Table}"}) == "literal ${Table}"
    assert resolve({"Fn::Join": [",", {"Ref": "Origins"}]}) == "https://a.example,https://b.example"
    assert resolve({"Fn::Select": [1, {"Ref": "Origins"}]}) == "https://b.example"
    assert resolve({"Fn::Split": ["-", "a-b"]}) == ["a", "b"]
    assert resolve({"Nested": [{"Ref": "Table"}], "Plain": 3}) == {"Nested": ["attract-table"], "Plain": 3}


@pytest.mark.parametrize(
    ("value", "intrinsic", "where"),
    [
        ({"Env": {"Fn::If": ["IsProd", "a", "b"]}}, "Fn::If", "Env.Fn::If"),
        ({"Env": [{"Fn::ImportValue": "Shared"}]}, "Fn::ImportValue", "Env[0].Fn::ImportValue"),
        ({"Env": {"Ref": "NoSuchThing"}}, "Ref NoSuchThing", "Env.Ref"),
        ({"Env": {"Fn::GetAtt": ["Table", "StreamArn"]}}, "Fn::GetAtt Table.StreamArn", "Env.Fn::GetAtt"),
        ({"Env": {"Fn::Sub": "${Missing}"}}, "Fn::Sub ${Missing}", "Env.Fn::Sub"),
    ],
)
def test_unresolvable_intrinsics_are_errors_naming_what_and_where(value, intrinsic, where):
    with pytest.raises(UnresolvableIntrinsicError) as error:
        resolve(value)
    assert error.value.intrinsic == intrinsic and error.value.where == where
    assert intrinsic in str(error.value) and where in str(error.value)


def _offline_stack(template: dict) -> LocalAws:
    """LocalAws with the template's parameters as refs, without starting the emulator."""
    refs = {**PSEUDO_PARAMETERS, "AttractTable": "t", "IdempotencyTable": "i",
            "EmailPepperSecret": "arn:secret", "SigningKeySecret": "arn:signing", "HttpApi": "api", "UserPool": "pool", "UserPoolClient": "client",
            "InvitePlanQueue": "https://sqs/plan"}
    refs.update({name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()})
    refs.update({name: name for name in template["Resources"] if name not in refs})  # queues, later secrets: by name
    return LocalAws(template=template, refs=refs, attrs={("AttractTable", "Arn"): "arn:t", ("InvitePlanQueue", "Arn"): "arn:plan",
                                                         ("InviteSchedulerRole", "Arn"): "arn:role",
                                                         ("EventDeadLetterQueue", "Arn"): "arn:dead-letters",
                                                         ("PostsQueue", "Arn"): "arn:posts",
                                                         ("PostsSchedulerRole", "Arn"): "arn:posts-role"})


def test_function_environment_with_an_unsupported_intrinsic_names_the_function():
    template = copy.deepcopy(load_template())
    variables = template["Resources"]["JoinsFunction"]["Properties"]["Environment"]["Variables"]
    variables["MODE"] = {"Fn::If": ["IsProd", "strict", "lax"]}
    with pytest.raises(UnresolvableIntrinsicError, match=r"Fn::If at JoinsFunction\.Environment\.Variables\.MODE"):
        _offline_stack(template).functions()


def test_timeout_memory_and_layers_come_from_the_template():
    template = copy.deepcopy(load_template())
    specs = _offline_stack(template).functions()
    globals_fn = template["Globals"]["Function"]
    tracking = template["Resources"]["TrackingFunction"]["Properties"]
    assert specs["TrackingFunction"].memory_mb == tracking["MemorySize"]
    assert specs["JoinsFunction"].memory_mb == globals_fn["MemorySize"]
    assert {spec.timeout_s for name, spec in specs.items()
            if "Timeout" not in template["Resources"][name]["Properties"]} == {globals_fn["Timeout"]}
    assert specs["InviteSenderFunction"].timeout_s == template["Resources"]["InviteSenderFunction"]["Properties"]["Timeout"]
    # Globals' common layer first, a function's own after it (and so before it on sys.path)
    assert all(spec.layers and spec.layers[-1].parts[-2:] == ("common", "python") for spec in specs.values())
    assert specs["InviteApiFunction"].layers[0].parts[-2:] == ("sources", "python")
    template["Resources"]["JoinsFunction"]["Properties"]["Timeout"] = 4
    template["Resources"]["JoinsFunction"]["Properties"]["Layers"] = ["arn:aws:lambda:us-east-1:1:layer:x:1"]
    with pytest.raises(UnresolvableIntrinsicError, match=r"JoinsFunction\.Layers\[1\]"):
        _offline_stack(template).functions()
    del template["Resources"]["JoinsFunction"]["Properties"]["Layers"]
    assert _offline_stack(template).functions()["JoinsFunction"].timeout_s == 4
