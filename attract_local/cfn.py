"""Reading template.yaml: CloudFormation short-form tags and the few intrinsics the local stack resolves."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", lambda loader, suffix, node: _tag(loader, suffix, node))


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


class UnresolvableIntrinsicError(ValueError):
    """An intrinsic (or a name it refers to) the local stack cannot resolve: an error, never a guess."""

    def __init__(self, intrinsic: str, where: str, detail: str = ""):
        self.intrinsic, self.where = intrinsic, where or "<root>"
        super().__init__(f"cannot resolve {intrinsic} at {self.where}" + (f": {detail}" if detail else ""))


class Resolver:
    """Resolves Ref / GetAtt / Sub / Join / Select / Split against known values.

    Anything else (Fn::If, Fn::ImportValue, a Ref to an unknown name, ...) raises
    UnresolvableIntrinsicError naming the intrinsic and where it sits, instead of passing a dict on.
    """

    SUPPORTED = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split")

    def __init__(self, refs: dict[str, Any], attrs: dict[tuple[str, str], str]):
        self.refs = refs
        self.attrs = attrs

    def __call__(self, value: Any, where: str = "") -> Any:
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg, f"{where}.{key}" if where else key)
        return {k: self(v, f"{where}.{k}" if where else k) for k, v in value.items()}

    def _intrinsic(self, key: str, arg: Any, where: str) -> Any:
        if key == "Ref":
            return self._ref(arg, f"Ref {arg}", where)
        if key == "Fn::GetAtt":
            return self._attr(arg[0], arg[1], f"Fn::GetAtt {arg[0]}.{arg[1]}", where)
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1], where))
            # ${!Literal} is CloudFormation's escape for a literal ${Literal}.
            return re.sub(r"\$\{(!?)([^}]+)\}", lambda m: "${" + m.group(2) + "}" if m.group(1)
                          else self._sub_var(m.group(2), extra, where), text)
        if key == "Fn::Join":
            return str(arg[0]).join(str(part) for part in self(arg[1], where))
        if key == "Fn::Select":
            index, items = self(arg[0], where), self(arg[1], where)
            return items[int(index)]
        if key == "Fn::Split":
            return str(self(arg[1], where)).split(arg[0])
        raise UnresolvableIntrinsicError(key, where, "not supported by the local stack")

    def _ref(self, name: str, label: str, where: str) -> Any:
        if name not in self.refs:
            raise UnresolvableIntrinsicError(label, where, "no such parameter or resource locally")
        return self.refs[name]

    def _attr(self, logical: str, attr: str, label: str, where: str) -> str:
        if (logical, attr) not in self.attrs:
            raise UnresolvableIntrinsicError(label, where, "attribute not emulated locally")
        return self.attrs[(logical, attr)]

    def _sub_var(self, name: str, extra: dict, where: str) -> str:
        if name in extra:
            return str(extra[name])
        if "." in name:
            logical, attr = name.split(".", 1)
            return self._attr(logical, attr, f"Fn::Sub ${{{name}}}", where)
        return str(self._ref(name, f"Fn::Sub ${{{name}}}", where))


# What `Ref AWS::…` gives offline (the local stack has its own, the same: attract_local.stack).
PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                     "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "attract"}


def offline_environment(template: dict, logical_id: str) -> dict[str, str]:
    """A function's variables (Globals merged) without a stack: parameter defaults, resources named by logical id.

    Enough to import an app module, which validates its settings at import (the OpenAPI build, import probes).
    """
    refs = {name: str(spec.get("Default", "")) for name, spec in (template.get("Parameters") or {}).items()}
    refs |= {name: name for name in template["Resources"]} | PSEUDO_PARAMETERS
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    variables = {**((function_globals.get("Environment") or {}).get("Variables") or {}),
                 **((template["Resources"][logical_id]["Properties"].get("Environment") or {}).get("Variables") or {})}
    return {name: str(value) for name, value in Resolver(refs, _OfflineAttributes(template["Resources"]))(variables).items()}


class _OfflineAttributes(dict):
    """Any attribute of a template resource as `<Logical>.<Attr>` (a queue's Arn, a role's Arn): offline, a
    value only has to be there; a resource the template lacks still fails."""

    def __init__(self, resources: dict):
        super().__init__()
        self.resources = resources

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and key[0] in self.resources

    def __getitem__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}.{key[1]}"


@dataclass(frozen=True)
class HttpRoute:
    """One `HttpApi` event of a function, as the template declares it."""

    method: str
    path: str
    function: str
    authorizer: str | None  # the authorizer's name in the API's Auth, None for a public route
    api: str | None  # logical id of the AWS::Serverless::HttpApi

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def public(self) -> bool:
        return self.authorizer is None


def http_routes(template: dict) -> list[HttpRoute]:
    """Every route of every function, with the authorizer SAM would attach: the one list of routes."""
    resources = template["Resources"]
    routes = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event.get("Properties") or {}
            api = (props.get("ApiId") or {}).get("Ref")
            api_auth = ((resources.get(api) or {}).get("Properties") or {}).get("Auth") or {}
            authorizer = (props.get("Auth") or {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
            routes.append(HttpRoute(str(props.get("Method", "ANY")).upper(), props.get("Path", "$default"), name,
                                    None if authorizer in (None, "NONE") else authorizer, api))
    return routes
