"""Retention on PostgreSQL's monthly received postbacks: an old month goes whole, its events kept and unlinked first."""

from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postbacks_project import partitions
from receiver.models import Conversion, ConversionEvent, ReceivedPostback
from tests.postbacks_project import month_partitions

pytestmark = pytest.mark.postgres

TABLE = "receiver_receivedpostback"
OLD = timezone.now() - timedelta(days=400)
OLD_MONTH = f"{TABLE}_p{OLD:%Y_%m}"


@pytest.fixture
def convert(client, network):
    def send(click_id):
        answer = client.get(f"/postback/{network.key}/", {"click_id": click_id, "payout": "2.00"})
        assert answer.json()["success"], answer.content
        return Conversion.objects.get(click_id=click_id)

    return send


def old_month():
    return month_partitions.make_month(TABLE, "received_at", OLD)


def age(conversion, when=OLD):
    ReceivedPostback.objects.filter(conversion=conversion).update(received_at=when)
    month_partitions.check_constraints_now()


def prune(*args):
    return month_partitions.prune(TABLE, *args)


def names():
    return month_partitions.names(TABLE)


def links():
    return dict(ConversionEvent.objects.values_list("conversion__click_id", "postback_id"))


def test_prune_drops_an_old_month_after_unlinking_its_events_and_deletes_the_rest_in_batches(convert, settings):
    settings.RETAIN_RECEIVED_DAYS = 90
    old_month()
    age(convert("c-old"))
    # Older than the retention, in no month's partition: the DEFAULT one, which is pruned by batches.
    age(convert("c-default"), timezone.now() - timedelta(days=200))
    recent = convert("c-new")
    kept = links()["c-new"]

    report = prune()

    assert report["dropped"] == [{"partition": OLD_MONTH, "rows": 1}]
    assert (report["rows"], report["unlinked"], report["batches"], report["busy"]) == (2, 2, 1, [])
    assert OLD_MONTH not in names()
    assert list(ReceivedPostback.objects.values_list("conversion", flat=True)) == [recent.pk]
    # The events stay, money and all; only their link to the pruned requests is gone.
    assert links() == {"c-old": None, "c-default": None, "c-new": kept}
    assert Conversion.objects.count() == 3


def test_a_dry_run_drops_and_unlinks_nothing_and_says_what_it_would(convert):
    old_month()
    age(convert("c-old"))
    before = links()

    report = prune("--dry-run")

    assert report["dropped"] == [{"partition": OLD_MONTH, "rows": 1}]
    assert (report["rows"], report["unlinked"], report["batches"]) == (1, 1, 0)
    assert OLD_MONTH in names()
    assert ReceivedPostback.objects.count() == 1
    assert links() == before


def test_the_links_of_a_big_month_are_cleared_in_batches(convert, settings):
    settings.PRUNE_BATCH_SIZE = 1
    old_month()
    for n in range(3):
        age(convert(f"c{n}"))

    with CaptureQueriesContext(connection) as queries:
        report = prune()

    assert report["dropped"] == [{"partition": OLD_MONTH, "rows": 3}]
    assert (report["rows"], report["unlinked"], report["batches"]) == (3, 3, 0)
    assert set(links().values()) == {None}
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "receiver_conversionevent"')]
    assert len(updates) == 3


def test_the_human_output_names_the_month_dropped(convert):
    old_month()
    age(convert("c-old"))
    out = StringIO()

    call_command("prune", stdout=out)

    assert f"{TABLE}: dropped partition {OLD_MONTH} (1 rows)" in out.getvalue().splitlines()


def test_prune_makes_the_months_ahead(db):
    last = names()[-2]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {last}")

    assert prune()["created"] == [last]
    assert last in names()


@pytest.mark.django_db(transaction=True)
def test_a_month_whose_lock_is_busy_keeps_its_cleared_links_and_is_deleted_in_batches(convert, monkeypatch):
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    old_month()
    age(convert("c-old"))
    # Another session reading the old month, as a long report would: DETACH waits for it, the batches do not.
    with psycopg.connect(**connection.get_connection_params()) as reader:
        try:
            reader.execute(f"LOCK TABLE {OLD_MONTH} IN ACCESS SHARE MODE")

            report = prune()

            assert report["busy"] == [{"partition": OLD_MONTH, "wanted": "drop"}]
            assert (report["dropped"], report["rows"], report["unlinked"], report["batches"]) == ([], 1, 1, 1)
            assert not ReceivedPostback.objects.exists()
            assert links() == {"c-old": None}
        finally:
            reader.rollback()
    assert OLD_MONTH in names()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD_MONTH}")
