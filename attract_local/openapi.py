"""docs/openapi.json: one document merged from every function's resolver (`make openapi` rewrites it)."""

import argparse
import importlib
import json
import sys

from attract_local.cfn import ROOT, load_template

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
