"""/openapi.json is the whole contract and only it: every Flask rule is a path+method of
the spec and every operation of the spec is a Flask rule; bodies are the validators'."""

from __future__ import annotations

import re

import pytest

from gateway.openapi import build_spec
from gateway.openapi.components import ERROR_CODES, REQUEST_MODELS

METHODS = {"get", "post", "put", "patch", "delete"}
NOT_API = {"static"}  # the storefront's files


def flask_operations(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def spec_operations(spec) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items()
            for method in item if method in METHODS}


def test_the_spec_and_the_app_have_the_same_operations(app):
    served, documented = flask_operations(app), spec_operations(build_spec())
    assert served - documented == set(), "served but not in gateway/openapi"
    assert documented - served == set(), "in gateway/openapi but not served"


def test_it_is_served_as_json_to_anyone(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec == build_spec()


def test_every_path_parameter_is_declared():
    for path, item in build_spec()["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_every_operation_documents_its_errors_in_the_error_schema():
    spec = build_spec()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (method, path)
            assert "default" not in statuses  # every status is named, none is a catch-all
            if operation["security"]:
                assert "401" in statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= statuses, (method, path)
    for response in spec["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["properties"]["code"]["enum"] == ERROR_CODES


def test_security_schemes_are_bearer_and_client_credentials():
    schemes = build_spec()["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http",
                                     "scheme": "bearer"}
    flow = schemes["clientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/auth/token"


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_request_bodies_are_the_validation_models(model):
    schema = build_spec()["components"]["schemas"][model.__name__]
    assert schema["additionalProperties"] is False  # unknown fields are refused
    assert set(schema["properties"]) == set(model.model_fields)


def test_every_reference_resolves():
    spec = build_spec()
    text = repr(spec)
    for kind, name in re.findall(r"#/components/(\w+)/([\w-]+)", text):
        assert name in spec["components"][kind], (kind, name)
