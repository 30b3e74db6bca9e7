"""The receiver's statements built once: they store and load exactly what save() and a queryset do."""

from decimal import Decimal

import pytest

from receiver import config, rows
from receiver.models import (
    Click,
    ConfigVersion,
    Conversion,
    ConversionEvent,
    Network,
    Offer,
    Outcome,
    PointsEntry,
    ReceivedPostback,
)


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


def _accepted(network, click_id="c1"):
    """A new conversion with its request row, event and points entry, linked as the receiver builds them."""
    conversion = Conversion(
        network=network, click_id=click_id, dedupe_id="t1", status="approved", payout=Decimal("2.5"), user_id="u1"
    )
    row = ReceivedPostback(method="GET", path="/p/", network=network, outcome=Outcome.ACCEPTED, conversion=conversion)
    event = ConversionEvent(conversion=conversion, kind="created", to_status="approved", payout=Decimal("2.5"))
    event.postback = row
    entry = PointsEntry(user_id="u1", delta=250, reason="conversion approved", conversion=conversion, event=event)
    return conversion, row, event, entry


@pytest.mark.postgres
def test_chained_rows_are_written_in_one_statement_each_linked_to_the_ones_before(network, django_assert_num_queries):
    conversion, row, event, entry = _accepted(network)

    with django_assert_num_queries(3):  # the statement, in the test's transaction between SAVEPOINT and RELEASE
        assert rows.insert_chained([conversion, row, event, entry]) is True

    stored = ConversionEvent.objects.select_related("conversion", "postback").get(pk=event.pk)
    assert (stored.conversion_id, stored.postback_id, stored.payout) == (conversion.pk, row.pk, Decimal("2.5"))
    assert ReceivedPostback.objects.get(pk=row.pk).conversion_id == conversion.pk
    assert PointsEntry.objects.values_list("event_id", "conversion_id", "delta").get(pk=entry.pk) == (
        event.pk,
        conversion.pk,
        250,
    )
    with django_assert_num_queries(0):  # the links hold the instances given, with their new ids
        assert (event.conversion, event.postback, entry.event) == (conversion, row, event)
    assert not any(instance._state.adding for instance in (conversion, row, event, entry))


@pytest.mark.postgres
def test_a_chain_whose_first_row_exists_writes_none_of_its_rows(network):
    assert rows.insert_chained(list(_accepted(network))) is True
    repeat = _accepted(network)

    assert rows.insert_chained(list(repeat)) is False

    assert all(instance.pk is None for instance in repeat)
    assert (ReceivedPostback.objects.count(), ConversionEvent.objects.count(), PointsEntry.objects.count()) == (1, 1, 1)


def test_a_chain_refuses_a_row_that_references_none_before_it(network):
    with pytest.raises(ValueError, match="no foreign key to a row before it"):
        rows.insert_chained([Conversion(network=network), Network(name="Unlinked")])
