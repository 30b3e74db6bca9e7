"""Invitations: manage.py invite_partner_user and the admin's invite field send a one-time set-password link."""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command

from partners.portal.models import PartnerMembership

LINK = re.compile(r"https?://[^/\s]+(/portal/set-password/[^\s]+/)")


def invite(*args):
    out = StringIO()
    call_command("invite_partner_user", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def link_path():
    return LINK.search(mail.outbox[-1].body).group(1)


def test_it_creates_the_user_and_membership_and_prints_json(partner):
    data = invite("pub", "Bob@Pub.example")

    user = get_user_model().objects.get(pk=data["user_id"])
    assert data == {
        "user_id": user.pk,
        "email": "bob@pub.example",
        "partner_id": partner.pk,
        "partner": "Pub",
        "created_user": True,
        "created_membership": True,
        "link_sent": True,
    }
    assert not user.has_usable_password()
    assert not user.is_staff
    assert PartnerMembership.objects.filter(user=user, partner=partner).exists()


def test_it_finds_the_partner_by_id_and_reuses_the_account(partner, other_partner):
    first = invite("pub", "bob@pub.example")
    second = invite(str(other_partner.pk), "bob@pub.example")

    assert second["user_id"] == first["user_id"]
    assert second["created_user"] is False
    assert second["created_membership"] is True
    assert len(mail.outbox) == 2


def test_it_refuses_an_unknown_partner_and_a_staff_address(partner, admin_user):
    with pytest.raises(CommandError, match="no partner"):
        invite("nobody", "bob@pub.example")
    with pytest.raises(CommandError, match="staff account"):
        invite("pub", admin_user.email)
    assert not PartnerMembership.objects.exists()


def test_the_emailed_link_sets_the_password_once(partner, client):
    invite("pub", "bob@pub.example")
    assert mail.outbox[0].to == ["bob@pub.example"]

    # Django's reset view trades the token in the URL for one in the session, then shows the form.
    form_page = client.get(link_path(), follow=True)
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "Sunny meadow 42", "new_password2": "Sunny meadow 42"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/portal/set-password/done/"
    assert get_user_model().objects.get(email="bob@pub.example").check_password("Sunny meadow 42")
    assert (
        client.post("/portal/login/", {"username": "bob@pub.example", "password": "Sunny meadow 42"}).status_code == 302
    )
    again = client.get(link_path(), follow=True)
    assert again.context["validlink"] is False
    assert "does not work any more" in again.content.decode()


def test_an_admin_invites_from_the_partners_portal_page(partner, admin_client):
    response = admin_client.post(
        f"/admin/portal/portalpartner/{partner.pk}/change/", _inline_management() | {"invite": "carol@pub.example"}
    )

    assert response.status_code == 302
    assert PartnerMembership.objects.filter(user__email="carol@pub.example", partner=partner).exists()
    assert mail.outbox[-1].to == ["carol@pub.example"]


def test_the_admin_shows_the_users_and_changes(partner, partner_user, admin_client):
    page = admin_client.get(f"/admin/portal/portalpartner/{partner.pk}/change/").content.decode()

    assert "ann@pub.example" in page
    assert "Changes made in the portal" in page


def _inline_management():
    """The inline formsets' management forms, as the admin page posts them (no rows)."""
    data = {}
    for prefix in ("portal_memberships", "portal_changes"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    return data
