"""The partners' API, the status summary, the docs page and the schema: staff only, filters, secrets, writes, resend."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from partners.models import Delivery, DeliveryAttempt, Partner
from partners.signing import generate_secret
from postbacks_project.masking import mask_secret
from receiver.models import Conversion, ConversionEvent, Network, ReceivedPostback

URL = "https://p.example/pb"
MONEY = ("effect", "amount", "amount_currency", "house_amount", "gross", "previous_amount", "points")
JAN, FEB = datetime(2025, 1, 10, 12, tzinfo=UTC), datetime(2025, 2, 10, 12, tzinfo=UTC)


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def make_partner(name, **fields):
    return Partner.objects.create(name=name, slug=name.lower(), postback_url=URL + "?c={click_id}", **fields)


def make_delivery(partner, network, click_id="c1", transaction_id="", **fields):
    conversion = Conversion.objects.create(
        network=network, click_id=click_id, dedupe_id=transaction_id, transaction_id=transaction_id, status="approved"
    )
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
    return Delivery.objects.create(event=event, destination=partner, **fields)


@pytest.fixture
def partner(db):
    return make_partner("Pub")


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/deliveries/", "/api/status/"])
def test_anonymous_callers_get_401(client, db, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/deliveries/", "/api/status/"])
def test_users_who_are_not_staff_get_403(member_client, path):
    assert member_client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/deliveries/", "/api/status/"])
def test_staff_read_with_a_session_or_a_token(admin_client, token_client, path):
    assert admin_client.get(path).status_code == 200
    assert token_client.get(path).status_code == 200


def test_signing_secrets_and_secret_headers_never_appear_in_clear(admin_client, db):
    secret = generate_secret()
    partner = make_partner("Signed", signing_secret=secret, headers={"X-Token": "partner-token-123", "X-Site": "a"})

    listing = admin_client.get("/api/v1/partners/")
    detail = admin_client.get(f"/api/v1/partners/{partner.pk}")

    for response in (listing, detail):
        text = response.content.decode()
        assert secret not in text
        assert "partner-token-123" not in text
    assert detail.json()["masked_signing_secret"] == mask_secret(secret)
    assert detail.json()["headers"] == {"X-Token": "part…", "X-Site": "a"}


NEW_PARTNER = {"name": "New Pub", "postback_url": URL + "?click={click_id}&amount={payout}"}


def test_staff_create_a_partner_with_a_secret_that_is_stored_not_shown(admin_client, db):
    secret = generate_secret()

    response = admin_client.post(
        "/api/v1/partners/", {**NEW_PARTNER, "signing_secret": secret}, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert Partner.objects.get(pk=response.json()["id"]).signing_secret == secret
    assert secret not in response.content.decode()
    assert response.json()["sending_state"] == "sending"


def test_an_unknown_macro_is_a_400_naming_the_field_and_the_known_macros(admin_client, db):
    response = admin_client.post(
        "/api/v1/partners/", {**NEW_PARTNER, "postback_url": URL + "?c={clik_id}"}, content_type="application/json"
    )

    assert response.status_code == 400
    message = response.json()["postback_url"][0]
    assert "unknown macro {clik_id}" in message
    assert "known macros: {click_id}" in message
    assert not Partner.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"signing_secret": "not-a-secret"}, "signing_secret", "whsec_"),
        ({"scope": "own_clicks"}, "slug", "needs a slug"),
        ({"share_value": "150"}, "share_value", "between 0 and 100"),
        ({"body_template": "a={click_id}"}, "body_template", "needs the POST method"),
    ],
)
def test_a_partner_the_admin_would_refuse_is_a_400_on_that_field(admin_client, db, change, field, says):
    response = admin_client.post("/api/v1/partners/", {**NEW_PARTNER, **change}, content_type="application/json")

    assert response.status_code == 400
    assert says in response.json()[field][0]


def test_an_update_without_a_secret_keeps_it_and_an_empty_one_clears_it(admin_client, db):
    secret = generate_secret()
    partner = make_partner("Signed", signing_secret=secret)

    kept = admin_client.patch(f"/api/v1/partners/{partner.pk}/", {"is_active": False}, content_type="application/json")
    partner.refresh_from_db()
    assert (kept.status_code, partner.is_active, partner.signing_secret) == (200, False, secret)

    cleared = admin_client.patch(
        f"/api/v1/partners/{partner.pk}/", {"signing_secret": ""}, content_type="application/json"
    )
    partner.refresh_from_db()
    assert (cleared.status_code, partner.signing_secret) == (200, "")


def test_partners_are_not_deleted_through_the_api(admin_client, partner):
    assert admin_client.delete(f"/api/v1/partners/{partner.pk}/").status_code == 405


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=2025-02-01", ["off"]),
        ("to=2025-01-10", ["on", "gone"]),
        ("state=sending", ["on"]),
        ("state=inactive", ["off"]),
        ("state=auto-disabled", ["gone"]),
    ],
)
def test_each_partner_filter_keeps_only_the_matching_rows(admin_client, db, query, expected):
    made = {
        "on": make_partner("On", created_at=JAN),
        "gone": make_partner("Gone", created_at=JAN, disabled_at=JAN, disabled_reason="410"),
        "off": make_partner("Off", created_at=FEB, is_active=False),
    }

    response = admin_client.get(f"/api/v1/partners/?{query}")

    assert sorted(ids(response)) == sorted(made[name].pk for name in expected)


@pytest.fixture
def two_deliveries(db):
    """ "a": January, failed, partner A, network A; "b": February, succeeded, partner B, network B."""
    net_a, net_b = Network.objects.create(name="A"), Network.objects.create(name="B")
    pub_a, pub_b = make_partner("PA"), make_partner("PB")
    a = make_delivery(pub_a, net_a, "click-a", "tx-a", state="failed", created_at=JAN)
    b = make_delivery(pub_b, net_b, "click-b", "tx-b", state="succeeded", created_at=FEB)
    names = {"pub_a": pub_a.pk, "net_b": net_b.pk, "conv_a": a.event.conversion_id, "event_b": b.event_id}
    return {"a": a, "b": b}, names


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=2025-02-10T12:00:00Z", ["b"]),
        ("to=2025-02-09", ["a"]),
        ("state=failed", ["a"]),
        ("partner={pub_a}", ["a"]),
        ("network={net_b}", ["b"]),
        ("conversion={conv_a}", ["a"]),
        ("event={event_b}", ["b"]),
        ("click_id=click-a", ["a"]),
        ("transaction_id=tx-b", ["b"]),
        ("state=succeeded&partner={pub_a}", []),
    ],
)
def test_each_delivery_filter_keeps_only_the_matching_rows(admin_client, two_deliveries, query, expected):
    rows, names = two_deliveries

    response = admin_client.get(f"/api/v1/deliveries/?{query.format(**names)}")

    assert ids(response) == [rows[name].pk for name in expected]


def test_a_bad_state_is_a_400(admin_client, db):
    response = admin_client.get("/api/v1/deliveries/?state=lost")

    assert response.status_code == 400
    assert "lost" in response.json()["state"][0]


def test_deliveries_come_with_their_attempts_in_order(admin_client, partner, network):
    delivery = make_delivery(partner, network, state="retrying", attempts=2)
    for number in (1, 2):
        DeliveryAttempt.objects.create(delivery=delivery, number=number, url=URL, method="GET", response_status=500)

    row = admin_client.get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert [attempt["number"] for attempt in row["attempt_log"]] == [1, 2]
    assert (row["conversion"], row["partner_name"], row["attempts"]) == (delivery.event.conversion_id, "Pub", 2)


def test_a_delivery_shows_its_effect_and_amounts_as_strings(admin_client, partner, network):
    delivery = make_delivery(
        partner,
        network,
        state="succeeded",
        effect="debit",
        amount=Decimal("1.40"),
        amount_currency="EUR",
        house_amount=Decimal("1.54"),
        gross=Decimal("2.00"),
        previous_amount=Decimal("1.40"),
        points=140,
    )

    row = admin_client.get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert {name: row[name] for name in MONEY} == {
        "effect": "debit",
        "amount": "1.400000",
        "amount_currency": "EUR",
        "house_amount": "1.540000",
        "gross": "2.000000",
        "previous_amount": "1.400000",
        "points": 140,
    }


def test_a_delivery_waiting_for_a_rate_shows_no_amounts(admin_client, partner, network):
    delivery = make_delivery(partner, network, state="waiting_rate", gross=Decimal("2.00"), previous_amount=0)

    row = admin_client.get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert (row["state"], row["effect"], row["amount"], row["house_amount"]) == ("waiting_rate", "none", None, None)


def test_the_schema_documents_a_deliverys_amounts_as_read_only(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)

    fields = schema["components"]["schemas"]["Delivery"]["properties"]
    for name in MONEY:
        assert fields[name].get("readOnly"), name
        assert fields[name].get("description"), name
    assert (fields["amount"]["type"], fields["amount"]["format"], fields["amount"]["nullable"]) == (
        "string",
        "decimal",
        True,
    )


def test_delivery_pages_follow_the_cursor(admin_client, partner, network):
    made = [make_delivery(partner, network, click_id=f"c{i}", transaction_id=f"t{i}").pk for i in range(3)]

    first = admin_client.get("/api/v1/deliveries/?page_size=2").json()
    second = admin_client.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == made[::-1]
    assert second["next"] is None


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/deliveries/"])
def test_lists_take_the_same_number_of_queries_for_many_rows(
    admin_client, network, path, django_assert_max_num_queries
):
    for i in range(6):
        partner = make_partner(f"P{i}")
        partner.networks.add(network)
        delivery = make_delivery(partner, network, click_id=f"c{i}", transaction_id=f"t{i}")
        DeliveryAttempt.objects.create(delivery=delivery, number=1, url=URL, method="GET")

    # Session and user, the page, and one query per prefetched relation.
    with django_assert_max_num_queries(5):
        assert len(ids(admin_client.get(path))) == 6


@responses.activate
def test_resend_queues_a_failed_delivery_and_it_is_sent(
    admin_client, partner, network, django_capture_on_commit_callbacks
):
    responses.get(URL, body="ok")
    delivery = make_delivery(partner, network, state="failed", attempts=8)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/v1/deliveries/{delivery.pk}/resend")

    assert response.status_code == 202
    assert response.json() == {"delivery": delivery.pk, "queued": True, "state": "pending", "detail": "queued"}
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("succeeded", 9)
    assert responses.calls[0].request.url == URL + "?c=c1"


@pytest.mark.parametrize(("state", "why"), [("succeeded", "already succeeded"), ("skipped", "skipped")])
def test_resend_refuses_with_409_and_says_why(admin_client, partner, network, state, why):
    delivery = make_delivery(partner, network, state=state)

    response = admin_client.post(f"/api/v1/deliveries/{delivery.pk}/resend/")

    assert response.status_code == 409
    assert response.json()["queued"] is False
    assert why in response.json()["detail"]
    delivery.refresh_from_db()
    assert delivery.state == state


def test_resend_is_for_staff_only(member_client, partner, network):
    delivery = make_delivery(partner, network, state="failed")

    assert Client().post(f"/api/v1/deliveries/{delivery.pk}/resend").status_code == 401
    assert member_client.post(f"/api/v1/deliveries/{delivery.pk}/resend").status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == "failed"


def test_status_counts_deliveries_waiting_for_a_rate_in_the_queue(admin_client, partner, network):
    make_delivery(partner, network, "c1", state="waiting_rate")
    make_delivery(partner, network, "c2", state="pending")

    queue = admin_client.get("/api/status/").json()["queue"]

    assert (queue["total"], queue["waiting_rate"], queue["pending"], queue["due_now"]) == (2, 1, 1, 1)


def test_status_counts_the_last_hour_the_queue_and_the_failing_partners(admin_client, network):
    now = timezone.now()
    old = now - timedelta(hours=2)
    for outcome in ("accepted", "accepted", "duplicate", "rejected"):
        ReceivedPostback.objects.create(network=network, outcome=outcome)
    ReceivedPostback.objects.create(network=network, outcome="accepted", received_at=old)
    fine = make_partner("Fine")
    failing = make_partner("Failing", failing_since=now - timedelta(minutes=5))
    gone = make_partner("Gone", disabled_at=old, disabled_reason="answered 410 Gone")
    make_delivery(fine, network, "c1", state="succeeded")
    make_delivery(failing, network, "c2", state="retrying", next_attempt_at=now + timedelta(hours=1), last_error="500")
    make_delivery(failing, network, "c3", state="failed", last_error="HTTP 503")
    make_delivery(fine, network, "c4", state="pending")
    make_delivery(fine, network, "c5", state="sending")
    make_delivery(fine, network, "c6", state="pending", created_at=old, next_attempt_at=old)
    # make_delivery adds one approved conversion each; one more pending, one test and one old conversion.
    Conversion.objects.create(network=network, click_id="p", status="pending")
    Conversion.objects.create(network=network, click_id="t", status="approved", is_test=True)
    Conversion.objects.create(network=network, click_id="o", status="approved", created_at=old)

    body = admin_client.get("/api/status/").json()

    last_hour = body["last_hour"]
    assert last_hour["postbacks"] == {
        "total": 4,
        "accepted": 2,
        "duplicate": 1,
        "status_change": 0,
        "adjustment": 0,
        "rejected": 1,
    }
    assert last_hour["conversions"] == {"total": 7, "approved": 6, "pending": 1, "rejected": 0, "reversed": 0}
    assert last_hour["deliveries"] == {
        "total": 5,
        "waiting_rate": 0,
        "pending": 1,
        "sending": 1,
        "retrying": 1,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "skipped": 0,
        "parked": 0,
    }
    queue = body["queue"]
    assert {k: queue[k] for k in ("total", "pending", "retrying", "sending", "due_now")} == {
        "total": 4,
        "pending": 2,
        "retrying": 1,
        "sending": 1,
        "due_now": 2,
    }
    assert queue["oldest_due_at"].startswith(old.strftime("%Y-%m-%dT%H:%M"))
    failing_rows = [
        (p["name"], p["sending_state"], p["disabled_reason"], p["last_error"]) for p in body["failing_partners"]
    ]
    assert failing_rows == [("Failing", "sending", "", "HTTP 503"), ("Gone", "auto-disabled", "answered 410 Gone", "")]
    assert gone.pk == body["failing_partners"][1]["id"]
    assert body["breakdown"]["by_network"] == [
        {
            "name": network.name,
            "clicks": 0,
            "converted_clicks": 0,
            "conversions": 7,
            "by_type": {"(none)": 7},
            "approved": 6,
            "payout": "0.000000",
            "conversion_rate": None,
        }
    ]


def test_the_docs_page_loads_swagger_ui_from_our_static_files_not_a_cdn(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_schema_generates_without_warnings_and_validates(db):
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}
    validate_schema(schema)
    for path in ("/api/v1/partners/", "/api/v1/deliveries/{id}/resend/", "/api/v1/conversions/", "/api/status/"):
        assert path in schema["paths"]
