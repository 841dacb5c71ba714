"""template.yaml's HttpApi events and each function's Powertools resolver declare the same routes.

A route only in the template reaches a resolver that answers 404; a route only in the resolver is dead
code that no deployed API ever calls (and the local gateway would not either).
"""

import importlib
import re

import pytest

from attract_local.cfn import http_routes, load_template
from attract_local.openapi import function_module, template_environment

TEMPLATE = load_template()
FUNCTIONS = sorted({route.function for route in http_routes(TEMPLATE)})


def resolver_routes(app) -> set[str]:
    """Every route the resolver registered, as template route keys (`<code>` becomes `{code}`)."""
    routes = [*app._static_routes, *app._dynamic_routes]  # Powertools keeps no public list of its routes
    return {route.method + " " + re.sub(r"<([^>]+)>", r"{\1}", route.path) for route in routes}


def _app(function: str):
    with template_environment(function):  # the module validates its settings at import
        return importlib.import_module(function_module(TEMPLATE, function)).app


@pytest.mark.parametrize("function", FUNCTIONS)
def test_template_events_equal_the_resolver_routes(function):
    app = _app(function)
    declared = {route.key for route in http_routes(TEMPLATE) if route.function == function}
    assert resolver_routes(app) == declared


def test_a_route_missing_from_the_template_is_caught():
    # Guard against a comparison that cannot fail: drop one event and the sets must differ.
    app = _app("LinksFunction")
    template = load_template()
    del template["Resources"]["LinksFunction"]["Properties"]["Events"]["ReadLink"]
    declared = {route.key for route in http_routes(template) if route.function == "LinksFunction"}
    assert resolver_routes(app) - declared == {"GET /links/{code}"}
