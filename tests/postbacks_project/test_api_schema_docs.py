"""The OpenAPI schema as Swagger's "Try it out" uses it: recent example dates, and the receiver's own endpoints."""

from datetime import date, timedelta

import pytest
import yaml


@pytest.fixture
def schema(admin_client):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def parameters(schema, name):
    return [
        parameter
        for operations in schema["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == name and parameter["in"] == "query"
    ]


def test_date_filters_offer_the_last_week_as_their_examples(schema):
    today = date.today()
    froms, tos = parameters(schema, "from"), parameters(schema, "to")

    assert froms
    assert tos
    assert {p["example"] for p in froms} == {(today - timedelta(days=7)).isoformat()}
    assert {p["schema"]["example"] for p in tos} == {today.isoformat()}


def test_the_receivers_postback_endpoints_are_in_the_schema_without_staff_errors(schema):
    for path, key_in in (("/postback/{key}/", "path"), ("/api/postback/", "query")):
        operations = schema["paths"][path]

        assert set(operations) == {"get", "post"}
        for operation in operations.values():
            names = {(p["name"], p["in"]) for p in operation["parameters"]}
            assert ("key", key_in) in names
            assert ("click_id", "query") in names
            assert operation["security"] == []
            assert "403" not in operation["responses"]
            ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ReceiverAnswer"
    assert "postbackId" in schema["components"]["schemas"]["ReceiverAnswer"]["properties"]
