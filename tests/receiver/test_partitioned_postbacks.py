"""Received postbacks on PostgreSQL: a table partitioned by month of received_at, written by the receiver as before."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from postbacks_project import partitions
from receiver.models import Conversion, ConversionEvent, ReceivedPostback

pytestmark = pytest.mark.postgres

TABLE = "receiver_receivedpostback"
migration = importlib.import_module("receiver.migrations.0016_partition_received_postbacks")


def partition_of(row_id):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def foreign_keys_pointing_at_the_table():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass",
            [TABLE],
        )
        return cursor.fetchall()


def postback(client, network, click_id, status="approved"):
    answer = client.get(f"/postback/{network.key}/", {"click_id": click_id, "payout": "2.00", "status": status})
    assert answer.json()["success"], answer.content
    return ReceivedPostback.objects.get(pk=answer.json()["postbackId"])


def test_the_table_is_partitioned_by_month_with_a_default_partition(db):
    names = [partition.name for partition in partitions.partitions(TABLE)]

    assert partitions.is_partitioned(TABLE)
    month = partitions.month_of(timezone.now())
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert f"{TABLE}_p{month:%Y_%m}" in names
        month = partitions.next_month(month)
    assert names[-1] == f"{TABLE}_default"


def test_the_key_includes_received_at_and_nothing_points_at_the_table(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [f"{TABLE}_pkey"])
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, received_at)"

    assert ReceivedPostback._meta.pk.name == "id"
    # The events' link is kept by retention, not by a constraint: PostgreSQL would want (id, received_at) for one.
    assert foreign_keys_pointing_at_the_table() == []


def test_the_tables_own_foreign_keys_are_kept(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [TABLE],
        )
        assert sorted(name for (name,) in cursor.fetchall()) == ["receiver_conversion", "receiver_network"]


def test_a_new_conversion_written_in_one_chained_statement_lands_in_its_month(client, network):
    row = postback(client, network, "c1")

    event = ConversionEvent.objects.get()
    assert event.postback == row
    assert row.conversion == event.conversion == Conversion.objects.get()
    assert partition_of(row.pk) == f"{TABLE}_p{timezone.now():%Y_%m}"


def test_a_status_change_and_a_duplicate_are_stored_too(client, network):
    first = postback(client, network, "c1", status="pending")
    change = postback(client, network, "c1", status="approved")
    repeat = postback(client, network, "c1", status="approved")

    assert [event.postback_id for event in ConversionEvent.objects.order_by("pk")] == [first.pk, change.pk]
    assert (change.outcome, repeat.outcome) == ("status_change", "duplicate")
    assert {partition_of(row.pk) for row in (first, change, repeat)} == {f"{TABLE}_p{timezone.now():%Y_%m}"}


def test_the_orm_updates_by_id_and_a_new_received_at_moves_the_row(client, network):
    row = postback(client, network, "c1")
    old = timezone.now() - timedelta(days=400)

    ReceivedPostback.objects.filter(pk=row.pk).update(received_at=old, message="moved")

    assert partition_of(row.pk) == f"{TABLE}_default"
    assert ReceivedPostback.objects.get(pk=row.pk).message == "moved"
    # The event's link is an id alone, and still finds its request in another partition.
    assert ConversionEvent.objects.get().postback == ReceivedPostback.objects.get(pk=row.pk)


def test_the_migration_rebuilds_the_table_plain_and_partitioned_again_keeping_rows_ids_and_no_foreign_key(
    client, network
):
    rows = [postback(client, network, f"c{n}") for n in range(3)]
    ReceivedPostback.objects.filter(pk=rows[2].pk).update(received_at=timezone.now() - timedelta(days=400))

    with connection.cursor() as cursor:
        migration.rebuild(cursor, partitioned=False)
        assert not partitions.is_partitioned(TABLE)
        assert foreign_keys_pointing_at_the_table() == []
        migration.rebuild(cursor, partitioned=True)

    assert partitions.is_partitioned(TABLE)
    assert foreign_keys_pointing_at_the_table() == []
    assert set(ReceivedPostback.objects.values_list("pk", flat=True)) == {row.pk for row in rows}
    old = ReceivedPostback.objects.get(pk=rows[2].pk)
    assert partition_of(old.pk) == f"{TABLE}_p{old.received_at:%Y_%m}"
    assert postback(client, network, "c-next").pk == rows[-1].pk + 1
    assert ConversionEvent.objects.get(conversion__click_id="c0").postback == rows[0]


def test_the_migration_refuses_a_table_something_points_at(db):
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE pointing (postback_id bigint, postback_at timestamptz, "
            f"FOREIGN KEY (postback_id, postback_at) REFERENCES {TABLE})"
        )
        with pytest.raises(RuntimeError, match="pointing point at"):
            migration.rebuild(cursor, partitioned=False)
