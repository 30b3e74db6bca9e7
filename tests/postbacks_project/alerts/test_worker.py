"""A worker's watch: the database or the broker unreachable opens one alert, and its clearing closes it, once each."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from postbacks_project.alerts.models import Alert
from postbacks_project.alerts.worker import BROKER_UNREACHABLE, DATABASE_UNREACHABLE, Watch

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(autouse=True)
def _alert_settings(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = ""


class Dependency:
    """What a probe answers, set by the test: up, or down with the error a real check gives."""

    def __init__(self):
        self.error = ""

    def __call__(self):
        return {"ok": False, "error": self.error} if self.error else {"ok": True}


@pytest.fixture
def database():
    return Dependency()


@pytest.fixture
def broker():
    return Dependency()


@pytest.fixture
def watch(database, broker):
    probes = {DATABASE_UNREACHABLE: ("the database", database), BROKER_UNREACHABLE: ("the broker", broker)}
    return Watch("w1@host", threshold=30, probes=probes)


def check_at(watch, *seconds):
    seen = []
    for second in seconds:
        seen += [(event, alert.kind) for event, alert in watch.check(NOW + timedelta(seconds=second))]
    return seen


def test_a_broker_down_longer_than_the_threshold_opens_once_and_closes_once(db, watch, broker):
    broker.error = "Error 111 connecting to 127.0.0.1:6379. Connection refused."

    assert check_at(watch, 0, 15) == []
    assert check_at(watch, 30, 45, 60) == [("opened", BROKER_UNREACHABLE)]
    alert = Alert.objects.get()
    assert (alert.key, alert.opened_at, alert.closed_at) == ("worker:w1@host", NOW, None)
    assert "worker:w1@host cannot reach the broker: Error 111" in alert.last_message

    broker.error = ""
    assert check_at(watch, 75, 90) == [("closed", BROKER_UNREACHABLE)]
    alert.refresh_from_db()
    assert alert.closed_at == NOW + timedelta(seconds=75)
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        f"[postback hub] broker unreachable from a worker: {alert.last_message}",
        "[postback hub] recovered: broker unreachable from a worker (worker:w1@host)",
    ]


def test_a_blip_shorter_than_the_threshold_sends_nothing(db, watch, database):
    database.error = "connection refused"
    assert check_at(watch, 0, 20) == []
    database.error = ""
    assert check_at(watch, 25) == []
    database.error = "connection refused"

    assert check_at(watch, 40, 60) == []
    assert mail.outbox == []


def test_with_the_database_down_the_email_goes_at_once_and_the_row_is_written_when_it_is_back(db, watch, database):
    database.error = 'connection to server at "127.0.0.1", port 5432 failed'

    assert check_at(watch, 0, 30, 45) == [("opened", DATABASE_UNREACHABLE)]
    assert len(mail.outbox) == 1
    # Nothing is written while the watch holds the database for down, though this test's database answers.
    assert not Alert.objects.exists()

    database.error = ""
    assert check_at(watch, 60, 75) == [("closed", DATABASE_UNREACHABLE)]

    alert = Alert.objects.get()
    assert (alert.kind, alert.opened_at, alert.closed_at) == (DATABASE_UNREACHABLE, NOW, NOW + timedelta(seconds=60))
    assert len(mail.outbox) == 2


def test_an_alert_its_previous_process_left_open_is_closed_when_the_next_one_opens(db, watch, broker):
    stale = Alert.objects.create(kind=BROKER_UNREACHABLE, key="worker:w1@host", opened_at=NOW, last_message="x")
    broker.error = "refused"

    check_at(watch, 100, 130)

    stale.refresh_from_db()
    assert stale.closed_at == NOW + timedelta(seconds=100)
    assert Alert.objects.filter(closed_at=None).get().opened_at == NOW + timedelta(seconds=100)


def test_the_worker_kinds_are_registered_with_their_labels():
    from postbacks_project.alerts import registry

    assert registry.label(DATABASE_UNREACHABLE) == "database unreachable from a worker"
    assert DATABASE_UNREACHABLE not in registry.conditions()
