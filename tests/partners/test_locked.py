"""The locked deliveries read back by partners.locked: the same instances, field by field, as the ORM's
select_related() gives, on each database's own conversions (datetimes, decimals, JSON), and a missing offer."""

from decimal import Decimal

import pytest
from django.utils import timezone

from partners.locked import locked
from partners.models import Delivery, Partner, State
from receiver.models import Conversion, ConversionEvent, Offer

pytestmark = pytest.mark.django_db


def fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def fields_or_none(instance):
    return None if instance is None else fields(instance)


def make_delivery(network, partner, n, offer, lease):
    conversion = Conversion.objects.create(
        network=network,
        offer=offer,
        click_id=f"c{n}",
        dedupe_id=f"t{n}",
        transaction_id=f"t{n}",
        status="approved",
        payout=Decimal("1.234567"),
        custom_data={"sub1": "a", "nested": [1, 2]},
    )
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved", payout=1)
    return Delivery.objects.create(
        event=event,
        destination=partner,
        state=State.SENDING,
        lease=lease,
        locked_until=timezone.now(),
        amount=Decimal("0.925925"),
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=n),
    )


def test_the_locked_rows_are_what_select_related_loads_oldest_due_first(network):
    partner = Partner.objects.create(name="A", slug="a", postback_url="https://p.example/pb")
    offer = Offer.objects.create(network=network, name="offer", url="https://offer.example/?c={click_id}")
    ours = [make_delivery(network, partner, n, offer if n else None, "lease-1") for n in range(3)]
    make_delivery(network, partner, 9, offer, "lease-2")  # another drainer's

    read = locked("lease-1")

    expected = Delivery.objects.filter(lease="lease-1").select_related("event__conversion__offer")
    expected = list(expected.order_by("next_attempt_at", "id"))
    assert [d.pk for d in read] == [d.pk for d in expected] == [d.pk for d in reversed(ours)]
    for got, want in zip(read, expected, strict=True):
        assert fields(got) == fields(want)
        assert fields(got.event) == fields(want.event)
        assert fields(got.event.conversion) == fields(want.event.conversion)
        assert fields_or_none(got.event.conversion.offer) == fields_or_none(want.event.conversion.offer)
    assert read[-1].event.conversion.offer is None  # the LEFT JOIN of a conversion without an offer
    assert isinstance(read[0].amount, Decimal)
    assert read[0].event.conversion.custom_data["nested"] == [1, 2]


def test_the_read_needs_no_further_query_for_the_event_conversion_or_offer(network, django_assert_num_queries):
    partner = Partner.objects.create(name="A", slug="a", postback_url="https://p.example/pb")
    offer = Offer.objects.create(network=network, name="offer", url="https://offer.example/?c={click_id}")
    make_delivery(network, partner, 1, offer, "lease-1")

    with django_assert_num_queries(1):
        (delivery,) = locked("lease-1")
        assert delivery.event.conversion.offer.name == "offer"
