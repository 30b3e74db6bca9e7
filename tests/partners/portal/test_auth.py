"""The portal's way in: login for partner users only, rate-limited; anonymous callers are sent to log in."""

import pytest
from django.test import Client

from partners.portal.auth import LOGIN_RATES

from .conftest import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post("/portal/login/", {"username": username, "password": password})


def test_a_partner_user_logs_in_and_reaches_the_portal(partner_user, client):
    response = login(client, "ann@pub.example")

    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    assert "Pub" in client.get("/portal/").content.decode()


@pytest.mark.parametrize("path", ["/portal/", "/portal/partners/1/settings/", "/portal/password/"])
def test_anonymous_callers_are_sent_to_the_login_page(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/portal/login/?next={path}"


def test_login_is_rate_limited_per_username(partner_user, client):
    tries = int(LOGIN_RATES["username"].split("/")[0])
    for _ in range(tries):
        assert login(client, "ann@pub.example", "wrong").status_code == 200

    # Even the right password is not checked once the limit is reached.
    response = login(client, "ann@pub.example")

    assert response.status_code == 429
    assert "Too many login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_address(db, client):
    tries = int(LOGIN_RATES["address"].split("/")[0])
    for number in range(tries):
        assert login(client, f"guess{number}@pub.example", "wrong").status_code == 200

    assert login(client, "someone-else@pub.example").status_code == 429


def test_staff_cannot_log_in_to_the_portal_and_are_refused_its_pages(admin_user, partner, admin_client):
    """Being staff does not make one a partner user: the login answers as for a wrong password."""
    response = login(Client(), admin_user.username, "password")

    assert response.status_code == 200
    assert "correct" in response.content.decode()
    assert admin_client.get("/portal/").status_code == 403
    assert admin_client.get(f"/portal/partners/{partner.pk}/settings/").status_code == 403


def test_a_user_without_membership_cannot_log_in(django_user_model, client, db):
    django_user_model.objects.create_user("nobody@pub.example", password=PASSWORD)

    assert login(client, "nobody@pub.example").status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_login_form_needs_its_csrf_token(partner_user):
    client = Client(enforce_csrf_checks=True)

    assert login(client, "ann@pub.example").status_code == 403


def test_a_partner_user_changes_the_password(portal_client, partner_user):
    response = portal_client.post(
        "/portal/password/",
        {"old_password": PASSWORD, "new_password1": "Another fine pass 9", "new_password2": "Another fine pass 9"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/portal/password/done/"
    partner_user.refresh_from_db()
    assert partner_user.check_password("Another fine pass 9")


def test_logout_ends_the_session(portal_client):
    assert portal_client.post("/portal/logout/")["Location"] == "/portal/login/"
    assert portal_client.get("/portal/").status_code == 302
