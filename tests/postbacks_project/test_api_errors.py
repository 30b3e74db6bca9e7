"""The staff API's answers to bad input: a 400 naming the parameter (never a 500), JSON 404s, errors in the schema."""

import base64

import pytest


def cursor(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31", "to=9999-12-31T23:59:59-05:00", "from=0001-01-01T00:00:00%2B05:00"],
    ids=["day-after-the-last", "past-the-last-in-utc", "before-the-first-in-utc"],
)
def test_a_date_past_the_calendar_is_a_400_naming_the_filter(token_client, query):
    # Each was an OverflowError (500): the database compares in UTC, and `to` with a date adds a day.
    response = token_client.get(f"/api/v1/conversions/?{query}")

    assert response.status_code == 400
    assert "out of range" in response.json()[query.split("=")[0]][0]


def test_a_date_time_with_an_offset_postgresql_does_not_take_is_read_in_utc(token_client, network):
    # PostgreSQL refused +17:19 (500); Python's offsets go up to a day.
    response = token_client.get("/api/v1/networks/?from=2000-03-01T09:42:08%2B17:19")

    assert [row["id"] for row in response.json()["results"]] == [network.pk]


def test_a_nul_in_a_filter_is_a_400(token_client):
    # PostgreSQL refused it (500).
    response = token_client.get("/api/v1/received-postbacks/?click_id=a%00b")

    assert (response.status_code, response.json()) == (400, {"click_id": ["contains a NUL character"]})


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5"])
def test_a_page_size_that_is_not_a_positive_whole_number_is_a_400(token_client, page_size):
    response = token_client.get(f"/api/v1/networks/?page_size={page_size}")

    assert response.status_code == 400
    assert "page_size" in response.json()


def test_a_page_size_over_the_maximum_is_a_full_page(token_client, network):
    response = token_client.get(f"/api/v1/networks/?page_size={'9' * 5000}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("given", ["abc", cursor("p=abc"), cursor("o=x")], ids=["not-base64", "position", "offset"])
def test_a_cursor_the_api_did_not_give_out_is_a_400(token_client, given):
    # A position that was not an id reached the database as one (500); a garbled cursor was a 404.
    response = token_client.get("/api/v1/networks/", {"cursor": given})

    assert response.status_code == 400
    assert "cursor" in response.json()


@pytest.mark.parametrize("path", ["/api/v1/networks/abc/", "/api/admin/test-postback/not-a-uuid", "/api/nothing"])
def test_an_api_url_that_matches_no_route_is_a_json_404(token_client, path):
    response = token_client.get(path)

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_a_page_outside_the_api_keeps_the_html_404(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["content-type"].startswith("text/html")


def test_the_schema_documents_the_error_answers(client):
    schema = client.get("/api/schema/?format=json").json()

    detail = schema["paths"]["/api/v1/offers/{id}/"]
    assert {"400", "401", "403", "404"} <= set(detail["patch"]["responses"])
    assert {"401", "403", "404"} == set(detail["get"]["responses"]) - {"200"}
    listing = schema["paths"]["/api/v1/offers/"]["get"]
    assert {"400", "401", "403"} == set(listing["responses"]) - {"200"}
    assert all(parameter["allowEmptyValue"] for parameter in listing["parameters"])


def test_the_schema_does_not_call_an_offer_url_template_a_uri(client, db):
    # "https://n.example/go?s={click_id}" is no RFC 3986 URI: clients validating our answers rejected our offers.
    schema = client.get("/api/schema/?format=json").json()

    assert "format" not in schema["components"]["schemas"]["Offer"]["properties"]["url"]
