from attract_local.openapi import OUTPUT, build, render


def test_committed_openapi_document_is_current():
    assert OUTPUT.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


def test_document_covers_every_route_with_its_security():
    paths = build()["paths"]
    assert set(paths) == {"/joins", "/joins/confirm/{token}", "/links", "/links/{code}", "/r/{code}", "/reports/attribution", "/t.js", "/touches"}
    assert paths["/joins/confirm/{token}"]["get"]["security"] == paths["/joins/confirm/{token}"]["post"]["security"] == []
    assert paths["/joins"]["post"]["security"] == [] and paths["/t.js"]["get"]["security"] == []
    assert paths["/reports/attribution"]["get"]["security"] == [{"CognitoJwt": []}]
    assert paths["/r/{code}"]["get"]["security"] == []
    assert paths["/links"]["post"]["security"] == [{"CognitoJwt": []}]
    assert "422" in paths["/links"]["post"]["responses"]
