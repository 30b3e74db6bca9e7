"""The big tables' sizes: rows (exact, capped, or PostgreSQL's estimate), bytes with their indexes, the oldest row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from partners.models import Delivery, DeliveryAttempt, Partner
from postbacks_project import partitions, tables
from receiver.models import Conversion, ConversionEvent, Outcome, ReceivedPostback, Source

NOW = timezone.now().replace(microsecond=0)


def received(network, *ages_days):
    ReceivedPostback.objects.bulk_create(
        ReceivedPostback(
            network=network, source=Source.POSTBACK, outcome=Outcome.ACCEPTED, received_at=NOW - timedelta(days=age)
        )
        for age in ages_days
    )


def by_model(sizes):
    return {table.model: table for table in sizes.tables}


def test_each_big_table_has_its_rows_and_oldest_row(network):
    received(network, 3, 40, 1)

    table = by_model(tables.measure())["receiver.ReceivedPostback"]

    assert (table.table, table.oldest) == ("receiver_receivedpostback", NOW - timedelta(days=40))
    if connection.vendor == "sqlite":
        assert (table.rows, table.rows_basis) == (3, tables.EXACT)


def test_an_empty_table_has_no_oldest_row(db):
    table = by_model(tables.measure())["partners.DeliveryAttempt"]

    assert (table.oldest, table.rows) == (None, 0)


def test_past_the_limit_sqlite_counts_say_at_least(network, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL answers from its catalog")
    monkeypatch.setattr(tables, "COUNT_LIMIT", 2)
    received(network, 1, 2, 3)

    table = by_model(tables.measure())["receiver.ReceivedPostback"]

    assert (table.rows, table.rows_basis) == (2, tables.AT_LEAST)


def test_on_sqlite_each_table_is_sized_with_its_indexes_from_dbstat(network):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's dbstat")
    empty = by_model(tables.measure())["receiver.ReceivedPostback"].bytes
    received(network, *range(2000))

    sizes = tables.measure()

    assert sizes.size_basis == "dbstat"
    assert by_model(sizes)["receiver.ReceivedPostback"].bytes > empty + 2000 * 20
    assert sizes.database_bytes >= sum(table.bytes for table in sizes.tables)


def test_past_the_dbstat_limit_only_the_database_file_is_sized(network, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's dbstat")
    monkeypatch.setattr(tables, "DBSTAT_LIMIT", 1)

    sizes = tables.measure()

    assert (sizes.size_basis, sizes.database_bytes > 1) == ("database_file", True)
    assert {table.bytes for table in sizes.tables} == {None}


@pytest.mark.postgres
def test_on_postgresql_rows_are_the_catalog_estimate_once_analyzed(network):
    # Received postbacks are partitioned by month there: rows, bytes and the oldest are summed over the partitions
    # (most of these in the DEFAULT one, the rest in this month's).
    assert partitions.is_partitioned("receiver_receivedpostback")
    received(network, *range(500))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE receiver_receivedpostback")

    sizes = tables.measure()
    table = by_model(sizes)["receiver.ReceivedPostback"]

    assert sizes.size_basis == "pg_total_relation_size"
    assert (table.rows, table.rows_basis) == (500, tables.ESTIMATE)
    assert table.bytes > 500 * 20
    assert table.oldest == NOW - timedelta(days=499)


@pytest.mark.postgres
def test_on_postgresql_a_partitioned_table_is_the_sum_of_its_partitions(network):
    partner = Partner.objects.create(name="Wall", postback_url="https://wall.example/pb?c={click_id}")
    conversion = Conversion.objects.create(network=network, click_id="c1", dedupe_id="t1", status="approved")
    event = ConversionEvent.objects.create(conversion=conversion, kind="created", to_status="approved")
    delivery = Delivery.objects.create(event=event, destination=partner)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=delivery, number=1, url="u" * 200, method="GET", created_at=NOW - timedelta(days=d))
        for d in (0, 0, 40, 400)
    )

    never_analyzed = by_model(tables.measure())["partners.DeliveryAttempt"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE partners_deliveryattempt")
    analyzed = by_model(tables.measure())["partners.DeliveryAttempt"]

    assert (never_analyzed.rows, never_analyzed.rows_basis) == (4, tables.EXACT)
    assert (analyzed.rows, analyzed.rows_basis) == (4, tables.ESTIMATE)
    assert isinstance(analyzed.bytes, int)
    assert analyzed.bytes > 4 * 200
    assert analyzed.oldest == NOW - timedelta(days=400)


def test_the_status_api_shows_the_tables(admin_client, network):
    received(network, 5)

    body = admin_client.get("/api/status/").json()["tables"]

    [row] = [row for row in body["tables"] if row["model"] == "receiver.ReceivedPostback"]
    assert row["oldest"].startswith((NOW - timedelta(days=5)).date().isoformat())
    assert body["vendor"] == connection.vendor


def test_the_dashboard_shows_the_tables(admin_client, network):
    received(network, 5)

    html = admin_client.get("/admin/stats/").content.decode()

    assert 'id="stats-tables"' in html
    assert "receiver.ReceivedPostback" in html
