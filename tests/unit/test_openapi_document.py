from attract_local.cfn import http_routes, load_template
from attract_local.openapi import OUTPUT, build, render


def test_committed_openapi_document_is_current():
    assert OUTPUT.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_document_covers_the_template_routes_with_their_security():
    # The route list is template.yaml's; tests/integration/test_routes_source_of_truth.py ties it to the resolvers.
    routes = http_routes(load_template())
    paths = build()["paths"]
    documented = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    assert documented == {route.key for route in routes}
    for route in routes:
        security = paths[route.path][route.method.lower()]["security"]
        assert security == ([] if route.public else [{"CognitoJwt": []}]), route.key
    assert "422" in paths["/links"]["post"]["responses"]


def test_public_routes_are_the_ones_without_an_authorizer():
    template = load_template()
    template["Resources"]["LinksFunction"]["Properties"]["Events"]["ReadLink"]["Properties"]["Auth"] = {
        "Authorizer": "NONE"}
    assert "GET /links/{code}" in {route.key for route in http_routes(template) if route.public}
    assert "GET /links/{code}" not in {route.key for route in http_routes(load_template()) if route.public}
