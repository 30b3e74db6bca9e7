"""Fixtures of the portal tests: two partners, a partner user of the first, and deliveries to either."""

import pytest
from django.test import Client

from partners.models import Delivery, DeliveryAttempt, Partner
from partners.portal.models import PartnerMembership
from receiver.models import Conversion, ConversionEvent

PASSWORD = "a long portal password 7"


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Pub", slug="pub", postback_url="https://pub.example/pb?click={click_id}")


@pytest.fixture
def other_partner(db):
    return Partner.objects.create(name="Rival", slug="rival", postback_url="https://rival.example/pb?c={click_id}")


@pytest.fixture
def partner_user(partner, django_user_model):
    user = django_user_model.objects.create_user("ann@pub.example", email="ann@pub.example", password=PASSWORD)
    PartnerMembership.objects.create(user=user, partner=partner)
    return user


@pytest.fixture
def portal_client(partner_user):
    client = Client()
    client.force_login(partner_user)
    return client


@pytest.fixture
def make_delivery(network):
    def make(partner, click_id="c1", transaction_id="", status="approved", **fields):
        conversion = Conversion.objects.create(
            network=network, click_id=click_id, dedupe_id=transaction_id, transaction_id=transaction_id, status=status
        )
        event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status=status)
        return Delivery.objects.create(event=event, destination=partner, **fields)

    return make


@pytest.fixture
def attempted(make_delivery, partner):
    """A delivery to the partner with one failed attempt, as the transport records it (headers masked)."""
    delivery = make_delivery(partner, click_id="clk-9", transaction_id="tx-9", state="retrying", attempts=1)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        url="https://pub.example/pb?click=clk-9",
        method="GET",
        request_headers={"x-api-key": "abcd…", "user-agent": "postback-hub/1.0"},
        response_status=500,
        response_body="oops",
        duration_ms=42,
        error="HTTP 500",
    )
    return delivery
