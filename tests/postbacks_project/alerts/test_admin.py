"""The admin's alerts list: open and past alerts, filtered by state and kind, read-only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.alerts import BACKLOG, PARTNER_FAILING
from postbacks_project.alerts.models import Alert

NOW = timezone.now().replace(microsecond=0)
LIST = reverse("admin:alerts_alert_changelist")


@pytest.fixture
def alerts(db):
    """One alert still open and one that cleared."""
    past = Alert.objects.create(
        kind=PARTNER_FAILING,
        key="partner:1",
        opened_at=NOW - timedelta(hours=2),
        closed_at=NOW - timedelta(hours=1),
        last_message="partner Pub: 9 of 10 attempts failed in the last 10 min",
    )
    current = Alert.objects.create(kind=BACKLOG, key="partner:2", opened_at=NOW, last_message="3 deliveries waiting")
    return current, past


def listed(admin_client, **query):
    answer = admin_client.get(LIST, query)
    assert answer.status_code == 200
    return list(answer.context["cl"].result_list)


def test_the_list_shows_open_and_past_alerts_newest_first(admin_client, alerts):
    page = admin_client.get(LIST).content.decode()

    assert listed(admin_client) == list(alerts)
    assert "partner failing" in page  # the kind's label, not its code
    assert "partner Pub: 9 of 10 attempts failed in the last 10 min" in page


def test_the_state_and_kind_filters_split_them(admin_client, alerts):
    current, past = alerts

    assert listed(admin_client, state="open") == [current]
    assert listed(admin_client, state="closed") == [past]
    assert listed(admin_client, kind=PARTNER_FAILING) == [past]


def test_alerts_are_a_record_no_one_adds_changes_or_deletes(admin_client, alerts):
    current, _ = alerts
    change = reverse("admin:alerts_alert_change", args=[current.pk])
    delete = reverse("admin:alerts_alert_delete", args=[current.pk])

    assert admin_client.get(reverse("admin:alerts_alert_add")).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    admin_client.post(change, {"last_message": "edited"})

    assert Alert.objects.count() == 2
    current.refresh_from_db()
    assert (current.last_message, current.closed_at) == ("3 deliveries waiting", None)
