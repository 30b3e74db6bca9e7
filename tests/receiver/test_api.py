"""The receiver's API: staff only, every filter, cursor pages, masked secrets, offer writes, constant queries."""

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from postbacks_project.masking import mask_secret
from receiver.models import Click, Conversion, ConversionEvent, Network, Offer, ReceivedPostback

LISTS = ["networks", "offers", "clicks", "conversions", "received-postbacks"]
JAN, FEB = datetime(2025, 1, 10, 12, tzinfo=UTC), datetime(2025, 2, 10, 12, tzinfo=UTC)


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def world(db):
    """Two of everything: "a" in January on network A, "b" in February on network B; every filter tells them apart."""
    net_a = Network.objects.create(name="A", created_at=JAN)
    net_b = Network.objects.create(name="B", created_at=FEB, is_active=False)
    offer_a = Offer.objects.create(network=net_a, name="OA", url="https://a.example/?s={click_id}", created_at=JAN)
    offer_b = Offer.objects.create(
        network=net_b, name="OB", url="https://b.example/?s={click_id}", created_at=FEB, is_active=False
    )
    rows = {
        "networks": {"a": net_a, "b": net_b},
        "offers": {"a": offer_a, "b": offer_b},
        "clicks": {
            "a": Click.objects.create(offer=offer_a, click_id="click-a", partner_slug="pub", created_at=JAN),
            "b": Click.objects.create(offer=offer_b, click_id="click-b", created_at=FEB),
        },
        "conversions": {
            "a": Conversion.objects.create(
                network=net_a,
                offer=offer_a,
                click_id="click-a",
                dedupe_id="tx-a",
                transaction_id="tx-a",
                status="approved",
                created_at=JAN,
            ),
            "b": Conversion.objects.create(
                network=net_b,
                offer=offer_b,
                click_id="click-b",
                dedupe_id="tx-b",
                transaction_id="tx-b",
                status="pending",
                rate_state="missing_rate",
                is_test=True,
                created_at=FEB,
            ),
        },
        "received-postbacks": {
            "a": ReceivedPostback.objects.create(
                network=net_a, outcome="accepted", status="approved", click_id="click-a", received_at=JAN
            ),
            "b": ReceivedPostback.objects.create(
                network=net_b,
                outcome="rejected",
                reason="bad_signature",
                status="pending",
                click_id="click-b",
                received_at=FEB,
                http_status=401,
            ),
        },
    }
    ids_by_name = {"net_a": net_a.pk, "net_b": net_b.pk, "offer_a": offer_a.pk, "offer_b": offer_b.pk}
    return rows, ids_by_name


