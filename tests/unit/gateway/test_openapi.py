"""/openapi.json is the whole contract and only it: every Flask rule is a path+method of
the spec and every operation of the spec is a Flask rule; bodies are the validators'."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.openapi import build_spec
from gateway.openapi.components import ERROR_CODES, REQUEST_MODELS
from gateway.openapi.texts import TEXTS

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
            # a success, or the redirect of a browser's sign-in (/auth/oidc/...)
            assert any(s[0] in "23" for s in statuses), (method, path)
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


def test_every_operation_has_an_operation_id_and_a_description():
    spec = build_spec()
    ids = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert re.fullmatch(r"[a-z][A-Za-z]+", operation.get("operationId", "")), \
                (method, path, "no operationId: add it to gateway/openapi/texts.py")
            assert len(operation.get("description", "")) >= 30, (method, path)
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), "an operationId is used twice"


def test_the_texts_name_only_operations_that_exist():
    operations = {f"{method} {path}" for method, path in spec_operations(build_spec())}
    assert set(TEXTS) - operations == set()


def test_every_example_is_valid_against_its_schema():
    spec = build_spec()
    registry = Registry().with_resource("urn:spec", Resource.from_contents(
        spec, default_specification=DRAFT202012))
    checked = 0

    def check(schema: dict, example, where):
        nonlocal checked
        validator = Draft202012Validator(_inline(spec, schema), registry=registry)
        errors = [e.message for e in validator.iter_errors(example)]
        assert errors == [], (where, errors)
        checked += 1

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and "example" in body:
                check(body["schema"], body["example"], (method, path, "request"))
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/json", {})
                if "example" in content:
                    check(content["schema"], content["example"], (method, path, status))
    for name, answer in spec["components"]["responses"].items():
        content = answer["content"]["application/json"]
        for label, example in content.get("examples", {}).items():
            check(content["schema"], example["value"], (name, label))
    assert checked >= 15


def _inline(spec: dict, schema: dict) -> dict:
    """`schema` with its #/components refs pointing into the whole document."""
    return {"$ref": "urn:spec" + schema["$ref"]} if "$ref" in schema else schema


def test_the_live_stream_documents_its_events():
    spec = build_spec()
    stream = spec["paths"]["/events/stream"]["get"]
    text = stream["description"]
    for needed in ("order.status", "notification", "heartbeat", "Last-Event-ID"):
        assert needed in text, needed
    example = stream["responses"]["200"]["content"]["text/event-stream"]["example"]
    assert "event: order.status" in example and "event: notification" in example
    schemas = spec["components"]["schemas"]
    assert set(schemas["OrderStatusEvent"]["properties"]) == {"order_id", "status", "reason"}
    assert set(schemas["NotificationEvent"]["properties"]) == {"id", "kind", "subject"}
