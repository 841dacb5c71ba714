"""docs/openapi.json: one document merged from every function's resolver (`make openapi` rewrites it)."""

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator

from attract.settings import load_settings
from attract_local.cfn import ROOT, load_template, offline_environment

OUTPUT = ROOT / "docs/openapi.json"


def build() -> dict:
    document: dict = {
        "openapi": "3.1.0",
        "info": {"title": "Attract API", "version": "0.1.0",
                 "description": "Tracked links, click tracking and touch imports. Routes other than /r/{code} "
                                "need a Cognito access token (groups: marketers, recruiters)."},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {
            "CognitoJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
    for name, resource in sorted(load_template()["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        with _template_environment(name):  # the app validates its settings at import
            module = importlib.import_module("functions." + resource["Properties"]["CodeUri"].strip("/").split("/")[-1] + ".app")
        schema = json.loads(module.app.get_openapi_json_schema(title=name))
        events = (resource["Properties"].get("Events") or {}).values()
        public = any((e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE" for e in events)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                operation["security"] = [] if public else [{"CognitoJwt": []}]
            document["paths"].setdefault(path, {}).update(operations)
        document["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


@contextlib.contextmanager
def _template_environment(logical_id: str) -> Iterator[None]:
    """The function's variables from template.yaml, for the duration of its import."""
    variables = offline_environment(load_template(), logical_id)
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        load_settings.cache_clear()  # read from placeholders: no later caller may see them
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/openapi.json")
    args = parser.parse_args()
    text = render()
    if args.write:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
