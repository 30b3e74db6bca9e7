"""A partner URL to a blocked address is refused when it is saved, with the transport's message, in the admin and
in the portal alike (one check, partners.validation)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from partners.models import Partner
from partners.portal.models import PartnerMembership

BLOCKED = ["http://127.0.0.1/pb?c={click_id}", "http://169.254.169.254/latest/?c={click_id}", "http://10.0.0.1/"]


def admin_form(url):
    return {
        "name": "Beta",
        "is_active": "on",
        "postback_url": url,
        "method": "GET",
        "body_template": "",
        "body_type": "form",
        "headers": "{}",
        "scope": "all",
        "statuses": "[]",
        "payout_basis": "original",
        "share_type": "percent",
        "share_value": "100",
        "points_mode": "rate",
        "points_value": "0",
        "signing_secret": "",
        "offer_shares-TOTAL_FORMS": "0",
        "offer_shares-INITIAL_FORMS": "0",
    }


@pytest.fixture(autouse=True)
def no_loopback(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False


@pytest.mark.parametrize("url", BLOCKED)
def test_the_admin_cannot_save_a_blocked_address(admin_client, url):
    response = admin_client.post(reverse("admin:partners_partner_add"), admin_form(url))

    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["postback_url"])
    assert "blocked address" in errors
    assert "private, loopback, link-local or metadata addresses are not allowed" in errors
    assert not Partner.objects.exists()


def test_the_portal_gives_the_same_message(client, django_user_model):
    partner = Partner.objects.create(name="Pub", postback_url="https://pub.example/pb?c={click_id}")
    user = django_user_model.objects.create_user("ann@pub.example", password="a long portal password 7")
    PartnerMembership.objects.create(user=user, partner=partner)
    client.force_login(user)
    admin_message = Partner(name="X", postback_url=BLOCKED[1])
    with pytest.raises(ValidationError) as refused:
        admin_message.full_clean()

    response = client.post(
        f"/portal/partners/{partner.pk}/settings/",
        {"postback_url": BLOCKED[1], "method": "GET", "body_template": "", "body_type": "form", "action": "save"},
    )

    assert refused.value.message_dict["postback_url"][0] in response.content.decode()


def test_loopback_is_accepted_when_the_setting_allows_it(db, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True

    Partner(name="Local", postback_url=BLOCKED[0]).full_clean()
