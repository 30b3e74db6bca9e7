"""Retention: manage.py prune and the daily task delete old rows of each kind in batches, never the money record."""

import json
import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners.models import Delivery, DeliveryAttempt, Partner
from postbacks_project import retention
from receiver.models import (
    Click,
    Conversion,
    ConversionEvent,
    NetworkClick,
    PointsEntry,
    ReceivedPostback,
    Source,
    Status,
)
from receiver.tasks import prune as prune_task
from testing_tools.models import TestPostback

URL = "https://wall.example/pb"
OLD = timezone.now() - timedelta(days=400)


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Wall", postback_url=URL + "?click={click_id}")


@pytest.fixture
def convert(client, network, partner, settings, django_capture_on_commit_callbacks):
    """A postback through the receiver, its delivery sent in-process (the partner answers 500 once, then gives up)."""
    settings.DELIVERY_RETRY_SCHEDULE = [0]

    def send(click_id, **params):
        with responses.RequestsMock() as mock, django_capture_on_commit_callbacks(execute=True):
            mock.get(URL, status=500)
            answer = client.get(f"/postback/{network.key}/", {"click_id": click_id, "payout": "2.00", **params})
        assert answer.json()["success"], answer.content
        return Conversion.objects.get(click_id=click_id)

    return send


def age(conversion):
    """Make everything a conversion left behind old: its requests, events, deliveries, attempts, points."""
    ReceivedPostback.objects.filter(conversion=conversion).update(received_at=OLD)
    ConversionEvent.objects.filter(conversion=conversion).update(created_at=OLD)
    Delivery.objects.filter(event__conversion=conversion).update(created_at=OLD)
    DeliveryAttempt.objects.filter(delivery__event__conversion=conversion).update(created_at=OLD)
    PointsEntry.objects.filter(conversion=conversion).update(created_at=OLD)
    Conversion.objects.filter(pk=conversion.pk).update(created_at=OLD)


