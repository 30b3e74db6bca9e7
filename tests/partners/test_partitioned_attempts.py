"""Delivery attempts on PostgreSQL: a table partitioned by month of created_at, which the ORM uses as a plain one."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from partners.models import Delivery, DeliveryAttempt, Partner
from postbacks_project import partitions
from receiver.models import Conversion, ConversionEvent

pytestmark = pytest.mark.postgres

TABLE = "partners_deliveryattempt"
migration = importlib.import_module("partners.migrations.0016_partition_attempts")


@pytest.fixture
def delivery(network):
    partner = Partner.objects.create(name="Wall", slug="wall", postback_url="https://wall.example/pb?c={click_id}")
    conversion = Conversion.objects.create(network=network, click_id="c1", dedupe_id="t1", status="approved")
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
    return Delivery.objects.create(event=event, destination=partner, state="failed", attempts=1)


def attempt(delivery, **fields):
    return DeliveryAttempt.objects.create(
        delivery=delivery, number=1, url="https://wall.example/pb", method="GET", **fields
    )


def partition_of(attempt):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [attempt.pk])
        return cursor.fetchone()[0]


def test_the_table_is_partitioned_by_month_with_a_default_partition(db):
    names = [partition.name for partition in partitions.partitions(TABLE)]

    assert partitions.is_partitioned(TABLE)
    month = partitions.month_of(timezone.now())
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert f"{TABLE}_p{month:%Y_%m}" in names
        month = partitions.next_month(month)
    assert names[-1] == f"{TABLE}_default"


def test_the_key_includes_created_at_and_django_still_reads_id_as_the_key(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [f"{TABLE}_pkey"])
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, created_at)"

    assert DeliveryAttempt._meta.pk.name == "id"


def test_the_orm_creates_updates_and_deletes_by_id(delivery):
    first, second = attempt(delivery), attempt(delivery)

    DeliveryAttempt.objects.filter(pk=first.pk).update(response_status=502)
    second.error = "connection refused"
    second.save()
    first.refresh_from_db()

    assert second.pk == first.pk + 1
    assert (first.response_status, DeliveryAttempt.objects.get(pk=second.pk).error) == (502, "connection refused")
    first.delete()
    assert list(DeliveryAttempt.objects.values_list("pk", flat=True)) == [second.pk]
    # The delivery's CASCADE, which Django emulates with a DELETE by delivery id.
    delivery.delete()
    assert not DeliveryAttempt.objects.exists()


def test_a_row_lands_in_its_month(delivery):
    now = timezone.now()
    next_month = partitions.next_month(partitions.month_of(now)) + timedelta(days=3)

    assert partition_of(attempt(delivery)) == f"{TABLE}_p{now:%Y_%m}"
    assert partition_of(attempt(delivery, created_at=next_month)) == f"{TABLE}_p{next_month:%Y_%m}"


def test_the_default_partition_takes_a_row_no_month_does(delivery):
    old = attempt(delivery, created_at=timezone.now() - timedelta(days=400))
    ahead = attempt(delivery, created_at=timezone.now() + timedelta(days=800))

    assert partition_of(old) == partition_of(ahead) == f"{TABLE}_default"
    assert DeliveryAttempt.objects.filter(created_at__lt=timezone.now()).get() == old


def test_an_update_of_created_at_moves_the_row_to_its_month(delivery):
    row = attempt(delivery, created_at=timezone.now() - timedelta(days=400))

    DeliveryAttempt.objects.filter(pk=row.pk).update(created_at=timezone.now())

    assert partition_of(row) == f"{TABLE}_p{timezone.now():%Y_%m}"


def test_a_month_made_later_takes_in_the_rows_the_default_partition_held(delivery):
    moment = timezone.now() - timedelta(days=400)
    row = attempt(delivery, created_at=moment)
    [(name, low, high)] = partitions.missing_months(TABLE, timezone.now(), start=moment)[:1]

    partitions.create_month(TABLE, "created_at", name, low, high)

    assert name == f"{TABLE}_p{moment:%Y_%m}"
    assert partition_of(row) == name


def test_the_migration_rebuilds_the_table_plain_and_partitioned_again_keeping_rows_and_ids(delivery):
    rows = [attempt(delivery, created_at=timezone.now() - timedelta(days=days)) for days in (0, 40, 400)]

    with connection.cursor() as cursor:
        migration.rebuild(cursor, partitioned=False)
        assert not partitions.is_partitioned(TABLE)
        migration.rebuild(cursor, partitioned=True)

    assert partitions.is_partitioned(TABLE)
    assert set(DeliveryAttempt.objects.values_list("pk", flat=True)) == {row.pk for row in rows}
    assert partition_of(rows[2]) == f"{TABLE}_p{rows[2].created_at:%Y_%m}"
    assert attempt(delivery).pk == rows[-1].pk + 1


def test_the_migration_refuses_a_table_something_points_at(delivery):
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE pointing (attempt_id bigint, attempt_at timestamptz, "
            f"FOREIGN KEY (attempt_id, attempt_at) REFERENCES {TABLE})"
        )
        with pytest.raises(RuntimeError, match="pointing point at"):
            migration.rebuild(cursor, partitioned=False)
