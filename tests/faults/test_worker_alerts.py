"""A real worker that loses the database, or the broker, alerts once when it has been gone a while and once when back.

The worker reaches the database the way tests/faults/test_database_down.py cuts it (an SQLite folder link, or a
PostgreSQL proxy), and its broker is a private redis-server; its emails go to files the test reads.
"""

import time

import pytest

from postbacks_project.alerts.models import Alert
from postbacks_project.alerts.worker import BROKER_UNREACHABLE, DATABASE_UNREACHABLE
from tests.faults.test_database_down import database as database
from tests.support.mailbox import Mailbox
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECK_EVERY = 0.2
UNREACHABLE_SECONDS = 1.0
# Down for many checks past the threshold: a notice per check would show as many emails.
OUTAGE = UNREACHABLE_SECONDS + 20 * CHECK_EVERY


@pytest.fixture
def mailbox(tmp_path):
    return Mailbox(tmp_path / "mail")


def watching_worker(workers, mailbox, **env):
    return workers.start(
        ALERT_WORKER_CHECK_EVERY=CHECK_EVERY,
        ALERT_WORKER_UNREACHABLE_SECONDS=UNREACHABLE_SECONDS,
        ALERT_EMAILS="ops@example.com",
        **mailbox.env,
        **env,
    )


def test_the_database_gone_from_the_worker_is_one_email_when_it_starts_and_one_when_it_clears(
    workers, database, mailbox, wait_until
):
    watching_worker(workers, mailbox, DATABASE_URL=database.url, **database.env)

    database.down()
    wait_until(lambda: mailbox.subjects(), "the worker's email about the database")
    time.sleep(OUTAGE)
    database.up()
    wait_until(lambda: Alert.objects.filter(closed_at__isnull=False).exists(), "the alert recorded once it is back")
    time.sleep(10 * CHECK_EVERY)

    opened, recovered = mailbox.subjects()
    assert opened.startswith("[postback hub] database unreachable from a worker: worker:faults1-")
    assert recovered.startswith("[postback hub] recovered: database unreachable from a worker (worker:faults1-")
    alert = Alert.objects.get()
    assert alert.kind == DATABASE_UNREACHABLE
    assert (alert.closed_at - alert.opened_at).total_seconds() >= OUTAGE


def test_the_broker_gone_from_the_worker_is_one_email_when_it_starts_and_one_when_it_clears(
    workers, mailbox, tmp_path, wait_until
):
    redis = RedisServer(tmp_path / "redis.log").start()
    try:
        watching_worker(workers, mailbox, CELERY_BROKER_URL=redis.url)

        redis.stop()
        wait_until(lambda: Alert.objects.filter(closed_at=None).exists(), "the broker alert opened")
        time.sleep(OUTAGE)
        redis.start()
        wait_until(lambda: Alert.objects.filter(closed_at__isnull=False).exists(), "the broker alert closed")
        time.sleep(10 * CHECK_EVERY)
    finally:
        redis.stop()

    opened, recovered = mailbox.subjects()
    assert opened.startswith("[postback hub] broker unreachable from a worker: worker:faults1-")
    assert recovered.startswith("[postback hub] recovered: broker unreachable from a worker")
    assert Alert.objects.get().kind == BROKER_UNREACHABLE
