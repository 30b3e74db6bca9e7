"""POST /api/offers/<id>/claim: who may claim, what is validated, and one conversion per click and goal."""

from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from receiver import ledger
from receiver.models import Conversion, NetworkClick, Outcome, ReceivedPostback, Source


@pytest.fixture
def claim_url(offer):
    return f"/api/offers/{offer.pk}/claim"


def last_row():
    return ReceivedPostback.objects.order_by("-id").first()


def test_a_claim_records_the_network_click_one_approved_conversion_and_points(app_server, claim_url, offer):
    answer = app_server.post(
        claim_url, {"click_id": "CLICK123", "user_id": "alice"}, content_type="application/json"
    ).json()

    conversion = Conversion.objects.get()
    assert (conversion.source, conversion.status, conversion.click_id, conversion.user_id) == (
        Source.CLAIM,
        "approved",
        "CLICK123",
        "alice",
    )
    assert (conversion.payout, conversion.conversion_type, conversion.offer) == (Decimal("2.50"), "install", offer)
    assert NetworkClick.objects.get().click_id == "CLICK123"
    assert conversion.known_click is None
    assert ledger.balance("alice") == 250
    assert answer["success"] is True
    assert answer["duplicate"] is False
    assert (answer["conversionId"], answer["points"], answer["payout"]) == (conversion.pk, 250, "2.500000")
    row = last_row()
    assert (row.source, row.outcome, row.http_status, row.conversion) == (Source.CLAIM, "accepted", 201, conversion)


def test_a_second_claim_of_the_same_click_and_goal_is_a_duplicate(app_server, claim_url):
    first = app_server.post(claim_url, {"clickid": "C1", "user_id": "alice", "goal": "signup"})
    again = app_server.post(claim_url, {"clickid": "C1", "user_id": "alice", "goal": "signup"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["conversionId"] == first.json()["conversionId"]
    assert Conversion.objects.count() == 1
    assert ledger.balance("alice") == 250
    assert last_row().outcome == Outcome.DUPLICATE


def test_a_claim_of_another_goal_on_the_same_click_is_a_new_conversion(app_server, claim_url):
    app_server.post(claim_url, {"click_id": "C1", "user_id": "alice", "goal": "install"})
    app_server.post(claim_url, {"click_id": "C1", "user_id": "alice", "goal": "purchase", "payout": "10"})

    assert sorted(Conversion.objects.values_list("goal", "payout")) == [
        ("install", Decimal("2.5")),
        ("purchase", Decimal("10")),
    ]
    assert NetworkClick.objects.count() == 1


def test_the_offer_goal_applies_when_the_claim_names_none(app_server, claim_url, offer):
    offer.goal = "first_deposit"
    offer.save()

    app_server.post(claim_url, {"click_id": "C1", "user_id": "alice", "conversion_type": "sale"})

    assert Conversion.objects.values_list("goal", "conversion_type").get() == ("first_deposit", "sale")


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, "missing_token"),
        ({"authorization": "Token not-a-real-token"}, 401, "bad_token"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, 401, "missing_token"),
    ],
)
def test_a_claim_without_a_valid_token_is_refused_and_stored(claim_url, headers, status, reason):
    response = Client(headers=headers).post(claim_url, {"click_id": "C1", "user_id": "alice"})

    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert (last_row().outcome, last_row().reason, last_row().source) == ("rejected", reason, Source.CLAIM)
    assert not Conversion.objects.exists()


def test_a_token_without_the_claim_permission_is_forbidden(claim_url, django_user_model):
    user = django_user_model.objects.create_user("reader")
    client = Client(headers={"authorization": f"Token {Token.objects.create(user=user).key}"})

    response = client.post(claim_url, {"click_id": "C1", "user_id": "alice"})

    assert (response.status_code, response.json()["reason"]) == (403, "forbidden")
    assert "receiver.claim_offer" in response.json()["message"]


def test_the_token_is_masked_in_the_stored_request(app_server, claim_url):
    app_server.post(claim_url, {"click_id": "C1", "user_id": "alice"})

    stored = last_row().headers["authorization"]
    assert stored.startswith("Toke")
    assert len(stored) < 10


def test_an_unknown_offer_is_404_and_stored(app_server, offer):
    response = app_server.post(f"/api/offers/{offer.pk + 99}/claim", {"click_id": "C1", "user_id": "alice"})

    assert (response.status_code, response.json()["reason"]) == (404, "unknown_offer")
    assert last_row().reason == "unknown_offer"


def test_a_missing_click_id_is_400_with_a_clear_message(app_server, claim_url):
    response = app_server.post(claim_url, {"user_id": "alice"})

    assert response.status_code == 400
    assert response.json()["reason"] == "missing_click_id"
    assert "click_id is required (also accepted as clickid)" in response.json()["message"]
    assert (last_row().http_status, last_row().params) == (400, {"user_id": "alice"})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"click_id": "C1"}, "missing_user_id"),
        ({"click_id": "C1", "user_id": "alice", "payout": "lots"}, "invalid_payout"),
        ({"click_id": "C1", "user_id": "alice", "goal": "g" * 101}, "invalid_input"),
    ],
)
def test_invalid_claims_are_400_and_stored(app_server, claim_url, data, reason):
    response = app_server.post(claim_url, data)

    assert (response.status_code, response.json()["reason"]) == (400, reason)
    assert last_row().reason == reason
    assert not Conversion.objects.exists()


def test_invalid_json_is_400(app_server, claim_url):
    response = app_server.post(claim_url, "{nope", content_type="application/json")

    assert (response.status_code, response.json()["reason"]) == (400, "invalid_json")


def test_a_get_is_405(app_server, claim_url):
    assert app_server.get(claim_url).status_code == 405
    assert last_row().reason == "method_not_allowed"


def test_an_inactive_offer_cannot_be_claimed(app_server, claim_url, offer):
    offer.is_active = False
    offer.save()

    response = app_server.post(claim_url, {"click_id": "C1", "user_id": "alice"})

    assert (response.status_code, response.json()["reason"]) == (404, "inactive_offer")


def test_claims_are_rate_limited_per_user(app_server, claim_url, settings):
    settings.CLAIM_RATE_LIMIT = "2/m"

    codes = [app_server.post(claim_url, {"click_id": f"C{i}", "user_id": "alice"}).status_code for i in range(3)]
    other = app_server.post(claim_url, {"click_id": "C9", "user_id": "bob"}).status_code

    assert (codes, other) == ([201, 201, 429], 201)
    assert ReceivedPostback.objects.filter(reason="rate_limited").count() == 1
