"""The postback settings page: the admin's checks (SSRF included), a preview, the macro reference, every change
recorded."""

import socket

import pytest
from django.test import Client

from partners.portal.models import ChangeRecord
from partners.templating import MACROS

GOOD = "https://hooks.pub.example/pb?click={click_id}&amount={payout}"


def settings_path(partner):
    return f"/portal/partners/{partner.pk}/settings/"


def post(client, partner, action="save", **fields):
    data = {"postback_url": GOOD, "method": "GET", "body_template": "", "body_type": "form", "action": action}
    return client.post(settings_path(partner), data | fields)


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """hooks.pub.example resolves to a public address, with no real look-up; other names resolve as they do."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "hooks.pub.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_page_shows_every_macro_with_an_example_and_the_terms_read_only(portal_client, partner):
    page = portal_client.get(settings_path(partner)).content.decode()

    for name in MACROS:
        assert "{" + name + "}" in page
    assert "abc123 &amp; co #1" in page  # the sample click id, as an example value
    assert "100% of the network" in page  # the share, read-only
    assert 'name="share_value"' not in page
    assert 'name="scope"' not in page
    # The current settings' preview: the sample conversion rendered, values URL-encoded.
    assert "https://pub.example/pb?click=abc123%20%26%20co%20%231" in page


def test_an_unknown_macro_is_refused_and_nothing_changes(portal_client, partner):
    response = post(portal_client, partner, postback_url="https://hooks.pub.example/pb?c={clickid}")

    assert response.status_code == 200
    assert "unknown macro {clickid}" in response.content.decode()
    partner.refresh_from_db()
    assert partner.postback_url == "https://pub.example/pb?click={click_id}"
    assert not ChangeRecord.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/pb?c={click_id}", "http://169.254.169.254/latest/", "http://10.0.0.1/"]
)
def test_a_blocked_address_is_refused(portal_client, partner, settings, url):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    response = post(portal_client, partner, postback_url=url)

    assert "blocked address" in response.content.decode()
    partner.refresh_from_db()
    assert partner.postback_url == "https://pub.example/pb?click={click_id}"


def test_a_good_change_is_saved_and_recorded(portal_client, partner, partner_user):
    response = post(
        portal_client, partner, postback_url=GOOD, method="POST", body_template='{"c": "{click_id}"}', body_type="json"
    )

    assert response.status_code == 302
    partner.refresh_from_db()
    assert (partner.postback_url, partner.method, partner.body_type) == (GOOD, "POST", "json")
    records = {r.field: r for r in ChangeRecord.objects.filter(partner=partner, user=partner_user)}
    assert set(records) == {"postback_url", "method", "body_template", "body_type"}
    assert records["postback_url"].old_value == "https://pub.example/pb?click={click_id}"
    assert records["postback_url"].new_value == GOOD
    assert records["method"].old_value == "GET"
    assert records["method"].new_value == "POST"


def test_the_preview_renders_the_posted_template_without_saving(portal_client, partner):
    response = post(
        portal_client,
        partner,
        action="preview",
        method="POST",
        body_template='{"user": "{username}", "points": "{points}"}',
        body_type="json",
    )

    page = response.content.decode()
    assert "https://hooks.pub.example/pb?click=abc123%20%26%20co%20%231&amp;amount=2.50" in page
    assert "{&quot;user&quot;: &quot;alice&quot;" in page
    assert "application/json" in page
    partner.refresh_from_db()
    assert partner.method == "GET"
    assert not ChangeRecord.objects.exists()


def test_the_signing_secret_is_never_shown(portal_client, partner):
    partner.signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    partner.save()

    page = portal_client.get(settings_path(partner)).content.decode()

    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in page
    assert "Standard Webhooks headers on every request" in page


def test_a_save_needs_the_csrf_token(partner_user, partner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_user)

    assert post(client, partner).status_code == 403