@pytest.mark.parametrize("resource", LISTS)
def test_anonymous_callers_get_401(client, db, resource):
    response = client.get(f"/api/v1/{resource}/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("resource", LISTS)
def test_users_who_are_not_staff_get_403(member_client, resource):
    assert member_client.get(f"/api/v1/{resource}/").status_code == 403


@pytest.mark.parametrize("resource", LISTS)
def test_staff_read_with_a_session(admin_client, world, resource):
    assert len(ids(admin_client.get(f"/api/v1/{resource}/"))) == 2


@pytest.mark.parametrize("resource", LISTS)
def test_staff_read_with_a_token(token_client, world, resource):
    assert len(ids(token_client.get(f"/api/v1/{resource}"))) == 2


@pytest.mark.parametrize(
    ("resource", "query", "expected"),
    [
        ("networks", "from=2025-02-01", ["b"]),
        ("networks", "to=2025-01-10", ["a"]),
        ("networks", "active=false", ["b"]),
        ("offers", "from=2025-02-10", ["b"]),
        ("offers", "to=2025-01-31", ["a"]),
        ("offers", "network={net_a}", ["a"]),
        ("offers", "active=true", ["a"]),
        ("clicks", "from=2025-01-11", ["b"]),
        ("clicks", "to=2025-01-10T12:00:00Z", ["a"]),
        ("clicks", "network={net_b}", ["b"]),
        ("clicks", "offer={offer_a}", ["a"]),
        ("clicks", "click_id=click-b", ["b"]),
        ("clicks", "partner_slug=pub", ["a"]),
        ("conversions", "from=2025-01-10T12:00:01Z", ["b"]),
        ("conversions", "to=2025-01-10T11:59:59Z", []),
        ("conversions", "from=2025-01-10&to=2025-01-10", ["a"]),
        ("conversions", "status=pending", ["b"]),
        ("conversions", "network={net_a}", ["a"]),
        ("conversions", "offer={offer_b}", ["b"]),
        ("conversions", "click_id=click-a", ["a"]),
        ("conversions", "transaction_id=tx-b", ["b"]),
        ("conversions", "rate_state=missing_rate", ["b"]),
        ("conversions", "test=false", ["a"]),
        ("conversions", "status=approved&network={net_b}", []),
        ("received-postbacks", "from=2025-02-01", ["b"]),
        ("received-postbacks", "to=2025-02-09", ["a"]),
        ("received-postbacks", "outcome=rejected", ["b"]),
        ("received-postbacks", "status=approved", ["a"]),
        ("received-postbacks", "reason=bad_signature", ["b"]),
        ("received-postbacks", "network={net_a}", ["a"]),
        ("received-postbacks", "click_id=click-b", ["b"]),
    ],
)
def test_each_filter_keeps_only_the_matching_rows(admin_client, world, resource, query, expected):
    rows, names = world

    response = admin_client.get(f"/api/v1/{resource}/?{query.format(**names)}")

    assert ids(response) == [rows[resource][name].pk for name in expected]


@pytest.mark.parametrize(
    ("resource", "query", "param", "says"),
    [
        ("conversions", "from=yesterday", "from", "not a date"),
        ("conversions", "to=2025-02-30", "to", "not a date"),
        ("conversions", "network=acme", "network", "numeric id"),
        ("conversions", "status=won", "status", "approved, pending, rejected, reversed"),
        ("networks", "active=maybe", "active", "true or false"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_parameter(admin_client, world, resource, query, param, says):
    response = admin_client.get(f"/api/v1/{resource}/?{query}")

    assert response.status_code == 400
    assert says in response.json()[param][0]


def test_pages_run_newest_first_and_follow_the_cursor(admin_client, db):
    made = [Network.objects.create(name=f"N{i}").pk for i in range(5)]

    first = admin_client.get("/api/v1/networks/?page_size=2").json()
    second = admin_client.get(first["next"]).json()
    third = admin_client.get(second["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"] + third["results"]] == made[::-1]
    assert first["previous"] is None
    assert third["next"] is None
    assert "count" not in first


def test_network_keys_and_hmac_secrets_never_appear_in_clear(admin_client, db):
    network = Network.objects.create(name="Signed", hmac_secret="hmac-secret-value-123456")

    listing = admin_client.get("/api/v1/networks/")
    detail = admin_client.get(f"/api/v1/networks/{network.pk}/")

    for response in (listing, detail):
        text = response.content.decode()
        assert network.key not in text
        assert network.hmac_secret not in text
    assert detail.json()["masked_key"] == mask_secret(network.key)
    assert detail.json()["masked_hmac_secret"] == "hmac…"


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "application/json", "multipart/form-data"]
)
def test_a_key_posted_in_the_body_is_masked_in_received_postbacks(client, admin_client, network, content_type):
    body = {"key": network.key, "click_id": "c1", "payout": "1.00"}
    if content_type == "application/x-www-form-urlencoded":
        client.post("/api/postback/", urlencode(body), content_type=content_type)
    elif content_type == "application/json":
        client.post("/api/postback/", body, content_type=content_type)
    else:
        client.post("/api/postback/", body)  # the test client's default: multipart

    response = admin_client.get("/api/v1/received-postbacks/")

    assert len(ids(response)) == 1
    assert network.key not in response.content.decode()
    assert "c1" in response.json()["results"][0]["body"]


def test_conversions_carry_their_events_oldest_first(admin_client, network):
    conversion = Conversion.objects.create(network=network, click_id="c", status="approved")
    first = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="pending")
    second = ConversionEvent.objects.create(
        conversion=conversion, kind="status_change", from_status="pending", to_status="approved"
    )

    row = admin_client.get(f"/api/v1/conversions/{conversion.pk}/").json()

    assert [event["id"] for event in row["events"]] == [first.pk, second.pk]
    assert row["events"][1]["from_status"] == "pending"


@pytest.mark.parametrize("resource", LISTS)
def test_lists_take_the_same_number_of_queries_for_many_rows(
    admin_client, network, resource, django_assert_max_num_queries
):
    for i in range(6):
        offer = Offer.objects.create(network=network, name=f"O{i}", url="https://x.example/?s={click_id}")
        Click.objects.create(offer=offer)
        conversion = Conversion.objects.create(network=network, offer=offer, click_id=f"c{i}", status="approved")
        ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
        ReceivedPostback.objects.create(network=network, outcome="accepted", conversion=conversion)
        Network.objects.create(name=f"N{i}")

    # Session and user, the page, and one query per prefetched relation.
    with django_assert_max_num_queries(4):
        assert len(ids(admin_client.get(f"/api/v1/{resource}/"))) >= 6


NEW_OFFER = {"name": "Weekly Survey", "url": "https://acme.example/go?s={click_id}", "payout": "1.25"}


def test_staff_create_an_offer_and_its_currency_is_upper_cased(admin_client, network):
    response = admin_client.post(
        "/api/v1/offers/", {**NEW_OFFER, "network": network.pk, "currency": "eur"}, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    offer = Offer.objects.get(pk=response.json()["id"])
    assert (offer.name, offer.payout, offer.currency) == ("Weekly Survey", Decimal("1.25"), "EUR")
    assert response.json()["currency"] == "EUR"
    assert response.json()["click_url"].endswith(f"/click/{offer.pk}/")


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [({"url": "https://acme.example/go"}, "url", "{click_id}"), ({"currency": "E1R"}, "currency", "three-letter")],
)
def test_an_offer_the_admin_would_refuse_is_a_400_on_that_field(admin_client, network, change, field, says):
    response = admin_client.post(
        "/api/v1/offers/", {**NEW_OFFER, "network": network.pk, **change}, content_type="application/json"
    )

    assert response.status_code == 400
    assert says in response.json()[field][0]
    assert not Offer.objects.exists()


def test_a_refused_update_leaves_the_offer_as_it_was(admin_client, offer):
    response = admin_client.patch(
        f"/api/v1/offers/{offer.pk}", {"url": "https://acme.example/no-macro"}, content_type="application/json"
    )

    assert response.status_code == 400
    offer.refresh_from_db()
    assert "{click_id}" in offer.url


def test_staff_deactivate_an_offer_but_cannot_delete_it(admin_client, offer):
    response = admin_client.patch(f"/api/v1/offers/{offer.pk}/", {"is_active": False}, content_type="application/json")

    assert response.status_code == 200
    offer.refresh_from_db()
    assert offer.is_active is False
    assert admin_client.delete(f"/api/v1/offers/{offer.pk}/").status_code == 405


def test_non_staff_cannot_create_offers(member_client, network):
    response = member_client.post(
        "/api/v1/offers/", {**NEW_OFFER, "network": network.pk}, content_type="application/json"
    )

    assert response.status_code == 403
    assert not Offer.objects.exists()
