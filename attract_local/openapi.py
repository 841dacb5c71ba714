"""docs/openapi.json: one document merged from every function's resolver (`make openapi` rewrites it)."""

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator

from attract.settings import load_settings
from attract_local.cfn import ROOT, http_routes, load_template, offline_environment

OUTPUT = ROOT / "docs/openapi.json"
# The copy GET /docs serves (the web function's package holds only its own folder).
SERVED_COPY = ROOT / "functions/web/static/openapi.json"


def build() -> dict:
    """The document's routes and their security come from template.yaml's HttpApi events; the operations'
    shapes from each function's resolver (a test checks the two agree)."""
    template = load_template()
    routes = http_routes(template)
    public = sorted(route.key for route in routes if route.public)
    document: dict = {
        "openapi": "3.1.0",
        "info": {"title": "Attract API", "version": "0.1.0",
                 "description": "Tracked links, click tracking, joins and attribution reports. Public routes: "
                                + ", ".join(public) + ". Every other route needs a Cognito access token "
                                "(groups: marketers, recruiters, admins)."},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {
            "CognitoJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
    by_key = {route.key: route for route in routes}
    for name in sorted({route.function for route in routes}):
        with template_environment(name):  # the app validates its settings at import
            module = importlib.import_module(function_module(template, name))
        schema = json.loads(module.app.get_openapi_json_schema(title=name))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                route = by_key.get(f"{method.upper()} {path}")
                if route is None or route.function != name:
                    continue  # the template does not route it to this function: not part of the API
                operation["security"] = [] if route.public else [{"CognitoJwt": []}]
                if not route.public:  # who passes the function's group check (its GROUPS)
                    operation["x-groups"] = list(module.GROUPS)
                document["paths"].setdefault(path, {})[method] = operation
        document["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


@contextlib.contextmanager
def template_environment(logical_id: str) -> Iterator[None]:
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


def function_module(template: dict, logical_id: str) -> str:
    """The import name of a function's handler module: functions.joins.app, functions.invites.sender.app."""
    props = template["Resources"][logical_id]["Properties"]
    handler_module = props.get("Handler", "app.lambda_handler").rsplit(".", 1)[0]
    return ".".join([*props["CodeUri"].strip("/").split("/"), handler_module])


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/openapi.json and the copy /docs serves")
    args = parser.parse_args()
    text = render()
    if args.write:
        for output in (OUTPUT, SERVED_COPY):
            output.write_text(text)
            print(f"wrote {output.relative_to(ROOT)}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
