"""Retention on PostgreSQL's monthly attempts: prune drops whole old months, makes the months ahead, reports both."""

from datetime import timedelta
from io import StringIO

import psycopg
import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from partners.models import Delivery, DeliveryAttempt, Partner
from postbacks_project import partitions
from receiver.models import Conversion
from tests.postbacks_project import month_partitions

pytestmark = pytest.mark.postgres

TABLE = "partners_deliveryattempt"
URL = "https://wall.example/pb"
OLD = timezone.now() - timedelta(days=400)
OLD_MONTH = f"{TABLE}_p{OLD:%Y_%m}"


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", postback_url=URL + "?click={click_id}")


@pytest.fixture
def convert(client, network, partner, settings, django_capture_on_commit_callbacks):
    """A postback through the receiver, its delivery sent in-process (the partner answers 500 once, then gives up)."""
    settings.DELIVERY_RETRY_SCHEDULE = [0]

    def send(click_id):
        with responses.RequestsMock() as mock, django_capture_on_commit_callbacks(execute=True):
            mock.get(URL, status=500)
            answer = client.get(f"/postback/{network.key}/", {"click_id": click_id, "payout": "2.00"})
        assert answer.json()["success"], answer.content
        return Conversion.objects.get(click_id=click_id)

    return send


def old_month():
    return month_partitions.make_month(TABLE, "created_at", OLD)


def age(conversion, when=OLD):
    DeliveryAttempt.objects.filter(delivery__event__conversion=conversion).update(created_at=when)
    month_partitions.check_constraints_now()


def prune(*args):
    return month_partitions.prune(TABLE, *args)


def names():
    return month_partitions.names(TABLE)


def test_prune_drops_a_month_older_than_the_retention_then_deletes_the_rest_in_batches(convert, settings):
    settings.RETAIN_ATTEMPTS_DAYS = 90
    old_month()
    age(convert("c-old"))
    # Older than the retention, in no month's partition: the DEFAULT one, which is pruned by batches.
    age(convert("c-default"), timezone.now() - timedelta(days=200))
    recent = convert("c-new")

    report = prune()

    assert report["dropped"] == [{"partition": OLD_MONTH, "rows": 1}]
    assert (report["rows"], report["batches"], report["busy"]) == (2, 1, [])
    assert OLD_MONTH not in names()
    assert list(DeliveryAttempt.objects.values_list("delivery__event__conversion", flat=True)) == [recent.pk]


def test_a_dropped_month_leaves_the_delivery_summary(convert):
    old_month()
    age(convert("c-old"))
    delivery = Delivery.objects.get()
    summary = (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error)
    assert summary[1:3] == (1, 500)

    assert prune()["dropped"] == [{"partition": OLD_MONTH, "rows": 1}]

    delivery.refresh_from_db()
    assert not DeliveryAttempt.objects.exists()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == summary


def test_a_dry_run_drops_nothing_and_says_what_it_would(convert):
    old_month()
    age(convert("c-old"))

    report = prune("--dry-run")

    assert report["dropped"] == [{"partition": OLD_MONTH, "rows": 1}]
    assert (report["rows"], report["batches"]) == (1, 0)
    assert OLD_MONTH in names()
    assert DeliveryAttempt.objects.count() == 1


def test_prune_makes_the_months_ahead_once(db):
    last = names()[-2]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {last}")

    assert prune("--dry-run")["created"] == [last]
    assert last not in names()
    assert prune()["created"] == [last]
    assert last in names()
    assert prune()["created"] == []


def test_the_human_output_names_the_partitions_dropped_and_made(convert):
    old_month()
    age(convert("c-old"))
    last = names()[-2]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {last}")
    out = StringIO()

    call_command("prune", stdout=out)

    lines = out.getvalue().splitlines()
    assert f"{TABLE}: dropped partition {OLD_MONTH} (1 rows)" in lines
    assert f"{TABLE}: created partition {last}" in lines


@pytest.mark.django_db(transaction=True)
def test_a_month_whose_lock_is_busy_is_deleted_in_batches_instead(convert, monkeypatch):
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    old_month()
    age(convert("c-old"))
    # Another session reading the old month, as a long report would: DETACH waits for it, the batches do not.
    with psycopg.connect(**connection.get_connection_params()) as reader:
        try:
            reader.execute(f"LOCK TABLE {OLD_MONTH} IN ACCESS SHARE MODE")

            report = prune()

            assert report["busy"] == [{"partition": OLD_MONTH, "wanted": "drop"}]
            assert (report["dropped"], report["rows"], report["batches"]) == ([], 1, 1)
            assert not DeliveryAttempt.objects.exists()
        finally:
            reader.rollback()
    assert OLD_MONTH in names()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD_MONTH}")
