"""A partner user sees and changes only their own partners: another partner's ids answer 404, never 403."""

import re
import uuid

import pytest
from django.urls import reverse

from partners.portal import urls as portal_urls
from partners.portal.models import PartnerMembership


def test_another_partners_pages_are_404(portal_client, other_partner):
    for page in ("settings", "deliveries"):
        assert portal_client.get(f"/portal/partners/{other_partner.pk}/{page}/").status_code == 404
    assert portal_client.post(f"/portal/partners/{other_partner.pk}/settings/", {"action": "save"}).status_code == 404


def test_another_partners_delivery_is_404_even_under_ones_own_partner(
    portal_client, partner, other_partner, make_delivery
):
    theirs = make_delivery(other_partner, "theirs")

    assert portal_client.get(f"/portal/partners/{other_partner.pk}/deliveries/{theirs.pk}/").status_code == 404
    assert portal_client.get(f"/portal/partners/{partner.pk}/deliveries/{theirs.pk}/").status_code == 404


def test_a_missing_partner_answers_the_same_404(portal_client, other_partner):
    assert portal_client.get("/portal/partners/999999/settings/").status_code == 404


def test_the_list_shows_only_own_deliveries(portal_client, partner, other_partner, make_delivery):
    mine, _theirs = make_delivery(partner, "mine"), make_delivery(other_partner, "theirs")

    page = portal_client.get(f"/portal/partners/{partner.pk}/deliveries/")

    assert [d.pk for d in page.context["deliveries"]] == [mine.pk]
    assert "theirs" not in page.content.decode()


def test_other_partners_are_not_named_anywhere(portal_client, partner, other_partner):
    for path in ("/portal/", f"/portal/partners/{partner.pk}/settings/"):
        assert "Rival" not in portal_client.get(path).content.decode()


def test_a_user_of_two_partners_sees_both(portal_client, partner_user, other_partner):
    PartnerMembership.objects.create(user=partner_user, partner=other_partner)

    assert portal_client.get(f"/portal/partners/{other_partner.pk}/settings/").status_code == 200


@pytest.mark.parametrize("path", ["/admin/", "/admin/partners/partner/", "/api/v1/networks/", "/api/status/"])
def test_staff_pages_and_the_api_stay_closed_to_partner_users(portal_client, path):
    response = portal_client.get(path)

    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")


def test_a_partner_user_made_staff_loses_the_portal(portal_client, partner_user, partner):
    partner_user.is_staff = True
    partner_user.save()

    assert portal_client.get(f"/portal/partners/{partner.pk}/settings/").status_code == 403


PARTNER_ROUTES = [p for p in portal_urls.urlpatterns if "<int:partner_id>" in str(p.pattern)]


@pytest.mark.parametrize("route", PARTNER_ROUTES, ids=[str(p.pattern) for p in PARTNER_ROUTES])
def test_every_partner_page_is_404_for_another_partners_id(route, portal_client, other_partner, make_delivery):
    """Walked from the portal's URLs, so a page added later is covered too."""
    theirs = make_delivery(other_partner, "theirs", state="failed")
    samples = {"partner_id": other_partner.pk, "delivery_id": theirs.pk, "token_id": 1, "batch": uuid.uuid4()}
    names = re.findall(r"<(?:\w+:)?(\w+)>", str(route.pattern))
    path = reverse(f"portal:{route.name}", kwargs={name: samples[name] for name in names})

    assert portal_client.get(path).status_code in (404, 405)
    assert portal_client.post(path, {"confirm": "yes", "name": "x", "action": "save"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "failed"
