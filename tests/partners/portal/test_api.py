"""The partner API: a partner token (shown once, hashed at rest) reads its own partner's settings, deliveries and
stats at /api/partner/v1/; another partner's ids are 404; nothing else opens it."""

from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from partners.portal.models import PartnerToken, token_hash

API = "/api/partner/v1/"


@pytest.fixture
def issued(partner, partner_user):
    return PartnerToken.issue(partner, "reports", partner_user)


@pytest.fixture
def api(issued):
    return Client(headers={"authorization": f"Bearer {issued[1]}"})


def test_a_token_is_stored_only_as_its_hash(issued):
    token, key = issued

    token.refresh_from_db()
    assert token.key_hash == token_hash(key)
    assert key not in {str(value) for value in vars(token).values()}
    assert key.startswith("pt_")
    assert token.hint == key[:8]


def test_it_reads_its_partners_settings_without_secrets(api, partner):
    partner.signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    partner.save()

    response = api.get(API + "partner")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["postback_url"]) == (partner.pk, partner.postback_url)
    assert body["terms"]["share"] == "100% of the network's payout, in its currency"
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in response.content.decode()


def test_it_lists_its_deliveries_with_the_lists_filters(api, partner, other_partner, make_delivery):
    mine = make_delivery(partner, "c-1", transaction_id="t-1", state="failed")
    make_delivery(partner, "c-2", state="succeeded")
    make_delivery(other_partner, "theirs", state="failed")

    response = api.get(API + "deliveries/", {"state": "failed"})

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert (row["id"], row["click_id"], row["transaction_id"]) == (mine.pk, "c-1", "t-1")
    assert "house_amount" not in row
    assert [r["click_id"] for r in api.get(API + "deliveries/", {"click_id": "c-2"}).json()["results"]] == ["c-2"]


def test_a_delivery_has_its_attempts_and_status_history(api, partner, attempted):
    response = api.get(f"{API}deliveries/{attempted.pk}/")

    assert response.status_code == 200
    body = response.json()
    (attempt,) = body["attempt_log"]
    assert attempt["url"] == "https://pub.example/pb?click=clk-9"
    assert attempt["request_headers"]["x-api-key"] == "abcd…"
    assert (attempt["response_status"], attempt["response_body"], attempt["duration_ms"]) == (500, "oops", 42)
    assert not {"id", "task_id", "error_detail"} & attempt.keys(), "our internals stay out of the partner's view"
    assert body["status_history"][0]["to_status"] == "approved"


def test_another_partners_delivery_is_404(api, other_partner, make_delivery):
    theirs = make_delivery(other_partner, "theirs")

    assert api.get(f"{API}deliveries/{theirs.pk}/").status_code == 404
    assert api.get(f"{API}deliveries/999999/").status_code == 404


def test_its_stats_are_its_own(api, partner, other_partner, make_delivery):
    make_delivery(partner, "a", state="succeeded", effect="credit", amount=Decimal("2"), amount_currency="USD")
    make_delivery(other_partner, "b", state="succeeded", effect="credit", amount=Decimal("50"), amount_currency="USD")

    response = api.get(API + "stats")

    assert response.status_code == 200
    today = response.json()["days"][0]
    assert today["payouts"] == {"USD": "2.000000"}
    assert today["success_rate"] == "100.0"


def test_a_bad_period_is_a_400(api):
    assert api.get(API + "stats", {"date_from": "not a date"}).status_code == 400


@pytest.mark.parametrize("path", ["partner", "stats", "deliveries/"])
def test_no_token_a_wrong_one_or_a_revoked_one_is_401(path, issued, client):
    token, key = issued
    assert client.get(API + path).status_code == 401
    assert Client(headers={"authorization": "Bearer pt_wrong"}).get(API + path).status_code == 401
    token.revoked_at = token.created_at
    token.save()
    assert Client(headers={"authorization": f"Bearer {key}"}).get(API + path).status_code == 401


def test_staff_sessions_and_staff_tokens_do_not_open_it(admin_client, admin_user):
    assert admin_client.get(API + "partner").status_code in (401, 403)
    staff = Token.objects.create(user=admin_user)
    assert Client(headers={"authorization": f"Token {staff.key}"}).get(API + "partner").status_code in (401, 403)


def test_a_partner_users_session_does_not_open_it(portal_client):
    assert portal_client.get(API + "partner").status_code == 401


def test_a_token_opens_none_of_the_staff_api(api):
    assert api.get("/api/v1/deliveries/").status_code in (401, 403)
    assert api.get("/api/v1/partners/").status_code in (401, 403)


def test_the_partner_api_is_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    for path in ("partner", "stats", "deliveries/", "deliveries/{id}/"):
        assert API + path in schema["paths"]
    assert schema["components"]["securitySchemes"]["partnerToken"]["scheme"] == "bearer"


def test_the_portal_makes_a_token_shown_once_and_revokes_it(portal_client, partner):
    path = f"/portal/partners/{partner.pk}/tokens/"

    page = portal_client.post(path, {"name": "script"}).content.decode()

    token = PartnerToken.objects.get(partner=partner)
    key = page.split('<pre id="new-token" class="mono">', 1)[1].split("<", 1)[0]
    assert token.key_hash == token_hash(key)
    assert key not in portal_client.get(path).content.decode()
    assert Client(headers={"authorization": f"Bearer {key}"}).get(API + "partner").status_code == 200
    portal_client.post(f"{path}{token.pk}/revoke/")
    assert Client(headers={"authorization": f"Bearer {key}"}).get(API + "partner").status_code == 401


def test_another_partners_tokens_are_404(portal_client, partner, other_partner):
    theirs, _key = PartnerToken.issue(other_partner, "theirs")

    assert portal_client.get(f"/portal/partners/{other_partner.pk}/tokens/").status_code == 404
    assert portal_client.post(f"/portal/partners/{other_partner.pk}/tokens/", {"name": "x"}).status_code == 404
    for owner in (other_partner, partner):
        assert portal_client.post(f"/portal/partners/{owner.pk}/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
