"""The test-postback API: staff only, validates every row, answers with the batch and its log."""

import uuid

import pytest
from rest_framework.authtoken.models import Token

from testing_tools.models import TestPostback
from tests.support.permissions import staff_with

SEND = "/api/admin/test-postback/send"


def send(client, rows, **extra):
    return client.post(SEND, {"rows": rows}, content_type="application/json", **extra)


def test_staff_schedule_a_batch_and_get_its_rows(admin_client, partner, queued):
    response = send(
        admin_client,
        [
            {"partner_id": partner.pk, "username": "alice", "points": 30, "delay_minutes": 0},
            {"partner_id": partner.pk, "delay_minutes": 10},
        ],
    )

    assert response.status_code == 201
    body = response.json()
    assert body["final"] is False
    assert [row["position"] for row in body["rows"]] == [1, 2]
    assert body["rows"][0]["username"] == "alice"
    assert body["rows"][1]["username"] == "test-user"
    assert 590 <= body["rows"][1]["seconds_left"] <= 600
    assert TestPostback.objects.filter(batch=body["batch"]).count() == 2


def test_the_log_of_a_batch(admin_client, partner, queued):
    batch = send(admin_client, [{"partner_id": partner.pk}]).json()["batch"]

    response = admin_client.get(f"/api/admin/test-postback/{batch}")

    assert response.status_code == 200
    assert response.json()["rows"][0]["state"] == "scheduled"


def test_an_unknown_batch_is_404(admin_client, db):
    assert admin_client.get(f"/api/admin/test-postback/{uuid.uuid4()}").status_code == 404


def test_cancel_answers_the_log_with_rows_cancelled(admin_client, partner, queued):
    batch = send(admin_client, [{"partner_id": partner.pk, "delay_minutes": 5}]).json()["batch"]

    response = admin_client.post(f"/api/admin/test-postback/{batch}/cancel")

    assert response.json()["rows"][0]["state"] == "cancelled"
    assert response.json()["final"] is True


def test_errors_are_given_per_row(admin_client, partner, queued):
    response = send(
        admin_client, [{"partner_id": partner.pk}, {"partner_id": 999999, "points": -1, "delay_minutes": 99999}]
    )

    assert response.status_code == 400
    errors = response.json()["rows"]
    assert list(errors) == ["1"]
    assert set(errors["1"]) == {"partner_id", "points", "delay_minutes"}
    assert not TestPostback.objects.exists()


def test_an_empty_batch_is_refused(admin_client, db):
    assert send(admin_client, []).status_code == 400


def test_anonymous_callers_get_401(client, partner):
    assert send(client, [{"partner_id": partner.pk}]).status_code == 401
    assert client.get(f"/api/admin/test-postback/{uuid.uuid4()}").status_code == 401


def test_non_staff_users_get_403(client, partner, django_user_model):
    user = django_user_model.objects.create_user("bob", password="pw-bob-12345")
    client.force_login(user)

    assert send(client, [{"partner_id": partner.pk}]).status_code == 403


def test_a_staff_token_with_the_send_permission_works(client, partner, queued):
    token = Token.objects.create(user=staff_with("testing_tools.send_test_postback"))

    response = send(client, [{"partner_id": partner.pk}], HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 201


def test_session_posts_need_the_csrf_token(partner, django_user_model):
    from django.test import Client

    admin = django_user_model.objects.create_user("ops", password="pw-ops-12345", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    assert send(client, [{"partner_id": partner.pk}]).status_code == 403


@pytest.mark.parametrize("path", ["/api/admin/test-postback/send", "/api/admin/test-postback/{batch}"])
def test_both_endpoints_are_in_the_openapi_schema(client, db, path):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert path in schema["paths"]
