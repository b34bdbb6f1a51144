"""The OpenAPI document: complete, with an example for every request body, errors as problems."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient


def _document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def _bodies(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body and "application/json" in body["content"]:
                found.append((method, path, body["content"]["application/json"]["schema"]))
    return found


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[-1]
    return dict(document["components"]["schemas"][name])


def test_every_request_body_has_a_valid_example(api_client: TestClient) -> None:
    document = _document(api_client)
    bodies = _bodies(document)
    assert len(bodies) > 30
    for method, path, schema in bodies:
        examples = _resolved(document, schema).get("examples")
        assert examples, f"{method} {path} has no example"
        validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
        for example in examples:
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (method, path, errors)


def test_every_operation_documents_its_errors_as_problems(api_client: TestClient) -> None:
    document = _document(api_client)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "422"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_operation_has_a_summary_or_description(api_client: TestClient) -> None:
    document = _document(api_client)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") or operation.get("description"), (method, path)