def prune(*args):
    out = StringIO()
    call_command("prune", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def by_table(report):
    return {row["table"]: row for row in report["tables"]}


def money_rows():
    """Every row of the money record, as it stands."""
    return {
        "conversions": list(Conversion.objects.order_by("pk").values()),
        "events": list(ConversionEvent.objects.order_by("pk").values("pk", "conversion_id", "kind", "payout")),
        "points": list(PointsEntry.objects.order_by("pk").values()),
        "deliveries": list(Delivery.objects.order_by("pk").values()),
    }


def test_by_default_requests_and_attempts_are_kept_90_days_test_postbacks_30_and_clicks_180():
    kept = {table.setting: getattr(django_settings, table.setting) for table in retention.TABLES}

    assert kept == {
        "RETAIN_RECEIVED_DAYS": 90,
        "RETAIN_ATTEMPTS_DAYS": 90,
        "RETAIN_TEST_POSTBACKS_DAYS": 30,
        "RETAIN_CLICKS_DAYS": 180,
    }
    # The money record has no retention at all: no setting could prune it.
    money = {"receiver.Conversion", "receiver.ConversionEvent", "receiver.PointsEntry", "partners.Delivery"}
    assert not money & {table.model for table in retention.TABLES}


def test_old_requests_and_attempts_are_deleted_and_recent_ones_kept(convert, offer):
    old = convert("c-old", user_id="alice")
    age(old)
    recent = convert("c-new", user_id="bob")

    tables = by_table(prune())

    assert tables["receiver_receivedpostback"]["rows"] == 1
    assert tables["partners_deliveryattempt"]["rows"] == 1
    assert list(ReceivedPostback.objects.values_list("conversion", flat=True)) == [recent.pk]
    assert list(DeliveryAttempt.objects.values_list("delivery__event__conversion", flat=True)) == [recent.pk]


def test_money_rows_are_never_deleted_and_a_pruned_request_leaves_its_event_unlinked(convert):
    conversion = convert("c-old", user_id="alice")
    age(conversion)
    before = money_rows()
    assert before["points"]
    assert before["deliveries"]

    report = by_table(prune())

    assert report["receiver_receivedpostback"]["unlinked"] == 1
    assert money_rows() == before
    event = ConversionEvent.objects.get(conversion=conversion)
    assert event.postback_id is None


def test_a_pruned_attempt_leaves_the_delivery_summary(convert):
    age(convert("c-old"))
    delivery = Delivery.objects.get()
    summary = (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error)
    assert summary[1:3] == (1, 500)

    prune()

    delivery.refresh_from_db()
    assert not DeliveryAttempt.objects.exists()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == summary


def test_the_trace_admin_and_api_show_a_conversion_whose_request_and_attempts_are_pruned(
    convert, admin_client, token_client
):
    conversion = convert("c-old")
    age(conversion)
    prune()

    page = admin_client.get(reverse("admin:receiver_conversion_change", args=[conversion.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Events without a stored request" in text
    assert "1 attempt, the last answered 500" in text
    event_page = admin_client.get(reverse("admin:receiver_conversionevent_change", args=[conversion.events.get().pk]))
    assert event_page.status_code == 200

    answer = token_client.get(f"/api/v1/conversions/{conversion.pk}")
    assert answer.status_code == 200
    assert answer.json()["events"][0]["postback"] is None
    delivery = token_client.get(f"/api/v1/deliveries/{Delivery.objects.get().pk}")
    assert delivery.status_code == 200
    assert (delivery.json()["attempts"], delivery.json()["attempt_log"]) == (1, [])


def test_a_click_with_a_conversion_is_kept_and_one_without_is_deleted(convert, offer, network):
    used = Click.objects.create(offer=offer, user_id="alice")
    unused = Click.objects.create(offer=offer)
    recent = Click.objects.create(offer=offer)
    convert(used.click_id)
    Click.objects.filter(pk__in=[used.pk, unused.pk]).update(created_at=OLD)
    claimed = NetworkClick.objects.create(network=network, offer=offer, click_id="n-claimed", created_at=OLD)
    Conversion.objects.create(
        network=network, network_click=claimed, source=Source.CLAIM, click_id="n-claimed", status=Status.APPROVED
    )
    lone = NetworkClick.objects.create(network=network, offer=offer, click_id="n-lone", created_at=OLD)

    tables = by_table(prune())

    assert (tables["receiver_click"]["rows"], tables["receiver_networkclick"]["rows"]) == (1, 1)
    assert set(Click.objects.values_list("pk", flat=True)) == {used.pk, recent.pk}
    assert list(NetworkClick.objects.values_list("pk", flat=True)) == [claimed.pk]
    assert not NetworkClick.objects.filter(pk=lone.pk).exists()
    assert Conversion.objects.get(click_id=used.click_id).known_click_id == used.pk


def test_old_test_postbacks_are_deleted_unless_still_due(partner):
    def row(created_at, scheduled_for):
        return TestPostback.objects.create(
            batch=uuid.uuid4(),
            position=1,
            partner=partner,
            username="u",
            offer_name="o",
            scheduled_for=scheduled_for,
            created_at=created_at,
            url=URL,
            method="GET",
        )

    now = timezone.now()
    old = row(now - timedelta(days=31), now - timedelta(days=31))
    due_later = row(now - timedelta(days=31), now + timedelta(days=1))
    recent = row(now, now)

    assert by_table(prune())["testing_tools_testpostback"]["rows"] == 1
    assert set(TestPostback.objects.values_list("pk", flat=True)) == {due_later.pk, recent.pk}
    assert not TestPostback.objects.filter(pk=old.pk).exists()


def test_a_dry_run_deletes_nothing_and_reports_the_counts(convert, offer):
    age(convert("c-old"))
    Click.objects.create(offer=offer, created_at=OLD)

    report = prune("--dry-run")

    assert report["dry_run"] is True
    tables = by_table(report)
    assert tables["receiver_receivedpostback"]["rows"] == 1
    assert tables["receiver_receivedpostback"]["unlinked"] == 1
    assert tables["partners_deliveryattempt"]["rows"] == 1
    assert tables["receiver_click"]["rows"] == 1
    assert report["rows"] == 3
    assert ReceivedPostback.objects.count() == DeliveryAttempt.objects.count() == Click.objects.count() == 1
    assert ConversionEvent.objects.filter(postback__isnull=False).count() == 1


def test_a_disabled_kind_is_left_alone(convert, settings):
    settings.RETAIN_RECEIVED_DAYS = 0
    age(convert("c-old"))

    tables = by_table(prune())

    assert tables["receiver_receivedpostback"] | {"seconds": 0} == {
        "table": "receiver_receivedpostback",
        "setting": "RETAIN_RECEIVED_DAYS",
        "days": 0,
        "older_than": None,
        "rows": 0,
        "unlinked": 0,
        "batches": 0,
        "seconds": 0,
        "created": [],
        "dropped": [],
        "busy": [],
    }
    assert ReceivedPostback.objects.count() == 1
    assert tables["partners_deliveryattempt"]["rows"] == 1


def test_the_json_document_has_one_row_per_table(db):
    report = prune()

    assert set(report) == {"dry_run", "rows", "seconds", "tables"}
    assert [row["table"] for row in report["tables"]] == [
        "receiver_receivedpostback",
        "partners_deliveryattempt",
        "testing_tools_testpostback",
        "receiver_click",
        "receiver_networkclick",
    ]
    for row in report["tables"]:
        assert set(row) == {
            "table",
            "setting",
            "days",
            "older_than",
            "rows",
            "unlinked",
            "batches",
            "seconds",
            "created",
            "dropped",
            "busy",
        }
        assert row["days"] == getattr(django_settings, row["setting"])


def test_the_human_output_says_what_it_deleted_per_table(convert):
    age(convert("c-old"))
    out = StringIO()
    call_command("prune", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["table", "setting", "days", "older_than", "rows", "unlinked", "batches", "seconds"]
    received = lines[1].split()
    assert received[:3] == ["receiver_receivedpostback", "RETAIN_RECEIVED_DAYS", "90"]
    assert received[5:8] == ["1", "1", "1"]  # rows, unlinked (its event), batches
    assert lines[-1].startswith("deleted 2 rows in ")


def test_batches_bound_each_transaction(offer, settings):
    settings.PRUNE_BATCH_SIZE = 2
    Click.objects.bulk_create([Click(offer=offer, created_at=OLD) for _ in range(5)])

    with CaptureQueriesContext(connection) as queries:
        tables = by_table(prune())

    assert tables["receiver_click"]["batches"] == 3
    assert not Click.objects.exists()
    statements = [q["sql"] for q in queries]
    deletes = [i for i, sql in enumerate(statements) if sql.startswith('DELETE FROM "receiver_click"')]
    assert len(deletes) == 3
    assert [len(re.search(r'"id" IN \(([^)]*)\)', statements[i]).group(1).split(",")) for i in deletes] == [2, 2, 1]
    # Each DELETE in a transaction of its own (a savepoint here: the test itself runs in a transaction).
    for i in deletes:
        assert statements[i - 1].startswith("SAVEPOINT")
        assert statements[i + 1].startswith("RELEASE SAVEPOINT")


def test_the_daily_task_prunes(convert):
    age(convert("c-old"))
    prune_task.delay()
    assert not ReceivedPostback.objects.exists()


def test_beat_runs_the_prune_daily():
    entry = next(e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "receiver.tasks.prune")
    schedule = entry["schedule"]
    assert (schedule.hour, schedule.minute) == ({3}, {30})
    assert schedule.day_of_week == set(range(7))


def test_a_model_pointing_at_a_pruned_table_unhandled_stops_the_prune(monkeypatch):
    table = retention.TABLES[0]
    monkeypatch.setattr(retention, "TABLES", (retention.Table(table.setting, table.model, table.date_field),))
    with pytest.raises(ImproperlyConfigured, match=r"receiver\.ConversionEvent\.postback points at"):
        retention.prune()


def test_a_table_pruned_by_month_may_have_only_unconstrained_links_that_it_clears():
    table = retention.TABLES[0]
    assert table.by_month
    assert table.unlink == (("receiver.ConversionEvent", "postback"),)
    assert not ConversionEvent._meta.get_field("postback").db_constraint

    retention.check_relations(table)


def test_a_table_pruned_by_month_refuses_a_link_the_database_enforces(monkeypatch):
    monkeypatch.setattr(ConversionEvent._meta.get_field("postback"), "db_constraint", True)
    with pytest.raises(ImproperlyConfigured, match=r"receiver\.ConversionEvent\.postback points at .*db_constraint"):
        retention.prune()


def test_a_table_pruned_by_month_refuses_a_reference_that_keeps_rows_alive(monkeypatch):
    clicks = next(table for table in retention.TABLES if table.model == "receiver.Click")
    by_month = retention.Table(clicks.setting, clicks.model, clicks.date_field, kept_by=clicks.kept_by, by_month=True)
    monkeypatch.setattr(retention, "TABLES", (by_month,))
    with pytest.raises(ImproperlyConfigured, match=r"receiver\.Conversion\.known_click points at .*not by_month"):
        retention.prune()


@pytest.mark.parametrize(("raw", "days"), [("", 0), ("0", 0), ("7", 7)])
def test_retention_days_read_from_the_environment(monkeypatch, raw, days):
    from postbacks_project.settings import _days

    monkeypatch.setenv("RETAIN_CLICKS_DAYS", raw)
    assert _days("RETAIN_CLICKS_DAYS", 180) == days


def test_a_bad_retention_value_is_an_error(monkeypatch):
    from postbacks_project.settings import _days

    monkeypatch.setenv("RETAIN_CLICKS_DAYS", "ninety")
    with pytest.raises(ImproperlyConfigured, match="RETAIN_CLICKS_DAYS must be a whole number"):
        _days("RETAIN_CLICKS_DAYS", 180)
