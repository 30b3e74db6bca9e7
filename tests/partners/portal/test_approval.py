"""Approval of portal changes: per partner, an admin decides whether a partner user's URL change applies at once or
waits; waiting changes are approved or rejected on the partner's admin pages, and every change is on record."""

import socket

import pytest
from django.urls import reverse

from partners.portal.models import ChangeRecord, PendingChange

OLD = "https://pub.example/pb?click={click_id}"
NEW = "https://hooks.pub.example/pb?c={click_id}"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "hooks.pub.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def gated(partner):
    partner.portal_changes_need_approval = True
    partner.save()
    return partner


def save_in_portal(client, partner, url=NEW):
    data = {"postback_url": url, "method": "GET", "body_template": "", "body_type": "form", "action": "save"}
    return client.post(f"/portal/partners/{partner.pk}/settings/", data, follow=True)


def portal_page_form(pending=(), **fields):
    data = {"invite": "", **fields}
    for prefix, rows in (("portal_memberships", []), ("pending_portal_changes", pending), ("portal_changes", [])):
        data |= {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(len(rows))}
        for n, (pk, decision) in enumerate(rows):
            data |= {f"{prefix}-{n}-id": str(pk), f"{prefix}-{n}-decision": decision, f"{prefix}-{n}-note": ""}
    return data


def review_on_admin(admin_client, partner, pending, decision):
    url = reverse("admin:portal_portalpartner_change", args=[partner.pk])
    return admin_client.post(url, portal_page_form([(pending.pk, decision)]))


def test_without_approval_a_change_applies_at_once(portal_client, partner):
    save_in_portal(portal_client, partner)

    partner.refresh_from_db()
    assert partner.postback_url == NEW
    assert not PendingChange.objects.exists()


def test_with_approval_a_change_waits_and_the_partner_sees_it_waiting(portal_client, gated):
    page = save_in_portal(portal_client, gated).content.decode()

    gated.refresh_from_db()
    assert gated.postback_url == OLD
    pending = PendingChange.objects.get()
    assert (pending.old_values, pending.new_values) == ({"postback_url": OLD}, {"postback_url": NEW})
    assert "Sent for approval" in page
    assert "Waiting for approval" in page
    assert not ChangeRecord.objects.exists()


def test_a_later_change_replaces_the_waiting_one(portal_client, gated):
    save_in_portal(portal_client, gated)
    save_in_portal(portal_client, gated, url=NEW + "&v=2")

    assert [p.review for p in PendingChange.objects.order_by("id")] == ["rejected", "pending"]


def test_an_admin_approves_it_and_the_change_is_recorded(portal_client, gated, partner_user, admin_client, admin_user):
    save_in_portal(portal_client, gated)
    pending = PendingChange.objects.get()

    review_on_admin(admin_client, gated, pending, "approve")

    gated.refresh_from_db()
    assert gated.postback_url == NEW
    pending.refresh_from_db()
    assert (pending.review, pending.reviewed_by) == ("approved", admin_user)
    record = ChangeRecord.objects.get(partner=gated)
    assert (record.user, record.approved_by, record.old_value, record.new_value) == (partner_user, admin_user, OLD, NEW)


def test_an_admin_rejects_it_and_nothing_changes(portal_client, gated, admin_client):
    save_in_portal(portal_client, gated)
    pending = PendingChange.objects.get()

    review_on_admin(admin_client, gated, pending, "reject")

    gated.refresh_from_db()
    assert gated.postback_url == OLD
    pending.refresh_from_db()
    assert pending.review == "rejected"
    assert not ChangeRecord.objects.exists()


def test_an_approval_is_checked_again(gated, partner_user, admin_client, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    pending = PendingChange.objects.create(
        partner=gated,
        user=partner_user,
        old_values={"postback_url": OLD},
        new_values={"postback_url": "http://127.0.0.1/pb?c={click_id}"},
    )

    review_on_admin(admin_client, gated, pending, "approve")

    gated.refresh_from_db()
    assert gated.postback_url == OLD
    pending.refresh_from_db()
    assert pending.review == "rejected"
    assert "blocked address" in pending.note


def test_the_partners_admin_page_shows_what_waits_and_what_changed(portal_client, gated, admin_client):
    save_in_portal(portal_client, gated)
    ChangeRecord.objects.create(partner=gated, user=PendingChange.objects.get().user, field="method", old_value="GET")

    page = admin_client.get(reverse("admin:partners_partner_change", args=[gated.pk])).content.decode()

    assert "Portal changes waiting for approval" in page
    assert NEW in page
    assert 'name="pending_portal_changes-0-decision"' in page
    assert "Changes made in the portal" in page


def test_an_admin_turns_approval_on_per_partner(admin_client, partner):
    url = reverse("admin:portal_portalpartner_change", args=[partner.pk])

    admin_client.post(url, portal_page_form(portal_changes_need_approval="on"))

    partner.refresh_from_db()
    assert partner.portal_changes_need_approval
    assert partner.postback_url == OLD
