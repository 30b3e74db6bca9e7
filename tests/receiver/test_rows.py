"""The receiver's statements built once: they store and load exactly what save() and a queryset do."""

from decimal import Decimal

from receiver import config, rows
from receiver.models import Click, ConfigVersion, Conversion, ConversionEvent, Network, Offer, Outcome, ReceivedPostback


def test_a_click_comes_with_its_offer_as_a_queryset_loads_them(click, network, django_assert_num_queries):
    expected = Click.objects.select_related("offer").get(pk=click.pk)

    with django_assert_num_queries(1):
        found, _token = rows.click_for(click.click_id, network.pk)
        offer = found.offer

    assert [getattr(found, f.attname) for f in Click._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in Click._meta.concrete_fields
    ]
    assert [getattr(offer, f.attname) for f in Offer._meta.concrete_fields] == [
        getattr(expected.offer, f.attname) for f in Offer._meta.concrete_fields
    ]
    assert offer.payout == Decimal("2.50")
    assert found.created_at.tzinfo is not None


def test_a_click_on_another_networks_offer_is_not_found(click):
    other = Network.objects.create(name="Other")

    assert rows.click_for(click.click_id, other.pk)[0] is None
    assert rows.click_for("no-such-click", click.offer.network_id)[0] is None


def test_the_click_comes_with_the_configurations_token_found_or_not(click, network):
    config.changed()
    token = ConfigVersion.objects.get().token

    assert rows.click_for(click.click_id, network.pk)[1] == token
    assert rows.click_for("no-such-click", network.pk) == (None, token)


def test_an_inserted_row_reads_back_as_built(network):
    row = ReceivedPostback(
        method="GET", path="/p/", network=network, outcome=Outcome.ACCEPTED, params={"payout": "1.50"}, body=b"x"
    )

    assert rows.insert(row) is True

    stored = ReceivedPostback.objects.get(pk=row.pk)
    assert (stored.params, bytes(stored.body), stored.network_id) == ({"payout": "1.50"}, b"x", network.pk)
    assert stored.received_at == row.received_at
    assert not row._state.adding


def test_a_conflicting_insert_writes_nothing_when_conflicts_are_ignored(network):
    def conversion():
        return Conversion(network=network, click_id="c1", dedupe_id="t1", status="approved", payout=Decimal("1"))

    first, second = conversion(), conversion()

    assert rows.insert(first, ignore_conflicts=True) is True
    assert rows.insert(second, ignore_conflicts=True) is False
    assert second.pk is None
    assert list(Conversion.objects.values_list("pk", flat=True)) == [first.pk]


def test_an_inserted_event_keeps_its_amounts(network):
    conversion = Conversion(network=network, click_id="c1", dedupe_id="t1", status="approved", payout=Decimal("2.5"))
    rows.insert(conversion)
    event = ConversionEvent(conversion=conversion, kind="created", to_status="approved", payout=Decimal("2.5"))

    rows.insert(event)

    assert ConversionEvent.objects.get(pk=event.pk).payout == Decimal("2.5")
