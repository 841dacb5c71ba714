"""Reading template.yaml: CloudFormation short-form tags and the few intrinsics the local stack resolves."""

import re
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
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", lambda loader, suffix, node: _tag(loader, suffix, node))


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


class Resolver:
    """Resolves Ref / GetAtt / Sub / Join against known values; anything else is an error, not a guess."""

    def __init__(self, refs: dict[str, str], attrs: dict[tuple[str, str], str]):
        self.refs = refs
        self.attrs = attrs

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.refs[arg]
            if key == "Fn::GetAtt":
                return self.attrs[(arg[0], arg[1])]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1), extra), text)
            if key == "Fn::Join":
                return str(arg[0]).join(str(part) for part in self(arg[1]))
        return {k: self(v) for k, v in value.items()}

    def _sub_var(self, name: str, extra: dict) -> str:
        if name in extra:
            return str(extra[name])
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.attrs[(logical, attr)]
        return self.refs[name]


def offline_environment(template: dict, logical_id: str) -> dict[str, str]:
    """A function's variables (Globals merged) without a stack: parameter defaults, resources named by logical id.

    Enough to import an app module, which validates its settings at import (the OpenAPI build, import probes).
    """
    refs = {name: str(spec.get("Default", "")) for name, spec in (template.get("Parameters") or {}).items()}
    refs |= {name: name for name in template["Resources"]}
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    variables = {**((function_globals.get("Environment") or {}).get("Variables") or {}),
                 **((template["Resources"][logical_id]["Properties"].get("Environment") or {}).get("Variables") or {})}
    return {name: str(value) for name, value in Resolver(refs, {})(variables).items()}
