"""Rotating a partner's signing secret without downtime: both signatures during the window, verified by a stock
Standard Webhooks library; the new secret shown once, in the portal and in the admin."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from partners import signing
from partners.macros import sample_values
from partners.outbound import build_request
from partners.portal.models import ChangeRecord

COUNTS = ("TOTAL_FORMS", "INITIAL_FORMS")
OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def signed(partner):
    partner.signing_secret = OLD
    partner.method = "POST"
    partner.body_template = "click={click_id}"
    partner.save()
    return partner


def rotate_path(partner):
    return f"/portal/partners/{partner.pk}/secret/"


def request_at(partner, moment):
    return build_request(partner, sample_values(partner), "msg_rot", int(moment.timestamp()))


def verifies(secret, outbound):
    try:
        Webhook(secret).verify(outbound.body, outbound.headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def test_during_the_window_either_secret_verifies(signed, settings):
    settings.PARTNER_SECRET_ROTATION_HOURS = 24
    new = signed.rotate_signing_secret()

    outbound = request_at(signed, timezone.now())

    assert len(outbound.headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, outbound)
    assert verifies(OLD, outbound)
    assert not verifies(signing.generate_secret(), outbound)


def test_after_the_window_only_the_new_secret_signs(signed, settings):
    settings.PARTNER_SECRET_ROTATION_HOURS = 24
    new = signed.rotate_signing_secret(now=timezone.now() - timedelta(hours=25))
    signed.refresh_from_db()

    outbound = request_at(signed, timezone.now())

    assert outbound.headers["webhook-signature"].count("v1,") == 1
    assert verifies(new, outbound)
    assert not verifies(OLD, outbound)


def test_a_get_url_signature_uses_the_new_secret_at_once(partner):
    partner.signing_secret = OLD
    partner.postback_url = "https://pub.example/pb?click={click_id}&ts={signature_ts}&sig={signature}"
    partner.save()
    new = partner.rotate_signing_secret()

    url = request_at(partner, timezone.now()).url

    signature = url.rsplit("sig=", 1)[1]
    assert signature == signing.url_signature(new, url, "sig")
    assert signature != signing.url_signature(OLD, url, "sig")


def test_the_rotation_window_comes_from_the_setting(signed, settings):
    settings.PARTNER_SECRET_ROTATION_HOURS = 2
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    signed.rotate_signing_secret(now=now)

    signed.refresh_from_db()
    assert signed.previous_signing_secret == OLD
    assert signed.previous_secret_until == now + timedelta(hours=2)
    assert len(signed.secrets_at(now + timedelta(hours=1, minutes=59))) == 2
    assert len(signed.secrets_at(now + timedelta(hours=2))) == 1


def test_a_first_secret_has_no_previous_one(partner):
    secret = partner.rotate_signing_secret()

    partner.refresh_from_db()
    assert partner.secrets_at(timezone.now()) == [secret]


def test_the_portal_asks_for_confirmation_first(portal_client, signed):
    page = portal_client.get(rotate_path(signed)).content.decode()
    assert "Rotate the signing secret" in page

    response = portal_client.post(rotate_path(signed), {})

    assert "Tick the box" in response.content.decode()
    signed.refresh_from_db()
    assert signed.signing_secret == OLD


def test_the_portal_shows_the_new_secret_once_and_records_the_rotation(portal_client, signed, partner_user):
    response = portal_client.post(rotate_path(signed), {"confirm": "yes"})

    signed.refresh_from_db()
    new = signed.signing_secret
    assert new != OLD
    assert new in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for path in (rotate_path(signed), f"/portal/partners/{signed.pk}/settings/"):
        page = portal_client.get(path).content.decode()
        assert new not in page
        assert new[10:] not in page
    (record,) = ChangeRecord.objects.filter(partner=signed, field="signing_secret")
    assert record.user == partner_user
    assert new[6:] not in record.new_value
    assert OLD[6:] not in record.old_value


def test_the_request_signed_after_a_portal_rotation_verifies_with_both(portal_client, signed):
    page = portal_client.post(rotate_path(signed), {"confirm": "yes"}).content.decode()
    signed.refresh_from_db()
    assert signed.signing_secret in page

    outbound = build_request(signed, sample_values(signed), "msg_after", int(time.time()))

    assert verifies(signed.signing_secret, outbound)
    assert verifies(OLD, outbound)


def test_a_rotation_needs_the_csrf_token(partner_user, signed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_user)

    assert client.post(rotate_path(signed), {"confirm": "yes"}).status_code == 403
    signed.refresh_from_db()
    assert signed.signing_secret == OLD


def test_another_partners_secret_cannot_be_rotated(portal_client, other_partner):
    other_partner.signing_secret = OLD
    other_partner.save()

    assert portal_client.get(rotate_path(other_partner)).status_code == 404
    assert portal_client.post(rotate_path(other_partner), {"confirm": "yes"}).status_code == 404
    other_partner.refresh_from_db()
    assert other_partner.signing_secret == OLD


def test_the_admin_rotates_and_shows_the_secret_once(admin_client, signed):
    url = reverse("admin:portal_portalpartner_change", args=[signed.pk])

    inlines = {f"{name}-{count}": "0" for name in ("portal_memberships", "portal_changes") for count in COUNTS}

    response = admin_client.post(url, {"invite": "", "rotate_secret": "on", **inlines})

    signed.refresh_from_db()
    assert signed.signing_secret != OLD
    assert signed.previous_signing_secret == OLD
    assert signed.signing_secret in response.content.decode()
    assert signed.signing_secret not in admin_client.get(url).content.decode()
